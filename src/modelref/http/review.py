"""The pending queue (API.md §13) under one API prefix, and ``me/roles`` (§8)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator, model_validator

from modelref.domain.audit import ChangeStatus, Domain
from modelref.domain.audit_views import net_changes
from modelref.domain.categories import Category
from modelref.domain.changes import PendingChange
from modelref.domain.deployment import CanonicalFormat
from modelref.errors import ModelRefError
from modelref.http.auth import ApiKey, AuthDep
from modelref.http.deps import ApplierDep, ReviewDep
from modelref.http.errors import status_of
from modelref.http.writes import WRITE_ERRORS
from modelref.services.apply import ERROR_TYPES, Outcome
from modelref.services.auth import Role
from modelref.services.review import ChangeFilter

JOB_ID_MAX = 120


class BatchRequest(BaseModel):
    batch_title: str = Field(min_length=1, max_length=120)
    approved_ids: list[Annotated[int, Field(le=2**31 - 1)]] = Field(default_factory=list)
    rejected_ids: list[Annotated[int, Field(le=2**31 - 1)]] = Field(default_factory=list)
    reject_reason: str | None = Field(default=None, max_length=500)

    @field_validator("approved_ids", "rejected_ids")
    @classmethod
    def _positive_unique(cls, ids: list[int]) -> list[int]:
        return sorted({i for i in ids if i > 0})

    @model_validator(mode="after")
    def _rules(self) -> BatchRequest:
        self.batch_title = self.batch_title.strip()
        if not self.batch_title:
            raise ValueError("batch_title must not be blank.")
        if not self.approved_ids and not self.rejected_ids:
            raise ValueError("Provide at least one approved or rejected change id.")
        both = sorted(set(self.approved_ids) & set(self.rejected_ids))
        if both:
            raise ValueError(f"Change ids cannot be both approved and rejected: {both}")
        self.reject_reason = (self.reject_reason or "").strip() or None
        if self.rejected_ids and not self.reject_reason:
            raise ValueError("reject_reason is required when rejecting changes.")
        return self


class PurgeRequest(BaseModel):
    statuses: list[ChangeStatus] = Field(default_factory=list)
    categories: list[Category] = Field(default_factory=list)
    model_name: str | None = Field(default=None, max_length=200)
    requested_by: list[str] = Field(default_factory=list)
    purge_all: bool = False
    dry_run: bool = False

    @model_validator(mode="after")
    def _something(self) -> PurgeRequest:
        if not self.purge_all and not (self.statuses or self.categories or self.model_name or self.requested_by):
            raise ValueError("Provide at least one filter or set purge_all=true to clear the entire queue.")
        return self


class ApplyRequest(BaseModel):
    job_id: str | None = Field(default=None, max_length=JOB_ID_MAX)


class ApplyManyRequest(ApplyRequest):
    change_ids: list[Annotated[int, Field(le=2**31 - 1)]] = Field(min_length=1)
    allow_mixed_batch: bool = False

    @field_validator("change_ids")
    @classmethod
    def _positive(cls, ids: list[int]) -> list[int]:
        if any(i <= 0 for i in ids):
            raise ValueError("change_ids must be positive integers")
        return list(dict.fromkeys(ids))


def _full(change: PendingChange) -> dict[str, Any]:
    return change.model_dump(mode="json")


def _job(job_id: str | None) -> str | None:
    return (job_id or "").strip() or None


def _split_fields(outcome: Outcome) -> dict[str, Any]:
    fields: dict[str, Any] = {"batch_split_occurred": outcome.split is not None}
    if outcome.split is not None:
        fields |= {
            "batch_split_original_batch_id": outcome.split.original_batch_id,
            "batch_split_new_batch_id": outcome.split.new_batch_id,
            "batch_split_reassigned_count": outcome.split.reassigned_count,
        }
    return fields


def _outcome(outcome: Outcome) -> JSONResponse:
    body = {
        "applied": [c.model_dump(mode="json", exclude_none=True) for c in outcome.applied],
        **_split_fields(outcome),
    }
    status = 200
    if outcome.failure is not None:
        body |= {
            "failed_change_id": outcome.failed_change_id,
            "failed_error": outcome.failure.detail,
            "failed_error_type": ERROR_TYPES.get(type(outcome.failure), "PendingChangeBackendError"),
        }
        status = status_of(outcome.failure)
    return JSONResponse(body, status_code=status)


def _page(review: ReviewDep, filters: ChangeFilter, offset: int, limit: int) -> dict[str, Any]:
    page = review.page(filters, offset, limit)
    return {
        "items": [_full(c) for c in page.items],
        "total": page.total,
        "offset": page.offset,
        "limit": page.limit,
        "has_more": page.offset + page.limit < page.total,
    }


MAX_ID = 2**31 - 1
"""Change and batch ids are database integers: anything larger cannot exist (422, not a crash)."""
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500)]
Statuses = Annotated[list[ChangeStatus], Query()]
Categories = Annotated[list[Category], Query()]


def queue_router(version: CanonicalFormat) -> APIRouter:
    prefix = "v2" if version is CanonicalFormat.V2 else "v1"
    ids = "" if version is CanonicalFormat.V2 else "legacy_"
    router = APIRouter(
        prefix=f"/model_references/{prefix}/pending_queue", tags=["pending_queue"], responses=WRITE_ERRORS
    )

    @router.get("/my_changes", operation_id=f"{ids}list_my_pending_changes")
    def my_changes(
        review: ReviewDep,
        auth: AuthDep,
        key: ApiKey,
        statuses: Statuses = [],  # noqa: B006 - FastAPI copies defaults
        categories: Categories = [],  # noqa: B006
        offset: Offset = 0,
        limit: Limit = 50,
    ) -> dict[str, Any]:
        """Your own proposals."""
        review.require_queue_prefix(version)
        user = auth.require(key, Role.REQUESTOR)
        return _page(review, ChangeFilter(statuses, categories, requested_by=[user.user_id]), offset, limit)

    @router.get("/changes", operation_id=f"{ids}list_pending_changes")
    def changes(
        review: ReviewDep,
        auth: AuthDep,
        key: ApiKey,
        statuses: Statuses = [],  # noqa: B006
        categories: Categories = [],  # noqa: B006
        batch_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
        model_name: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        requested_by: Annotated[list[str], Query()] = [],  # noqa: B006
        offset: Offset = 0,
        limit: Limit = 50,
    ) -> dict[str, Any]:
        """The whole queue, filtered (approvers)."""
        review.require_queue_prefix(version)
        auth.require(key, Role.APPROVER)
        return _page(review, ChangeFilter(statuses, categories, batch_id, model_name, requested_by), offset, limit)

    @router.get("/changes/{change_id}", operation_id=f"{ids}get_pending_change")
    def change(review: ReviewDep, auth: AuthDep, key: ApiKey, change_id: Id) -> dict[str, Any]:
        review.require_queue_prefix(version)
        auth.require(key, Role.APPROVER)
        return _full(review.change(change_id))

    @router.get("/changes/{change_id}/diff", operation_id=f"{ids}get_pending_change_diff")
    def diff(review: ReviewDep, auth: AuthDep, key: ApiKey, change_id: Id) -> dict[str, Any]:
        """What applying the change would do to the current record."""
        review.require_queue_prefix(version)
        auth.require(key, Role.APPROVER)
        return review.diff(change_id)

    @router.get("/diffs", operation_id=f"{ids}get_pending_change_diffs")
    def diffs(
        review: ReviewDep,
        auth: AuthDep,
        key: ApiKey,
        change_ids: Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]], Query(min_length=1, max_length=100)],
    ) -> dict[str, Any]:
        review.require_queue_prefix(version)
        auth.require(key, Role.APPROVER)
        found, errors = [], []
        for change_id in change_ids:
            try:
                found.append(review.diff(change_id))
            except ModelRefError as error:
                errors.append({"change_id": change_id, "error": error.detail, "error_type": type(error).__name__})
        return {"diffs": found, "total": len(change_ids), "errors": errors}

    @router.post("/batches", operation_id=f"{ids}process_pending_batch")
    def batches(review: ReviewDep, auth: AuthDep, key: ApiKey, request: BatchRequest) -> dict[str, Any]:
        """Approve and/or reject pending changes (approvals join the open batch)."""
        review.require_queue_prefix(version)
        user = auth.require(key, Role.APPROVER)
        decision = review.decide(
            user, request.batch_title, request.approved_ids, request.rejected_ids, request.reject_reason
        )
        return {
            "batch_id": decision.batch_id,
            "batch_title": decision.batch_title,
            "approved": [_full(c) for c in decision.approved],
            "rejected": [_full(c) for c in decision.rejected],
        }

    @router.post("/purge", operation_id=f"{ids}purge_pending_changes")
    def purge(review: ReviewDep, auth: AuthDep, key: ApiKey, request: PurgeRequest) -> dict[str, Any]:
        review.require_queue_prefix(version)
        user = auth.require(key, Role.APPROVER)
        filters = ChangeFilter(request.statuses, request.categories, None, request.model_name, request.requested_by)
        removed = review.purge(user, filters, request.purge_all, request.dry_run)
        return {"removed_count": len(removed), "removed_change_ids": removed, "dry_run": request.dry_run}

    @router.post("/changes/{change_id}/apply", operation_id=f"{ids}apply_pending_change")
    def apply_one(
        review: ReviewDep, applier: ApplierDep, auth: AuthDep, key: ApiKey, change_id: Id, request: ApplyRequest
    ) -> JSONResponse:
        """Apply one approved change (a retry with the same job_id is a no-op that succeeds)."""
        review.require_queue_prefix(version)
        user = auth.require(key, Role.APPROVER)
        outcome = applier.apply_one(user, change_id, _job(request.job_id))
        record = outcome.applied[0].model_dump(mode="json", exclude_none=True)
        return JSONResponse({"record": record, **_split_fields(outcome)})

    @router.post("/apply", operation_id=f"{ids}apply_pending_changes")
    def apply_many(
        review: ReviewDep,
        applier: ApplierDep,
        auth: AuthDep,
        key: ApiKey,
        request: Annotated[ApplyManyRequest | None, Body()] = None,
        change_ids: Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]], Query()] = [],  # noqa: B006
        job_id: Annotated[str | None, Query(max_length=JOB_ID_MAX)] = None,
        allow_mixed_batch: bool = False,
    ) -> JSONResponse:
        """Apply several approved changes in order, stopping at the first failure (JSON body or query)."""
        if request is None:
            request = ApplyManyRequest(change_ids=change_ids, job_id=job_id, allow_mixed_batch=allow_mixed_batch)
        review.require_queue_prefix(version)
        user = auth.require(key, Role.APPROVER)
        return _outcome(applier.apply_many(user, request.change_ids, _job(request.job_id), request.allow_mixed_batch))

    @router.post("/apply_batch/{batch_id}", operation_id=f"{ids}apply_pending_batch")
    def apply_batch(
        review: ReviewDep,
        applier: ApplierDep,
        auth: AuthDep,
        key: ApiKey,
        batch_id: Id,
        job_id: Annotated[str | None, Query(max_length=JOB_ID_MAX)] = None,
    ) -> JSONResponse:
        """Apply every approved change of a batch, in change-id order."""
        review.require_queue_prefix(version)
        user = auth.require(key, Role.APPROVER)
        return _outcome(applier.apply_batch(user, batch_id, _job(job_id)))

    @router.get("/audit/current", tags=["audit"], operation_id=f"{ids}read_audit_current")
    def audit_current(
        review: ReviewDep, auth: AuthDep, key: ApiKey, domain_override: Domain | None = None
    ) -> dict[str, Any]:
        """Changes whose last recorded state is pending, newest first."""
        review.require_queue_prefix(version)
        auth.require(key, Role.APPROVER)
        domain, history, _ = review.history(domain_override)
        pending = [c.view() for c in history.changes.values() if c.status == "pending"]
        pending.sort(key=lambda c: (c["requested_at"] or 0, c["change_id"]), reverse=True)
        return {
            "domain": domain.value,
            "pending_changes": pending,
            "total_pending": len(pending),
            "generated_at": int(time.time()),
        }

    @router.get("/audit/batches", tags=["audit"], operation_id=f"{ids}read_audit_batches")
    def audit_batches(
        review: ReviewDep,
        auth: AuthDep,
        key: ApiKey,
        domain_override: Domain | None = None,
        cursor: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> dict[str, Any]:
        """Batches, newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
        review.require_queue_prefix(version)
        auth.require(key, Role.APPROVER)
        domain, history, _ = review.history(domain_override)
        ids_ = sorted((b for b in history.batches if cursor is None or b < cursor), reverse=True)
        page = ids_[:limit]
        return {
            "domain": domain.value,
            "batches": [history.batches[b].summary() for b in page],
            "next_cursor": page[-1] if len(ids_) > limit else None,
        }

    @router.get("/audit/batches/{batch_id}", tags=["audit"], operation_id=f"{ids}read_audit_batch")
    def audit_batch(
        review: ReviewDep, auth: AuthDep, key: ApiKey, batch_id: Id, domain_override: Domain | None = None
    ) -> dict[str, Any]:
        review.require_queue_prefix(version)
        auth.require(key, Role.APPROVER)
        _, history, _ = review.batch_history(domain_override, batch_id)
        batch = history.batches[batch_id]
        members = sorted(batch.approved | batch.rejected | batch.applied)
        return {**batch.summary(), "changes": [history.changes[c].view() for c in members if c in history.changes]}

    @router.get(
        "/audit/batches/{batch_id}/net_changes", tags=["audit"], operation_id=f"{ids}read_audit_batch_net_changes"
    )
    def audit_net_changes(
        review: ReviewDep, auth: AuthDep, key: ApiKey, batch_id: Id, domain_override: Domain | None = None
    ) -> dict[str, Any]:
        """What a batch did to each model it touched, replayed from the audit trail."""
        review.require_queue_prefix(version)
        auth.require(key, Role.APPROVER)
        domain, history, events = review.batch_history(domain_override, batch_id)
        changes = net_changes(history, events, batch_id)
        operations = Counter(c["net_operation"] for c in changes)
        return {
            "batch_id": batch_id,
            "batch_title": history.batches[batch_id].batch_title,
            "domain": domain.value,
            "model_changes": changes,
            "models_added": operations["added"],
            "models_modified": operations["modified"],
            "models_deleted": operations["deleted"],
            "models_unchanged": operations["unchanged"],
            "total_field_changes": sum(len(c["field_diffs"]) for c in changes),
            "has_critical_changes": any(c["is_critical"] for c in changes),
            "generated_at": int(time.time()),
        }

    return router


def roles_router() -> APIRouter:
    router = APIRouter(prefix="/model_references/v2", tags=["user"], responses=WRITE_ERRORS)

    @router.get("/me/roles", operation_id="read_my_roles")
    def my_roles(auth: AuthDep, key: ApiKey) -> dict[str, Any]:
        """Which roles your key has on this deployment."""
        user = auth.user(key)
        return {
            "user_id": user.user_id,
            "username": user.username,
            "roles": user.roles,
            "is_approver": user.is_approver,
            "is_requestor": user.is_requestor,
        }

    return router
