"""The service: ``create_app(settings)`` returns the ASGI app (the read fast path in front of FastAPI).

The lifespan opens the store (seeding an empty one), builds the catalog and the services, and puts them
on ``app.state.services``; it closes them on shutdown.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from starlette.types import Receive, Scope, Send

from modelref.client.cache import DiskCache
from modelref.client.mirror import Mirror
from modelref.client.replica import Replica
from modelref.client.sources import seed_reader
from modelref.domain.formats import Format
from modelref.http import errors, meta, openapi, search, site, stats, text, v1, v2, writes
from modelref.http import review as review_routes
from modelref.http.deps import Services, services_of
from modelref.http.encoding import Blob, encode
from modelref.http.fastpath import ModelRefApp
from modelref.services.apply import Applier
from modelref.services.auth import Auth
from modelref.services.breaker import CircuitBreaker
from modelref.services.catalog import Catalog
from modelref.services.history import History
from modelref.services.horde import HordeClient
from modelref.services.live import Live
from modelref.services.proposals import Proposals
from modelref.services.reads import Reads
from modelref.services.review import Review
from modelref.services.sessions import Sessions
from modelref.services.startup import prepare_store
from modelref.services.textmeta import Aliases, Families, Schemas, StoredStructure, StructureSource
from modelref.services.textutils import TextTools
from modelref.services.usage import LiveUsage
from modelref.settings import Settings
from modelref.storage.store import Store
from modelref.web.site import Site

log = logging.getLogger("modelref")

TITLE = "Horde Model Reference API"
MAX_BODY_BYTES = 1024 * 1024
"""A model record is a few kilobytes; anything over a mebibyte is refused with 413."""
SERVERS = [
    {"url": "/api"},
    {"url": "https://models.aihorde.net/api"},
    {"url": "http://localhost:19800/api"},
]


def open_replica(settings: Settings) -> Replica:
    """A REPLICA's source: its PRIMARY and fallbacks, its copy on disk, its poll interval."""
    return Replica(
        Mirror(settings.origins, DiskCache(settings.replica_cache, settings.origins.name)), settings.cache_ttl_seconds
    )


def _open_source(settings: Settings) -> tuple[Catalog[Blob], Store | None, Replica | None]:
    """The catalog over the PRIMARY's database, or over a REPLICA's sources (no database)."""
    if not settings.deployment.writable:
        replica = open_replica(settings)
        try:
            replica.start(wait=settings.startup_wait)
            catalog = Catalog(replica, encode)
            catalog.refresh()
        except BaseException:
            replica.close()
            raise
        return catalog, None, replica
    store = Store(settings.database)
    try:
        prepare_store(store, settings.seed_source, seed_reader(settings.seed_source, settings.github))
        catalog = Catalog(store, encode)
        catalog.refresh()
    except BaseException:
        store.close()
        raise
    return catalog, store, None


def _structure_source(store: Store | None, replica: Replica | None) -> StructureSource:
    """Where the text groups' aliases, families and naming schemas are read: the PRIMARY's database, or the
    copy a REPLICA received from its PRIMARY."""
    if store is not None:
        return StoredStructure(store)
    assert replica is not None  # a deployment without a database is a REPLICA
    return replica


