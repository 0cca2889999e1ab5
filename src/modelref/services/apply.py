"""Applying approved changes: each change is one transaction (DATA.md §10.4, API.md PQ8–PQ10).

In one transaction: the record write, the category's version and counters, the change marked applied
with its job id, and the audit events. A crash leaves a change applied or still approved, never half.
Applying an applied change again with the same job id is a no-op that succeeds. The read model is
refreshed once per request, for the categories it touched.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from pydantic import ValidationError

from modelref.domain.audit import ChangeStatus, EventSpec, Operation, delta
from modelref.domain.categories import Category
from modelref.domain.changes import PendingChangeRecord, User
from modelref.domain.deployment import Deployment
from modelref.domain.inputs import shown
from modelref.domain.queue import (
    ApplyPendingChangeRequest,
    ApplyPendingChangesRequest,
    ApplyPendingChangesResponse,
    ApplySingleChangeResponse,
    BatchSplit,
)
from modelref.domain.stamping import stamp
from modelref.errors import (
    IncompleteApply,
    InvalidPayload,
    InvalidRecord,
    InvalidTransition,
    ModelRefError,
    NotFound,
    Unavailable,
)
from modelref.services.auth import Caller
from modelref.services.history import queue_event
from modelref.services.primary import OnPrimary
from modelref.storage.store import Store

log = logging.getLogger(__name__)

ERROR_TYPES: dict[type[ModelRefError], str] = {
    NotFound: "PendingChangeNotFoundError",
    InvalidTransition: "PendingChangeStateError",
    InvalidPayload: "PendingChangePayloadError",
    Unavailable: "PendingChangeBackendError",
}


@dataclass(slots=True)
class _Run:
    applied: list[PendingChangeRecord] = field(default_factory=list)
    failure: ModelRefError | None = None
    failed_change_id: int | None = None
    split: BatchSplit = field(default_factory=BatchSplit)


class Applier(OnPrimary):
    def __init__(
        self,
        store: Store | None,
        deployment: Deployment,
        on_applied: Callable[[set[Category]], object],
        *,
        hold: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """*on_applied* refreshes the read model after a request; *hold* keeps other refreshes waiting
        while one request applies a burst of changes."""
        super().__init__(store)
        self.deployment = deployment
        self.on_applied = on_applied
        self.hold = hold
        self.clock = clock

    def _enter(self, caller: Caller) -> User:
        self.deployment.require_queue(caller.api)
        return caller.user()

    # -- the three apply routes -------------------------------------------------------------------------

    def apply_one(
        self, caller: Caller, change_id: int, request: ApplyPendingChangeRequest
    ) -> ApplySingleChangeResponse:
        """Apply one change; a failure is raised (404 missing, 400 not approved or bad payload, 503 store)."""
        user = self._enter(caller)
        run = self._run(user, [change_id], request.job)
        if run.failure is not None:
            raise run.failure
        return ApplySingleChangeResponse(record=run.applied[0], **run.split.model_dump())

    def apply_many(self, caller: Caller, request: ApplyPendingChangesRequest) -> ApplyPendingChangesResponse:
        """Apply changes in the given order, stopping at the first failure (raised as IncompleteApply)."""
        user = self._enter(caller)
        if not request.allow_mixed_batch:
            self._check_one_batch(request.change_ids)
        return _outcome(self._run(user, request.change_ids, request.job))

    def apply_batch(self, caller: Caller, batch_id: int, job_id: str | None) -> ApplyPendingChangesResponse:
        """Apply every approved change of a batch, in change-id order."""
        user = self._enter(caller)
        with self.store.read() as tx:
            members = tx.queue.statuses(batch_id)
        if not members:
            raise NotFound(f"No changes found for batch {batch_id}")
        approved = [change_id for change_id, status in members if status is ChangeStatus.APPROVED]
        if not approved:
            statuses = {status for _, status in members}
            if statuses <= {ChangeStatus.APPLIED, ChangeStatus.REJECTED} and ChangeStatus.APPLIED in statuses:
                return ApplyPendingChangesResponse()
            raise NotFound(f"No approved changes found in batch {batch_id}")
        return _outcome(self._run(user, approved, (job_id or "").strip() or None))

    def _check_one_batch(self, change_ids: Sequence[int]) -> None:
        with self.store.read() as tx:
            found = {summary.change_id: summary.batch_id for summary in tx.queue.summaries(change_ids)}
        batches = []
        for change_id in change_ids:
            if change_id not in found:
                raise NotFound(f"Change {change_id} not found")
            batch_id = found[change_id]
            if batch_id is None:
                raise InvalidTransition("Cannot apply changes that have not been approved in a batch")
            batches.append(batch_id)
        if len(set(batches)) > 1:
            raise InvalidTransition(
                f"All changes must belong to the same batch. Found batch IDs: {sorted(set(batches))}"
            )

    # -- the work ---------------------------------------------------------------------------------------

    def _run(self, user: User, change_ids: Sequence[int], job_id: str | None) -> _Run:
        run = _Run()
        touched: set[Category] = set()
        batches: set[int] = set()
        try:
            with self.hold():
                for change_id in change_ids:
                    token = job_id or f"apply-{change_id}-{uuid.uuid4().hex}"
                    try:
                        change, changed = self._apply(user, change_id, token)
                    except ModelRefError as error:
                        run.failure, run.failed_change_id = error, change_id
                        break
                    run.applied.append(change)
                    if changed:  # a retry changes nothing: no refresh, and its batch is not split
                        touched.add(change.category)
                        if change.batch_id is not None:
                            batches.add(change.batch_id)
                requested = set(change_ids)
                for batch_id in sorted(batches):
                    run.split = self._split(user, batch_id, requested) or run.split
        finally:
            if touched:
                try:
                    self.on_applied(touched)
                except Exception:  # the changes are committed: the background refresh catches up
                    log.exception("refreshing %s after an apply failed", ", ".join(sorted(touched)))
        return run

    def _apply(self, user: User, change_id: int, token: str) -> tuple[PendingChangeRecord, bool]:
        """Apply one change in one transaction; return it and whether this call applied it (False: a retry
        of a job that already went through, which changes nothing)."""
        now = int(self.clock())
        with self.store.write() as tx:
            change = tx.queue.get(change_id)
            if change is None:
                raise NotFound(f"Change {change_id} not found.")
            if change.status is ChangeStatus.APPLIED and change.applied_job_id == token:
                return change, False
            if change.status is not ChangeStatus.APPROVED:
                raise InvalidTransition(f"Change {change_id} is not approved (status={change.status.value}).")
            category, name, domain = change.category, change.model_name, change.origin
            stored = tx.records.get(category, name)
            if change.operation is Operation.DELETE:
                if stored is None:
                    raise InvalidPayload(f"Change {change_id}: model '{shown(name)}' no longer exists")
                tx.records.delete(category, name)
                operation, payload = Operation.DELETE, {"before": stored}
            else:
                try:
                    record = change.proposed_record()
                except (ValidationError, InvalidRecord) as error:
                    raise InvalidPayload(f"Change {change_id}: the payload is not a valid record ({error})") from None
                document = stamp(record.to_document(), stored, now, change.requested_username)
                tx.records.put(category, name, document)
                operation = Operation.CREATE if stored is None else Operation.UPDATE
                payload = {"after": document} if stored is None else {"delta": delta(stored, document)}
            tx.records.touch(category, now, {operation: 1}, (operation, name))
            applied = change.model_copy(
                update={
                    "status": ChangeStatus.APPLIED,
                    "applied_at": now,
                    "applied_by": user.user_id,
                    "applied_username": user.username,
                    "applied_job_id": token,
                    "updated_at": now,
                }
            )
            tx.queue.save(applied)
            tx.audit.append(
                [
                    EventSpec(
                        domain=domain,
                        category=category.value,
                        model_name=name,
                        operation=operation,
                        user=user.user_id,
                        payload=payload,
                        request_id=token,
                        timestamp=now,
                    ),
                    queue_event(
                        "apply",
                        user,
                        change_id,
                        self.deployment.canonical_format,
                        now,
                        change_id=change_id,
                        batch_id=change.batch_id,
                        job_id=token,
                    ),
                ]
            )
            return applied, True

    def _split(self, user: User, batch_id: int, requested: set[int]) -> BatchSplit | None:
        """Move the batch's still-approved changes that were not part of this request to a new batch
        (a change the request tried but could not apply stays, so the batch can be retried as is)."""
        now = int(self.clock())
        with self.store.write() as tx:
            remaining = tx.queue.approved_in(batch_id, excluding=sorted(requested))
            if not remaining:
                return None
            new_batch = tx.queue.next_id("last_batch_id")
            for change in remaining:
                tx.queue.save(change.model_copy(update={"batch_id": new_batch, "updated_at": now}))
            ids = [c.change_id for c in remaining]
            tx.audit.append(
                [
                    queue_event(
                        "batch_split",
                        user,
                        "queue",
                        self.deployment.canonical_format,
                        now,
                        original_batch_id=batch_id,
                        new_batch_id=new_batch,
                        reassigned_change_ids=ids,
                        reason="partial_apply",
                    )
                ]
            )
        return BatchSplit(
            batch_split_occurred=True,
            batch_split_original_batch_id=batch_id,
            batch_split_new_batch_id=new_batch,
            batch_split_reassigned_count=len(ids),
        )


def _outcome(run: _Run) -> ApplyPendingChangesResponse:
    response = ApplyPendingChangesResponse(applied=run.applied, **run.split.model_dump())
    if run.failure is None:
        return response
    failed = response.model_copy(
        update={
            "failed_change_id": run.failed_change_id,
            "failed_error": run.failure.detail,
            "failed_error_type": ERROR_TYPES.get(type(run.failure), "PendingChangeBackendError"),
        }
    )
    raise IncompleteApply(run.failure, failed)
