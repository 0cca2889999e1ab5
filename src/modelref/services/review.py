"""Reviewing the queue: list, read, diff, approve/reject, purge, and the "beta" view of what is proposed
(API.md §13, §15 E1; DATA.md §10).

Every method takes the ``Caller``: the queue prefix's guard comes first, then the key and
role are resolved, then the work is done.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from modelref.domain.audit import ChangeStatus
from modelref.domain.categories import Category
from modelref.domain.changes import ChangeFilter, PendingChangeDiff, PendingChangeRecord, User, diff_change
from modelref.domain.convert import legacy_view
from modelref.domain.deployment import Deployment
from modelref.domain.formats import Format
from modelref.domain.queue import (
    DiffError,
    PendingBatchRequest,
    PendingBatchResult,
    PendingChangeDiffPage,
    PendingQueuePage,
    PurgePendingChangesRequest,
    PurgePendingChangesResponse,
)
from modelref.domain.records import RecordBase
from modelref.errors import InvalidTransition, ModelRefError, NotFound
from modelref.services.auth import Caller
from modelref.services.history import queue_event
from modelref.services.primary import OnPrimary
from modelref.storage.queue import QueueTable
from modelref.storage.store import Store


class Review(OnPrimary):
    def __init__(self, store: Store | None, deployment: Deployment, clock: Callable[[], float] = time.time) -> None:
        super().__init__(store)
        self.deployment = deployment
        self.clock = clock

    def _enter(self, caller: Caller, *, changing: bool = True) -> User:
        self.deployment.require_queue(caller.api, changing=changing)
        return caller.user()

    # -- reading the queue ------------------------------------------------------------------------------

    def my_changes(self, caller: Caller, filters: ChangeFilter, offset: int, limit: int) -> PendingQueuePage:
        """The caller's own proposals (the filter's ``requested_by`` is replaced by the caller)."""
        user = self._enter(caller)
        mine = ChangeFilter(filters.statuses, filters.categories, requested_by=[user.user_id])
        return self._page(mine, offset, limit)

    def changes(self, caller: Caller, filters: ChangeFilter, offset: int, limit: int) -> PendingQueuePage:
        self._enter(caller)
        return self._page(filters, offset, limit)

    def _page(self, filters: ChangeFilter, offset: int, limit: int) -> PendingQueuePage:
        with self.store.read() as tx:
            items, total = tx.queue.page(filters, offset, limit)
        return PendingQueuePage(items=items, total=total, offset=offset, limit=limit, has_more=offset + limit < total)

    def change(self, caller: Caller, change_id: int) -> PendingChangeRecord:
        self._enter(caller, changing=False)
        return self._change(change_id)

    def _change(self, change_id: int) -> PendingChangeRecord:
        with self.store.read() as tx:
            change = tx.queue.get(change_id)
        if change is None:
            raise NotFound("Change not found")
        return change

    def diff(self, caller: Caller, change_id: int) -> PendingChangeDiff:
        """What applying the change would do to the current record, in the change's own shape."""
        self._enter(caller, changing=False)
        return self._diff(change_id)

    def _diff(self, change_id: int) -> PendingChangeDiff:
        change = self._change(change_id)
        with self.store.read() as tx:
            stored = tx.records.get(change.category, change.model_name)
        if stored is not None and change.origin is Format.LEGACY:
            stored = legacy_view(change.category, change.model_name, stored)
        return diff_change(change, stored)

    def diffs(self, caller: Caller, change_ids: Sequence[int]) -> PendingChangeDiffPage:
        self._enter(caller, changing=False)
        found, errors = [], []
        for change_id in change_ids:
            try:
                found.append(self._diff(change_id))
            except ModelRefError as error:
                errors.append(DiffError(change_id=change_id, error=error.detail, error_type=type(error).__name__))
        return PendingChangeDiffPage(diffs=found, total=len(change_ids), errors=errors)

    def proposals(self, caller: Caller, category: Category) -> dict[str, RecordBase]:
        """The "beta" models: the category's pending and approved creates and updates as v2 records; for
        a name proposed several times, the most recent proposal (API.md §15 E1)."""
        self._enter(caller, changing=False)
        with self.store.read() as tx:
            changes = tx.queue.proposals(category)
        latest: dict[str, PendingChangeRecord] = {}
        for change in sorted(changes, key=lambda c: (c.updated_at, c.change_id)):
            latest[change.model_name] = change
        beta: dict[str, RecordBase] = {}
        for name, change in latest.items():
            try:
                beta[name] = change.proposed_record()
            except (ModelRefError, ValueError):
                continue  # a payload that no longer converts is shown by its diff, not here
        return beta

    # -- deciding ---------------------------------------------------------------------------------------

    def decide(self, caller: Caller, request: PendingBatchRequest) -> PendingBatchResult:
        """Approve and/or reject pending changes; approvals join the open batch (DATA.md §10.3)."""
        user = self._enter(caller)
        now, title, reason = int(self.clock()), request.batch_title, request.reject_reason
        domain = self.deployment.canonical_format
        with self.store.write() as tx:
            changes = {i: _pending(tx.queue, i) for i in [*request.approved_ids, *request.rejected_ids]}
            batch_id: int | None = None
            if request.approved_ids:
                open_batch = tx.queue.open_batch()
                batch_id = open_batch if open_batch is not None else tx.queue.next_id("last_batch_id")
            result = PendingBatchResult(batch_id=batch_id, batch_title=title, approved=[], rejected=[])
            events = []
            for change_id in request.approved_ids:
                change = changes[change_id].model_copy(
                    update={
                        "status": ChangeStatus.APPROVED,
                        "batch_id": batch_id,
                        "batch_title": title,
                        "approved_by": user.user_id,
                        "approved_username": user.username,
                        "approved_at": now,
                        "updated_at": now,
                    }
                )
                tx.queue.save(change)
                result.approved.append(change)
                events.append(
                    queue_event(
                        "approve",
                        user,
                        change_id,
                        domain,
                        now,
                        change_id=change_id,
                        batch_id=batch_id,
                        batch_title=title,
                    )
                )
            for change_id in request.rejected_ids:
                change = changes[change_id].model_copy(
                    update={
                        "status": ChangeStatus.REJECTED,
                        "batch_id": batch_id,
                        "batch_title": title,
                        "rejected_by": user.user_id,
                        "rejected_username": user.username,
                        "rejected_at": now,
                        "reject_reason": reason,
                        "updated_at": now,
                    }
                )
                tx.queue.save(change)
                result.rejected.append(change)
                fields: dict[str, Any] = {"change_id": change_id, "batch_title": title, "reason": reason}
                if batch_id is not None:
                    fields["batch_id"] = batch_id
                events.append(queue_event("reject", user, change_id, domain, now, **fields))
            tx.audit.append(events)
        return result

    def purge(self, caller: Caller, request: PurgePendingChangesRequest) -> PurgePendingChangesResponse:
        """Remove matching changes in any status (nothing removed on a dry run)."""
        user = self._enter(caller)
        filters = ChangeFilter(request.statuses, request.categories, None, request.model_name, request.requested_by)
        domain, now = self.deployment.canonical_format, int(self.clock())
        with self.store.write() as tx:
            doomed = tx.queue.ids(None if request.purge_all else filters)
            if not request.dry_run and doomed:
                changes = tx.queue.summaries(doomed)
                tx.queue.delete(doomed)
                tx.audit.append(
                    [
                        queue_event(
                            "purge",
                            user,
                            c.change_id,
                            domain,
                            now,
                            change_id=c.change_id,
                            category=c.category.value,
                            model=c.model_name,
                            requested_by=c.requested_by,
                            purged_by_username=user.username,
                        )
                        for c in changes
                    ]
                )
        return PurgePendingChangesResponse(
            removed_count=len(doomed), removed_change_ids=doomed, dry_run=request.dry_run
        )


def _pending(queue: QueueTable, change_id: int) -> PendingChangeRecord:
    change = queue.get(change_id)
    if change is None:
        raise InvalidTransition(f"Change {change_id} does not exist.")
    if change.status is not ChangeStatus.PENDING:
        raise InvalidTransition(f"Change {change_id} is not pending (status={change.status.value}).")
    return change