def _start(settings: Settings, freeze: bool) -> Services:
    catalog, store, replica = _open_source(settings)
    if freeze:
        # What exists now lives as long as the process: keep the collector from walking it again and again.
        gc.collect()
        gc.freeze()
    catalog.start()
    deployment = settings.deployment
    breaker = CircuitBreaker()
    horde = HordeClient(
        settings.ai_horde_url, breaker, timeout=settings.ai_horde_timeout, client_agent=settings.ai_horde_client_agent
    )
    usage = LiveUsage(
        horde,
        breaker,
        ttl=settings.ai_horde_cache_ttl,
        max_age=settings.ai_horde_max_age,
        wait=settings.ai_horde_wait,
        attempts=settings.ai_horde_attempts,
        backoff=settings.ai_horde_backoff,
    )
    reads = Reads(catalog, deployment)
    structure = _structure_source(store, replica)
    queue = settings.pending_queue
    auth = Auth(horde, queue.requestor_ids, queue.approver_ids)
    proposals = Proposals(store, deployment, max_pending=queue.max_pending_per_requestor)
    review = Review(store, deployment)
    history = History(store, deployment)
    applier = Applier(store, deployment, catalog.refresh, hold=catalog.deferred)
    live = Live(reads, usage, settings.deletion_risk)
    text_tools = TextTools(reads, structure)
    sessions = Sessions(store, auth)
    log.debug("catalog ready: %s", ", ".join(f"{c.value} {len(s.hits)}" for c, s in catalog.snapshots.items()))
    return Services(
        deployment=deployment,
        catalog=catalog,
        reads=reads,
        proposals=proposals,
        review=review,
        history=history,
        applier=applier,
        auth=auth,
        breaker=breaker,
        live=live,
        text=text_tools,
        aliases=Aliases(store, deployment, structure, groups=text_tools.members_by_group),
        families=Families(store, deployment, structure),
        schemas=Schemas(store, deployment, structure),
        site=Site(
            reads=reads,
            live=live,
            text=text_tools,
            history=history,
            review=review,
            proposals=proposals,
            applier=applier,
            auth=auth,
            sessions=sessions,
            replica=None if replica is None else replica.status,
            status_of=errors.status_of,
        ),
        replica=replica,
    )


def _stop(services: Services | None) -> None:
    if services is None:
        return
    services.live.usage.close()
    services.auth.horde.close()
    services.catalog.stop()
    source = services.catalog.source
    if isinstance(source, Store | Replica):
        source.close()


def create_app(settings: Settings, *, fast_path: bool = True, freeze: bool = False) -> ModelRefApp:
    """Build the service for *settings*; the store opens (and seeds) when the app starts.

    *fast_path* False serves every read through the FastAPI routes (tests compare the two). *freeze* moves
    what exists after start-up out of the garbage collector's sight, for a process that runs one app.
    """

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        api.state.services = await anyio.to_thread.run_sync(_start, settings, freeze)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(_stop, services_of(api.state))

    api = FastAPIOffline(
        title=TITLE,
        version="2.0.0",
        description="The AI-Horde model reference: download URLs, checksums, baselines and capabilities of models.",
        root_path_in_servers=False,
        # No OpenTelemetry: its per-request "is a provider configured?" probe costs more than a read.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        lifespan=lifespan,
        max_body_size=MAX_BODY_BYTES,
        # One schema per record type, read or written (clients generate one class per category).
        separate_input_output_schemas=False,
    )
    errors.install(api)
    site.install(api)  # after the API's handlers: errors on the UI's paths are pages
    openapi.install(api, SERVERS)
    api.include_router(text.router)
    api.include_router(text.writes)
    api.include_router(search.router)
    for api_format in Format:
        api.include_router(review_routes.queue_router(api_format))
    api.include_router(review_routes.roles_router())
    api.include_router(v2.beta)
    api.include_router(v2.router)
    api.include_router(writes.v2_router())
    api.include_router(stats.router)
    api.include_router(meta.metadata_router(Format.V2))
    api.include_router(meta.metadata_router(Format.LEGACY))
    api.include_router(v1.router)
    api.include_router(writes.v1_router())
    api.include_router(meta.service)
    api.include_router(site.router)
    api.mount("/static", site.static_files(), name="static")
    api.add_middleware(
        ApiOnlyCORS,
        allow_origins=settings.cors_allowed_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["ETag", "X-Error-Code", "Retry-After"],
    )
    return ModelRefApp(api, fast_path=fast_path)


class ApiOnlyCORS(CORSMiddleware):
    """CORS for the API only: the UI's pages (and their CSRF tokens) are never readable from another origin."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and site.is_ui(scope):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def app_from_environment() -> ModelRefApp:
    """The app for ``uvicorn --factory`` (each worker process reads the environment once)."""
    return create_app(Settings(), freeze=True)
