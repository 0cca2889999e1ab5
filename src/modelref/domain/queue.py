"""The pending queue's request and response shapes (API.md §13, §16.2–§16.7).

These are the public API shapes: the service returns them, the HTTP routes send them, and a client of
the API reads them.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, Field, field_validator, model_validator

from modelref.domain.audit import ChangeStatus
from modelref.domain.categories import Category
from modelref.domain.changes import PendingChangeDiff, PendingChangeRecord
from modelref.domain.inputs import JobId, NameFilter, Reason, Title, UserId

MAX_ID = 2**31 - 1
"""Change and batch ids are database integers: anything larger cannot exist (422, not a crash)."""
ChangeId = Annotated[int, Field(le=MAX_ID)]


class PendingQueuePage(BaseModel):
    """One page of the queue, in change-id order (``total`` counts every match)."""

    items: list[PendingChangeRecord]
    total: int
    offset: int
    limit: int
    has_more: bool


class DiffError(BaseModel):
    change_id: int
    error: str
    error_type: str


class PendingChangeDiffPage(BaseModel):
    diffs: list[PendingChangeDiff]
    total: int
    errors: list[DiffError]


class PendingBatchRequest(BaseModel):
    """Approve and/or reject pending changes under one title (ids ≤ 0 are dropped, lists de-duplicated)."""

    batch_title: Title
    approved_ids: list[ChangeId] = Field(default_factory=list)
    rejected_ids: list[ChangeId] = Field(default_factory=list)
    reject_reason: Reason | None = None

    @field_validator("approved_ids", "rejected_ids")
    @classmethod
    def _positive_unique(cls, ids: list[int]) -> list[int]:
        return sorted({i for i in ids if i > 0})

    @model_validator(mode="after")
    def _rules(self) -> Self:
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


class PendingBatchResult(BaseModel):
    batch_id: int | None
    batch_title: str
    approved: list[PendingChangeRecord]
    rejected: list[PendingChangeRecord]


class PurgePendingChangesRequest(BaseModel):
    statuses: list[ChangeStatus] = Field(default_factory=list)
    categories: list[Category] = Field(default_factory=list)
    model_name: NameFilter | None = None
    requested_by: list[UserId] = Field(default_factory=list)
    purge_all: bool = False
    dry_run: bool = False

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.purge_all and not (self.statuses or self.categories or self.model_name or self.requested_by):
            raise ValueError("Provide at least one filter or set purge_all=true to clear the entire queue.")
        return self


class PurgePendingChangesResponse(BaseModel):
    removed_count: int
    removed_change_ids: list[int]
    dry_run: bool


class ApplyPendingChangeRequest(BaseModel):
    job_id: JobId | None = None

    @property
    def job(self) -> str | None:
        """The job id as used: trimmed, blank meaning "let the server choose"."""
        return (self.job_id or "").strip() or None


class ApplyPendingChangesRequest(ApplyPendingChangeRequest):
    change_ids: list[ChangeId] = Field(min_length=1)
    allow_mixed_batch: bool = False

    @field_validator("change_ids")
    @classmethod
    def _positive(cls, ids: list[int]) -> list[int]:
        if any(i <= 0 for i in ids):
            raise ValueError("change_ids must be positive integers")
        return list(dict.fromkeys(ids))


class BatchSplit(BaseModel):
    """Fields present when an apply moved the rest of a batch to a new one (omitted otherwise)."""

    batch_split_occurred: bool = False
    batch_split_original_batch_id: int | None = None
    batch_split_new_batch_id: int | None = None
    batch_split_reassigned_count: int | None = None


class ApplySingleChangeResponse(BatchSplit):
    record: PendingChangeRecord


class ApplyPendingChangesResponse(BatchSplit):
    applied: list[PendingChangeRecord] = Field(default_factory=list)
    failed_change_id: int | None = None
    failed_error: str | None = None
    failed_error_type: str | None = None
