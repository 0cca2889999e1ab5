"""Applying approved changes: each change is one transaction (DATA.md §10.4, API.md PQ8–PQ10).

In one transaction: the record write, the category's version and counters, the change marked applied
with its job id, and the audit events. A crash leaves a change applied or still approved, never half.
Applying an applied change again with the same job id is a no-op that succeeds.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sqlalchemy.exc
from pydantic import ValidationError

from modelref.domain.audit import ChangeStatus, Domain, Operation, delta
from modelref.domain.categories import Category
from modelref.domain.changes import PendingChange, User
from modelref.domain.stamping import stamp
from modelref.errors import InvalidPayload, InvalidRecord, InvalidTransition, ModelRefError, NotFound, Unavailable
from modelref.services.review import LEGACY_FORMAT, Review, payload_record, queue_event
from modelref.storage.store import EventSpec, Store

log = logging.getLogger(__name__)

ERROR_TYPES: dict[type[ModelRefError], str] = {
    NotFound: "PendingChangeNotFoundError",
    InvalidTransition: "PendingChangeStateError",
    InvalidPayload: "PendingChangePayloadError",
    Unavailable: "PendingChangeBackendError",
}


@dataclass(frozen=True, slots=True)
class Split:
    original_batch_id: int
    new_batch_id: int
    reassigned_count: int


@dataclass(slots=True)
class Outcome:
    applied: list[PendingChange] = field(default_factory=list)
    failure: ModelRefError | None = None
    failed_change_id: int | None = None
    split: Split | None = None


class Applier:
    def __init__(
        self,
        store: Store,
        review: Review,
        on_applied: Callable[[set[Category]], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.review = review
        self.on_applied = on_applied
        self.clock = clock

    # -- the three apply routes -------------------------------------------------------------------------

    def apply_one(self, user: User, change_id: int, job_id: str | None) -> Outcome:
        """Apply one change; errors are raised (404 missing, 400 not approved or bad payload, 503 store)."""
        self.review.require_primary()
        outcome = self._run(user, [change_id], job_id)
        if outcome.failure is not None:
            raise outcome.failure
        return outcome

    def apply_many(self, user: User, change_ids: Sequence[int], job_id: str | None, allow_mixed_batch: bool) -> Outcome:
        self.review.require_primary()
        if not allow_mixed_batch:
            batches = []
            for change_id in change_ids:
                change = self.store.get_change(change_id)
                if change is None:
                    raise NotFound(f"Change {change_id} not found")
                if change.batch_id is None:
                    raise InvalidTransition("Cannot apply changes that have not been approved in a batch")
                batches.append(change.batch_id)
            if len(set(batches)) > 1:
                raise InvalidTransition(
                    f"All changes must belong to the same batch. Found batch IDs: {sorted(set(batches))}"
                )
        return self._run(user, change_ids, job_id)

    def apply_batch(self, user: User, batch_id: int, job_id: str | None) -> Outcome:
        self.review.require_primary()
        members = [c for c in self.store.changes() if c.batch_id == batch_id]
        if not members:
            raise NotFound(f"No changes found for batch {batch_id}")
        approved = [c.change_id for c in members if c.status is ChangeStatus.APPROVED]
        if not approved:
            if all(c.status in (ChangeStatus.APPLIED, ChangeStatus.REJECTED) for c in members) and any(
                c.status is ChangeStatus.APPLIED for c in members
            ):
                return Outcome()
            raise NotFound(f"No approved changes found in batch {batch_id}")
        return self._run(user, approved, job_id)

    # -- the work ---------------------------------------------------------------------------------------

    def _run(self, user: User, change_ids: Sequence[int], job_id: str | None) -> Outcome:
        outcome = Outcome()
        touched: set[Category] = set()
        batches: set[int] = set()
        try:
            for change_id in change_ids:
                token = job_id or f"apply-{change_id}-{uuid.uuid4().hex}"
                try:
                    change = self._apply(user, change_id, token)
                except ModelRefError as error:
                    outcome.failure, outcome.failed_change_id = error, change_id
                    break
                outcome.applied.append(change)
                touched.add(change.category)
                if change.batch_id is not None:
                    batches.add(change.batch_id)
            requested = set(change_ids)
            for batch_id in sorted(batches):
                outcome.split = self._split(user, batch_id, requested) or outcome.split
        finally:
            if touched:
                self.on_applied(touched)
        return outcome

    def _apply(self, user: User, change_id: int, token: str) -> PendingChange:
        now = int(self.clock())
        try:
            with self.store.write() as tx:
                change = tx.get_change(change_id)
                if change is None:
                    raise NotFound(f"Change {change_id} not found.")
                if change.status is ChangeStatus.APPLIED and change.applied_job_id == token:
                    return change  # a retry of a job that already went through
                if change.status is not ChangeStatus.APPROVED:
                    raise InvalidTransition(f"Change {change_id} is not approved (status={change.status.value}).")
                category, name = change.category, change.model_name
                domain = Domain.LEGACY if (change.request_metadata or {}).get("format") == LEGACY_FORMAT else Domain.V2
                stored = tx.get(category, name)
                events: list[EventSpec] = []
                if change.operation is Operation.DELETE:
                    if stored is None:
                        raise InvalidPayload(f"Change {change_id}: model '{name}' no longer exists")
                    tx.delete(category, name)
                    events.append(
                        EventSpec(
                            domain, category.value, name, Operation.DELETE, user.user_id, {"before": stored}, token
                        )
                    )
                    operation = Operation.DELETE
                else:
                    try:
                        record = payload_record(change)
                    except (ValidationError, InvalidRecord) as error:
                        raise InvalidPayload(
                            f"Change {change_id}: the payload is not a valid record ({error})"
                        ) from None
                    document = stamp(record.to_document(), stored, now, change.requested_username)
                    tx.put(category, name, document)
                    operation = Operation.CREATE if stored is None else Operation.UPDATE
                    payload = {"after": document} if stored is None else {"delta": delta(stored, document)}
                    events.append(EventSpec(domain, category.value, name, operation, user.user_id, payload, token))
                tx.touch(category, now, {operation: 1}, (operation, name))
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
                tx.save_change(applied)
                events.append(
                    queue_event(
                        "apply",
                        user,
                        change_id,
                        self.review.domain,
                        change_id=change_id,
                        batch_id=change.batch_id,
                        job_id=token,
                    )
                )
                tx.append_events(events)
                return applied
        except sqlalchemy.exc.SQLAlchemyError as error:
            log.exception("applying change %s failed", change_id)
            raise Unavailable(f"Change {change_id} could not be written: {type(error).__name__}") from None

    def _split(self, user: User, batch_id: int, requested: set[int]) -> Split | None:
        """Move the batch's still-approved changes that were not part of this request to a new batch
        (a change the request tried but could not apply stays, so the batch can be retried as is)."""
        now = int(self.clock())
        with self.store.write() as tx:
            remaining = [
                c
                for c in tx.changes()
                if c.batch_id == batch_id and c.status is ChangeStatus.APPROVED and c.change_id not in requested
            ]
            if not remaining:
                return None
            new_batch = tx.next_batch_id()
            for change in remaining:
                tx.save_change(change.model_copy(update={"batch_id": new_batch, "updated_at": now}))
            ids = [c.change_id for c in remaining]
            tx.append_events(
                [
                    queue_event(
                        "batch_split",
                        user,
                        "queue",
                        self.review.domain,
                        original_batch_id=batch_id,
                        new_batch_id=new_batch,
                        reassigned_change_ids=ids,
                        reason="partial_apply",
                    )
                ]
            )
        return Split(batch_id, new_batch, len(ids))
