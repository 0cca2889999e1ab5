"""Service endpoints (API.md §2) and the metadata routes of both versions (§6, §12)."""

from __future__ import annotations

from fastapi import APIRouter

from modelref.domain.deployment import CanonicalFormat, Deployment, ReplicateMode
from modelref.errors import Unavailable
from modelref.http.deps import BreakerDep, DeploymentDep, ReadsDep
from modelref.http.schemas import (
    ERRORS,
    BackendInfo,
    CategoryLastUpdatedResponse,
    CategoryMetadata,
    ContainsMessage,
    HeartbeatResponse,
    HordeHealth,
    LastUpdatedResponse,
)
from modelref.services.reads import category_or_404

service = APIRouter(tags=["default"])


@service.get("/", operation_id="read_root")
async def root() -> ContainsMessage:
    return ContainsMessage(
        message="Welcome to the Horde Model Reference API. See `/api/docs` for interactive documentation."
    )


@service.get("/heartbeat", operation_id="heartbeat")
async def heartbeat(breaker: BreakerDep) -> HeartbeatResponse:
    """Service health and the state of the AI-Horde connection. Never fails."""
    state = breaker.state()
    return HeartbeatResponse(
        status="ok",
        ai_horde=HordeHealth(
            degraded=state.degraded,
            consecutive_failures=state.consecutive_failures,
            seconds_until_retry=state.seconds_until_retry,
        ),
    )


@service.get("/replicate_mode", operation_id="read_replicate_mode")
async def replicate_mode(deployment: DeploymentDep) -> BackendInfo:
    """What this deployment is: mode, the API version that accepts writes, whether it is writable."""
    return BackendInfo(
        replicate_mode=deployment.mode.value,
        canonical_format=deployment.canonical_format.value,
        writable=deployment.writable,
    )


def _guard(deployment: Deployment, version: CanonicalFormat) -> None:
    """Metadata is tracked only on a PRIMARY, and served under its canonical version only."""
    if deployment.mode is not ReplicateMode.PRIMARY:
        raise Unavailable("Metadata tracking is not supported in REPLICA mode")
    if deployment.canonical_format is not version:
        raise Unavailable(
            f"This endpoint is only available when canonical_format='{version.value}'. "
            f"Current setting: canonical_format='{deployment.canonical_format.value}'"
        )


def metadata_router(version: CanonicalFormat) -> APIRouter:
    """The four metadata routes for one API version (v2 or legacy → /v1)."""
    prefix = "v2" if version is CanonicalFormat.V2 else "v1"
    ids = "v2" if version is CanonicalFormat.V2 else "legacy"
    router = APIRouter(prefix=f"/model_references/{prefix}/metadata", tags=["metadata"], responses=ERRORS)

    @router.get("/last_updated", operation_id=f"read_{ids}_last_updated")
    async def last_updated(deployment: DeploymentDep, reads: ReadsDep) -> LastUpdatedResponse:
        """The latest change over all categories (REPLICAs poll this)."""
        _guard(deployment, version)
        return LastUpdatedResponse(last_updated=reads.last_updated())

    @router.get("/metadata", operation_id=f"read_all_{ids}_metadata")
    async def all_metadata(deployment: DeploymentDep, reads: ReadsDep) -> dict[str, CategoryMetadata]:
        """Every category's metadata."""
        _guard(deployment, version)
        return {k: CategoryMetadata(**v) for k, v in reads.all_metadata().items()}

    @router.get("/{category}", operation_id=f"read_{ids}_category_metadata")
    async def category_metadata(deployment: DeploymentDep, reads: ReadsDep, category: str) -> CategoryMetadata:
        _guard(deployment, version)
        return CategoryMetadata(**reads.metadata(category_or_404(category)))

    @router.get("/{category}/last_updated", operation_id=f"read_{ids}_category_last_updated")
    async def category_last_updated(
        deployment: DeploymentDep, reads: ReadsDep, category: str
    ) -> CategoryLastUpdatedResponse:
        _guard(deployment, version)
        found = category_or_404(category)
        return CategoryLastUpdatedResponse(category=found.value, last_updated=reads.metadata(found)["last_updated"])

    return router
