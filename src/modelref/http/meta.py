"""Service endpoints (API.md §2) and the metadata routes of both versions (§6, §12)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from modelref.domain.categories import Category
from modelref.domain.formats import Format
from modelref.domain.info import (
    AIHordeStatus,
    BackendInfo,
    CategoryLastUpdatedResponse,
    CategoryMetadata,
    ContainsMessage,
    HeartbeatResponse,
    LastUpdatedResponse,
)
from modelref.http import passthrough, site
from modelref.http.deps import DeploymentDep, ReadsDep, ServicesDep, services_of
from modelref.http.passthrough import respond
from modelref.http.routing import api_router
from modelref.http.schemas import errors

service = api_router("", ["default"])


@service.get("/", operation_id="read_root__get", response_model=ContainsMessage)
async def root(request: Request, response: Response, services: ServicesDep) -> ContainsMessage | Response:
    """A welcome message; a browser (``Accept: text/html``, not through ``/api``) gets the web UI's start page."""
    if site.wants_html(request):
        page = await site.home(request, services)
        page.headers["Vary"] = "Accept"
        return page
    response.headers["Vary"] = "Accept"
    return ContainsMessage(
        message="Welcome to the Horde Model Reference API. See `/api/docs` for interactive documentation."
    )


@service.get("/heartbeat", operation_id="heartbeat_heartbeat_get", response_model_exclude_unset=True)
async def heartbeat(request: Request) -> HeartbeatResponse:
    """Service health and the state of the AI-Horde connection (the circuit breaker and the age of the usage
    data); on a REPLICA also the source in use, the
    age of its data and the last error (``replica``). Never fails (not even while starting)."""
    services = services_of(request.app.state)
    if services is None:
        ai_horde = AIHordeStatus(degraded=False, consecutive_failures=0, seconds_until_retry=None)
    else:
        state = services.breaker.state()
        ai_horde = AIHordeStatus(
            degraded=state.degraded,
            consecutive_failures=state.consecutive_failures,
            seconds_until_retry=state.seconds_until_retry,
            usage=services.live.usage.status(),
        )
    if services is not None and services.replica is not None:
        return HeartbeatResponse(status="ok", ai_horde=ai_horde, replica=services.replica.status())
    return HeartbeatResponse(status="ok", ai_horde=ai_horde)


@service.get("/replicate_mode", operation_id="replicate_mode_replicate_mode_get")
async def replicate_mode(deployment: DeploymentDep) -> BackendInfo:
    """What this deployment is: mode, the API version that accepts writes, whether it is writable."""
    return BackendInfo.of(deployment)


def metadata_router(api: Format) -> APIRouter:
    """The four metadata routes of one API version (served only under the canonical format's, decision 6)."""
    ids = "v2" if api is Format.V2 else "legacy"
    router = api_router(
        f"/model_references/{api.api_prefix}/metadata", [api.api_prefix, "metadata"], responses=errors(503)
    )

    @router.get("/last_updated", operation_id=f"read_{ids}_last_updated", response_model=LastUpdatedResponse)
    async def last_updated(request: Request, reads: ReadsDep) -> Response:
        """The latest change over all categories. REPLICAs poll this: its ETag is the tag of every
        category's content, so a poll with the tag of what a REPLICA holds answers 304 when nothing differs."""
        return respond(request, passthrough.poll(reads, api))

    @router.get("/metadata", operation_id=f"read_all_{ids}_metadata")
    async def all_metadata(reads: ReadsDep) -> dict[Category, CategoryMetadata]:
        """Every category's metadata."""
        return reads.all_metadata(api)

    @router.get("/{model_category_name}", operation_id=f"read_{ids}_category_metadata", responses=errors(422))
    async def category_metadata(reads: ReadsDep, model_category_name: Category) -> CategoryMetadata:
        return reads.metadata(api, model_category_name)

    @router.get(
        "/{model_category_name}/last_updated", operation_id=f"read_{ids}_category_last_updated", responses=errors(422)
    )
    async def category_last_updated(reads: ReadsDep, model_category_name: Category) -> CategoryLastUpdatedResponse:
        return reads.category_last_updated(api, model_category_name)

    return router
