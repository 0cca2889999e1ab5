"""The pending queue (API.md §13) under one API prefix, and ``me/roles`` (§8).

The queue is mounted under both prefixes; only the canonical format's is active (the service checks).
No ``from __future__ import annotations``: the role dependency of each route depends on the prefix the
router is built for, and FastAPI must see it when the route is defined.
"""

import re
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query
from fastapi.exceptions import RequestValidationError
from pydantic import Field, ValidationError

from modelref.domain.audit import ChangeStatus
from modelref.domain.audit_views import (
    BatchNetChangeResponse,
    PendingQueueAuditBatchDetail,
    PendingQueueAuditBatchPage,
    PendingQueueAuditCurrentResponse,
)
from modelref.domain.categories import Category
from modelref.domain.changes import ChangeFilter, PendingChangeDiff, PendingChangeRecord
from modelref.domain.formats import Format
from modelref.domain.info import UserRolesResponse
from modelref.domain.inputs import JobId, NameFilter, UserId
from modelref.domain.queue import (
    MAX_ID,
    ApplyPendingChangeRequest,
    ApplyPendingChangesRequest,
    ApplyPendingChangesResponse,
    ApplySingleChangeResponse,
    PendingBatchRequest,
    PendingBatchResult,
    PendingChangeDiffPage,
    PendingQueuePage,
    PurgePendingChangesRequest,
    PurgePendingChangesResponse,
)
from modelref.http.auth import ReaderDep, approver, requestor
from modelref.http.deps import ServicesDep
from modelref.http.routing import api_router
from modelref.http.schemas import QUEUE, errors
from modelref.services.auth import Authorizer

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500)]
Statuses = Annotated[list[ChangeStatus], Query()]
Categories = Annotated[list[Category], Query()]
Domain = Annotated[Format | None, Query(description="Optional audit domain override")]
APPLIED: dict[str, Any] = {"response_model_exclude_none": True}
"""Apply answers leave out null fields (API.md §16.6, §16.7)."""


def _operation_id(name: str, path: str, method: str, prefix: str) -> str:
    """The operation ids clients generated from the existing service use (FastAPI's default spelling)."""
    return re.sub(r"\W", "_", f"{name}/model_references/{prefix}/pending_queue{path}") + f"_{method}"


def _from_query(change_ids: list[int], job_id: str | None, allow_mixed_batch: bool) -> ApplyPendingChangesRequest:
    """The apply request given as query parameters (decision 8), validated as the JSON body would be."""
    try:
        return ApplyPendingChangesRequest(change_ids=change_ids, job_id=job_id, allow_mixed_batch=allow_mixed_batch)
    except ValidationError as error:
        problems = [{**e, "loc": ("query", *e["loc"])} for e in error.errors(include_url=False)]
        raise RequestValidationError(problems) from None


