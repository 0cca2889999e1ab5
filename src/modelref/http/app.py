"""The FastAPI application: ``create_app(settings)``. The lifespan owns the store and the catalog."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from modelref.client.sources import read_source
from modelref.domain.bundle import read_bundle
from modelref.domain.categories import Category
from modelref.domain.deployment import CanonicalFormat, ReplicateMode
from modelref.errors import ModelRefError
from modelref.http import errors, meta, search, stats, v1, v2, writes
from modelref.http import review as review_routes
from modelref.http.fastpath import FastPath, HeadAsGet, RootPath
from modelref.services.apply import Applier
from modelref.services.auth import Auth
from modelref.services.breaker import CircuitBreaker
from modelref.services.catalog import store_catalog
from modelref.services.horde import HordeClient
from modelref.services.importer import import_bundle
from modelref.services.reads import Reads
from modelref.services.review import Review
from modelref.settings import Settings
from modelref.storage.store import Store

log = logging.getLogger("modelref")

TITLE = "Horde Model Reference API"
MAX_BODY_BYTES = 1024 * 1024
"""A model record is a few kilobytes; anything over a mebibyte is refused with 413."""
SERVERS = [
    {"url": "/api"},
    {"url": "https://models.aihorde.net/api"},
    {"url": "http://localhost:19800/api"},
]


def _seed(store: Store, settings: Settings) -> None:
    """Import the seed source into an empty database (another process may be doing the same: the
    import transaction is serialized and a second one finds everything unchanged)."""
    log.info("database is empty: importing seed data from %s", settings.seed_source)
    try:
        bundle = read_bundle(read_source(settings.seed_source, settings.github))
    except ModelRefError as error:
        raise RuntimeError(
            f"cannot seed the empty database from {settings.seed_source!r}: {error.detail}. "
            "Set HORDE_MODEL_REFERENCE_SEED_SOURCE to a folder of reference files "
            "(e.g. ../shared/reference-data), a URL of one, or 'github'."
        ) from None
    report = import_bundle(store, bundle)
    log.info("seeded %d records (%d warnings)", sum(r.total for r in report.categories), len(report.warnings))


def _start(app: FastAPI, settings: Settings) -> None:
    if settings.replicate_mode is not ReplicateMode.PRIMARY:
        raise RuntimeError("REPLICA mode is not available yet: run as PRIMARY (HORDE_MODEL_REFERENCE_REPLICATE_MODE)")
    store = Store(settings.database)
    store.migrate()
    if store.is_empty():
        _seed(store, settings)
    catalog = store_catalog(store)
    catalog.refresh()
    # What exists now lives as long as the process: keep the collector from walking it again and again.
    gc.collect()
    gc.freeze()
    catalog.start()
    app.state.store = store
    app.state.catalog = catalog
    app.state.reads = Reads(catalog)
    horde = HordeClient(settings.ai_horde_url, app.state.horde_breaker, timeout=settings.ai_horde_timeout)
    app.state.horde = horde
    app.state.auth = Auth(horde, settings.pending_queue.requestor_ids, settings.pending_queue.approver_ids)
    review = Review(store, settings.deployment, store.get)
    app.state.review = review

    def refresh(categories: set[Category]) -> None:
        for category in categories:
            catalog.refresh(category)

    app.state.applier = Applier(store, review, refresh)
    counts = ", ".join(f"{c.value} {len(s.hits)}" for c, s in catalog.snapshots.items() if s.hits)
    log.info(
        "modelref ready: mode %s, canonical format %s, database %s, seed source %s",
        settings.replicate_mode.value,
        settings.canonical_format.value,
        store.describe(),
        settings.seed_source,
    )
    log.info("records: %s", counts or "none")
    if not settings.pending_queue.approver_ids:
        log.warning(
            "no approvers (HORDE_MODEL_REFERENCE_PENDING_QUEUE__APPROVER_IDS): changes can be proposed "
            "but nobody can review or apply them"
        )
    if not settings.pending_queue.requestor_ids and not settings.pending_queue.approver_ids:
        log.warning("no requestors or approvers: every write is refused (401) until the allowlists are set")
    if not settings.cors_allowed_origins:
        log.warning(
            "no CORS origins allowed (HORDE_MODEL_REFERENCE_CORS_ALLOWED_ORIGINS): "
            "browsers on other sites cannot call the API"
        )


def _stop(app: FastAPI) -> None:
    horde = getattr(app.state, "horde", None)
    if horde is not None:
        horde.close()
    catalog = getattr(app.state, "catalog", None)
    if catalog is not None:
        catalog.stop()
    store = getattr(app.state, "store", None)
    if store is not None:
        store.close()


def create_app(settings: Settings) -> FastAPI:
    """Build the service for *settings*; the store opens (and seeds) when the app starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(_start, app, settings)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(_stop, app)

    app = FastAPIOffline(
        title=TITLE,
        version="2.0.0",
        description="The AI-Horde model reference: download URLs, checksums, baselines and capabilities of models.",
        root_path_in_servers=False,
        # No OpenTelemetry: its per-request "is a provider configured?" probe costs more than a read.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        servers=SERVERS,
        lifespan=lifespan,
        max_body_size=MAX_BODY_BYTES,
        # One schema per record type, read or written (clients generate one class per category).
        separate_input_output_schemas=False,
    )
    app.state.deployment = settings.deployment
    app.state.horde_breaker = CircuitBreaker()
    errors.install(app)

    app.include_router(search.router)
    for version in CanonicalFormat:
        app.include_router(review_routes.queue_router(version))
    app.include_router(review_routes.roles_router())
    app.include_router(v2.build_router())
    app.include_router(writes.v2_router())
    app.include_router(stats.router)
    app.include_router(meta.metadata_router(CanonicalFormat.V2))
    app.include_router(meta.metadata_router(CanonicalFormat.LEGACY))
    app.include_router(v1.router)
    app.include_router(writes.v1_router())
    app.include_router(meta.service)

    app.add_middleware(HeadAsGet)
    app.add_middleware(RootPath)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_allowed_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["ETag", "X-Error-Code"],
    )
    app.add_middleware(FastPath)  # added last, so it runs first
    return app


def app_from_environment() -> FastAPI:
    """The app for ``uvicorn --factory`` (each worker process reads the environment once)."""
    return create_app(Settings())