def queue_router(api: Format) -> APIRouter:
    prefix = api.api_prefix
    router = api_router(
        f"/model_references/{prefix}/pending_queue", [prefix, "pending_queue"], authenticated=True, responses=QUEUE
    )
    audit_tags: list[str | Enum] = [prefix, "pending_queue", "audit"]

    def op(name: str, path: str, method: str = "get") -> str:
        return _operation_id(name, path, method, prefix)

    Requestor = Annotated[Authorizer, Depends(requestor(api))]
    Approver = Annotated[Authorizer, Depends(approver(api))]

    @router.get("/my_changes", operation_id=op("list_my_pending_changes", "/my_changes"))
    def my_changes(
        services: ServicesDep,
        caller: Requestor,
        statuses: Statuses = [],  # noqa: B006 - FastAPI copies defaults
        categories: Categories = [],  # noqa: B006
        offset: Offset = 0,
        limit: Limit = 50,
    ) -> PendingQueuePage:
        """Your own proposals."""
        return services.review.my_changes(caller, ChangeFilter(statuses, categories), offset, limit)

    @router.get("/changes", operation_id=op("list_pending_changes", "/changes"))
    def changes(
        services: ServicesDep,
        caller: Approver,
        statuses: Statuses = [],  # noqa: B006
        categories: Categories = [],  # noqa: B006
        batch_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
        model_name: Annotated[NameFilter | None, Query()] = None,
        requested_by: Annotated[list[UserId], Query()] = [],  # noqa: B006
        offset: Offset = 0,
        limit: Limit = 50,
    ) -> PendingQueuePage:
        """The whole queue, filtered (approvers)."""
        filters = ChangeFilter(statuses, categories, batch_id, model_name, requested_by)
        return services.review.changes(caller, filters, offset, limit)

    @router.get("/changes/{change_id}", operation_id=op("read_pending_change", "/changes/{change_id}"))
    def change(services: ServicesDep, caller: Approver, change_id: Id) -> PendingChangeRecord:
        return services.review.change(caller, change_id)

    @router.get("/changes/{change_id}/diff", operation_id=op("get_pending_change_diff", "/changes/{change_id}/diff"))
    def diff(services: ServicesDep, caller: Approver, change_id: Id) -> PendingChangeDiff:
        """What applying the change would do to the current record."""
        return services.review.diff(caller, change_id)

    @router.get("/diffs", operation_id=op("get_pending_changes_diffs", "/diffs"))
    def diffs(
        services: ServicesDep,
        caller: Approver,
        change_ids: Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]], Query(min_length=1, max_length=100)],
    ) -> PendingChangeDiffPage:
        return services.review.diffs(caller, change_ids)

    @router.post("/batches", operation_id=op("process_pending_batch", "/batches", "post"))
    def batches(services: ServicesDep, caller: Approver, request: PendingBatchRequest) -> PendingBatchResult:
        """Approve and/or reject pending changes (approvals join the open batch)."""
        return services.review.decide(caller, request)

    @router.post("/purge", operation_id=op("purge_pending_changes", "/purge", "post"))
    def purge(
        services: ServicesDep, caller: Approver, request: PurgePendingChangesRequest
    ) -> PurgePendingChangesResponse:
        return services.review.purge(caller, request)

    @router.post(
        "/changes/{change_id}/apply",
        operation_id=op("apply_pending_change_endpoint", "/changes/{change_id}/apply", "post"),
        **APPLIED,
    )
    def apply_one(
        services: ServicesDep, caller: Approver, change_id: Id, request: ApplyPendingChangeRequest
    ) -> ApplySingleChangeResponse:
        """Apply one approved change (a retry with the same job_id is a no-op that succeeds)."""
        return services.applier.apply_one(caller, change_id, request)

    @router.post("/apply", operation_id=op("apply_pending_changes_endpoint", "/apply", "post"), **APPLIED)
    def apply_many(
        services: ServicesDep,
        caller: Approver,
        request: Annotated[ApplyPendingChangesRequest | None, Body()] = None,
        change_ids: Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]], Query()] = [],  # noqa: B006
        job_id: Annotated[JobId | None, Query()] = None,
        allow_mixed_batch: bool = False,
    ) -> ApplyPendingChangesResponse:
        """Apply several approved changes in order, stopping at the first failure (JSON body or query)."""
        if request is None:
            request = _from_query(change_ids, job_id, allow_mixed_batch)
        return services.applier.apply_many(caller, request)

    @router.post(
        "/apply_batch/{batch_id}",
        operation_id=op("apply_batch_endpoint", "/apply_batch/{batch_id}", "post"),
        **APPLIED,
    )
    def apply_batch(
        services: ServicesDep, caller: Approver, batch_id: Id, job_id: Annotated[JobId | None, Query()] = None
    ) -> ApplyPendingChangesResponse:
        """Apply every approved change of a batch, in change-id order."""
        return services.applier.apply_batch(caller, batch_id, job_id)

    @router.get("/audit/current", tags=audit_tags, operation_id=op("get_current_pending_changes", "/audit/current"))
    def audit_current(
        services: ServicesDep, caller: Approver, domain_override: Domain = None
    ) -> PendingQueueAuditCurrentResponse:
        """Changes whose last recorded state is pending, newest first."""
        return services.history.current(caller, domain_override)

    @router.get("/audit/batches", tags=audit_tags, operation_id=op("list_pending_queue_batches", "/audit/batches"))
    def audit_batches(
        services: ServicesDep,
        caller: Approver,
        cursor: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
        domain_override: Domain = None,
    ) -> PendingQueueAuditBatchPage:
        """Batches, newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
        return services.history.batches(caller, domain_override, cursor, limit)

    @router.get(
        "/audit/batches/{batch_id}",
        tags=audit_tags,
        operation_id=op("get_pending_queue_batch_detail", "/audit/batches/{batch_id}"),
    )
    def audit_batch(
        services: ServicesDep, caller: Approver, batch_id: Id, domain_override: Domain = None
    ) -> PendingQueueAuditBatchDetail:
        return services.history.batch(caller, domain_override, batch_id)

    @router.get(
        "/audit/batches/{batch_id}/net_changes",
        tags=audit_tags,
        operation_id=op("get_batch_net_changes", "/audit/batches/{batch_id}/net_changes"),
    )
    def audit_net_changes(
        services: ServicesDep, caller: Approver, batch_id: Id, domain_override: Domain = None
    ) -> BatchNetChangeResponse:
        """What a batch did to each model it touched, replayed from the audit trail."""
        return services.history.net_changes(caller, domain_override, batch_id)

    return router


def roles_router() -> APIRouter:
    router = api_router("/model_references/v2", ["v2", "user"], authenticated=True, responses=errors(401, 503))

    @router.get("/me/roles", operation_id="get_current_user_roles_model_references_v2_me_roles_get")
    def my_roles(services: ServicesDep, caller: ReaderDep) -> UserRolesResponse:
        """Which roles your key has on this deployment."""
        return services.auth.roles(caller)

    return router
