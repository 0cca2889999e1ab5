"""Queue history rebuilt from the audit trail: changes, batches and a batch's net effect (DATA.md §11.5–11.6).

``replay_queue`` folds the queue's lifecycle events into per-change and per-batch state; the view
functions turn that state into the API's audit shapes (API.md §16.8).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from modelref.domain.audit import AuditEvent, Operation
from modelref.domain.categories import parse_category
from modelref.domain.changes import FieldChangeType, FieldDiff, NetChangeType, field_diffs, is_critical
from modelref.domain.formats import Format
from modelref.errors import NotFound

QUEUE = "pending_queue"
"""The audit category of the queue's own lifecycle events (their model name is the change id)."""


class PendingQueueAuditEvent(BaseModel):
    event_id: int
    timestamp: int
    action: str
    logical_user_id: str | None
    payload: dict[str, Any]


class PendingQueueAuditChange(BaseModel):
    change_id: int
    status: str
    operation: str | None = None
    category: str | None = None
    model_name: str | None = None
    requested_by: str | None = None
    requested_at: int | None = None
    approved_by: str | None = None
    approved_at: int | None = None
    rejected_by: str | None = None
    rejected_at: int | None = None
    reject_reason: str | None = None
    applied_by: str | None = None
    applied_at: int | None = None
    applied_job_id: str | None = None
    batch_id: int | None = None
    batch_title: str | None = None
    events: list[PendingQueueAuditEvent]


class PendingQueueAuditBatchSummary(BaseModel):
    batch_id: int
    batch_title: str | None
    approved_by: str | None
    approved_at: int | None
    applied_at: int | None
    approved_change_count: int
    rejected_change_count: int
    applied_change_count: int
    total_change_count: int
    last_event_id: int | None


class PendingQueueAuditBatchDetail(PendingQueueAuditBatchSummary):
    changes: list[PendingQueueAuditChange]


class PendingQueueAuditBatchPage(BaseModel):
    domain: Format
    batches: list[PendingQueueAuditBatchSummary]
    next_cursor: int | None


class PendingQueueAuditCurrentResponse(BaseModel):
    domain: Format
    pending_changes: list[PendingQueueAuditChange]
    total_pending: int
    generated_at: int


class ModelNetChange(BaseModel):
    model_name: str
    category: str
    net_operation: NetChangeType
    before_state: dict[str, Any] | None
    after_state: dict[str, Any] | None
    field_diffs: list[FieldDiff]
    is_critical: bool


class BatchNetChangeResponse(BaseModel):
    batch_id: int
    batch_title: str | None
    domain: Format
    model_changes: list[ModelNetChange]
    models_added: int
    models_modified: int
    models_deleted: int
    models_unchanged: int
    total_field_changes: int
    has_critical_changes: bool
    generated_at: int


@dataclass(slots=True)
class ChangeHistory:
    change_id: int
    status: str = "pending"
    fields: dict[str, Any] = field(default_factory=dict)
    events: list[PendingQueueAuditEvent] = field(default_factory=list)

    def view(self) -> PendingQueueAuditChange:
        return PendingQueueAuditChange(change_id=self.change_id, status=self.status, events=self.events, **self.fields)


@dataclass(slots=True)
class BatchHistory:
    batch_id: int
    batch_title: str | None = None
    approved_by: str | None = None
    approved_at: int | None = None
    applied_at: int | None = None
    approved: set[int] = field(default_factory=set)
    rejected: set[int] = field(default_factory=set)
    applied: set[int] = field(default_factory=set)
    last_event_id: int | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "batch_title": self.batch_title,
            "approved_by": self.approved_by,
            "approved_at": self.approved_at,
            "applied_at": self.applied_at,
            "approved_change_count": len(self.approved),
            "rejected_change_count": len(self.rejected),
            "applied_change_count": len(self.applied),
            "total_change_count": len(self.approved | self.rejected),
            "last_event_id": self.last_event_id,
        }


@dataclass(slots=True)
class QueueHistory:
    changes: dict[int, ChangeHistory] = field(default_factory=dict)
    batches: dict[int, BatchHistory] = field(default_factory=dict)

    def batch(self, batch_id: int) -> BatchHistory:
        found = self.batches.get(batch_id)
        if found is None:
            raise NotFound("Batch not found")
        return found


def replay_queue(events: Sequence[AuditEvent]) -> QueueHistory:
    """Rebuild every change's and batch's state from the queue's events (in event-id order)."""
    history = QueueHistory()
    for event in sorted(events, key=lambda e: e.event_id):
        if event.category != QUEUE:
            continue
        after = (event.payload_value() or {}).get("after") or {}
        action = after.get("action")
        if action == "batch_split":
            _split(history, after)
            continue
        change_id = int(after.get("change_id", event.model_name))
        change = history.changes.setdefault(change_id, ChangeHistory(change_id))
        change.events.append(
            PendingQueueAuditEvent(
                event_id=event.event_id,
                timestamp=event.timestamp,
                action=str(action or ""),
                logical_user_id=event.logical_user_id,
                payload=after,
            )
        )
        batch_id = after.get("batch_id")
        batch = history.batches.setdefault(batch_id, BatchHistory(batch_id)) if batch_id is not None else None
        if action == "enqueue":
            change.status = "pending"
            change.fields |= {
                "operation": after.get("operation"),
                "category": after.get("category"),
                "model_name": after.get("model"),
                "requested_by": event.logical_user_id,
                "requested_at": event.timestamp,
            }
        elif action == "approve":
            change.status = "approved"
            change.fields |= {"approved_by": event.logical_user_id, "approved_at": event.timestamp}
            change.fields |= {"batch_id": batch_id, "batch_title": after.get("batch_title")}
            if batch is not None:
                if batch.approved_by is None:
                    batch.approved_by, batch.approved_at = event.logical_user_id, event.timestamp
                batch.batch_title = after.get("batch_title")
                batch.approved.add(change_id)
        elif action == "reject":
            change.status = "rejected"
            change.fields |= {
                "rejected_by": event.logical_user_id,
                "rejected_at": event.timestamp,
                "reject_reason": after.get("reason"),
                "batch_title": after.get("batch_title"),
            }
            if batch is not None:
                change.fields["batch_id"] = batch_id
                batch.rejected.add(change_id)
                if batch.approved_by is None:
                    batch.approved_by, batch.approved_at = event.logical_user_id, event.timestamp
        elif action == "apply":
            change.status = "applied"
            change.fields |= {
                "applied_by": event.logical_user_id,
                "applied_at": event.timestamp,
                "applied_job_id": after.get("job_id"),
            }
            batch_id = change.fields.get("batch_id")
            if batch_id is not None and batch_id in history.batches:
                batch = history.batches[batch_id]
                batch.applied.add(change_id)
                batch.applied_at = max(batch.applied_at or 0, event.timestamp)
        if batch is not None:
            batch.last_event_id = event.event_id
    return history


def _split(history: QueueHistory, after: dict[str, Any]) -> None:
    original = after.get("original_batch_id")
    old = history.batches.get(original) if isinstance(original, int) else None
    new_id = after.get("new_batch_id")
    if new_id is None:
        return
    new = history.batches.setdefault(new_id, BatchHistory(new_id, old.batch_title if old else None))
    for change_id in after.get("reassigned_change_ids") or ():
        if old is not None:
            old.approved.discard(change_id)
            old.rejected.discard(change_id)
        change = history.changes.get(change_id)
        if change is not None:
            change.fields["batch_id"] = new_id
            if change.status == "approved":
                new.approved.add(change_id)


def current_view(history: QueueHistory, domain: Format, now: int) -> PendingQueueAuditCurrentResponse:
    """Changes whose last recorded state is pending, newest request first."""
    pending = [c.view() for c in history.changes.values() if c.status == "pending"]
    pending.sort(key=lambda c: (c.requested_at or 0, c.change_id), reverse=True)
    return PendingQueueAuditCurrentResponse(
        domain=domain, pending_changes=pending, total_pending=len(pending), generated_at=now
    )


def batches_view(history: QueueHistory, domain: Format, cursor: int | None, limit: int) -> PendingQueueAuditBatchPage:
    """Batches newest first, those with an id below *cursor*; ``next_cursor`` when more remain."""
    ids = sorted((b for b in history.batches if cursor is None or b < cursor), reverse=True)
    page = ids[:limit]
    return PendingQueueAuditBatchPage(
        domain=domain,
        batches=[PendingQueueAuditBatchSummary(**history.batches[b].summary()) for b in page],
        next_cursor=page[-1] if len(ids) > limit else None,
    )


def batch_view(history: QueueHistory, batch_id: int) -> PendingQueueAuditBatchDetail:
    batch = history.batch(batch_id)
    members = sorted(batch.approved | batch.rejected | batch.applied)
    changes = [history.changes[c].view() for c in members if c in history.changes]
    return PendingQueueAuditBatchDetail(**batch.summary(), changes=changes)


ModelKey = tuple[str, str]
"""(category, model name) as the audit trail spells them."""


def net_change_targets(history: QueueHistory, batch_id: int) -> dict[ModelKey, tuple[int, int]]:
    """Per model an applied change of the batch touched: the first and last queue event id involved."""
    batch = history.batch(batch_id)
    targets: dict[ModelKey, tuple[int, int]] = {}
    for change_id in sorted(batch.applied):
        change = history.changes[change_id]
        key = (str(change.fields.get("category")), str(change.fields.get("model_name")))
        ids = [e.event_id for e in change.events]
        low, high = targets.get(key, (min(ids), max(ids)))
        targets[key] = (min(low, *ids), max(high, *ids))
    return targets


def _replay_model(events: Sequence[AuditEvent], upto: int) -> dict[str, Any] | None:
    """A model's stored state after the events of it with ids up to *upto* (events in id order)."""
    state: dict[str, Any] | None = None
    for event in events:
        if event.event_id > upto:
            break
        payload = event.payload_value() or {}
        if event.operation is Operation.DELETE:
            state = None
        elif "after" in payload:
            state = payload["after"]
        elif state is not None and "delta" in payload:
            state = dict(state)
            for key, change in payload["delta"].items():
                if change.get("new") is None:
                    state.pop(key, None)
                else:
                    state[key] = change["new"]
    return state


def net_changes_view(
    history: QueueHistory,
    batch_id: int,
    domain: Format,
    model_events: Mapping[ModelKey, Sequence[AuditEvent]],
    now: int,
) -> BatchNetChangeResponse:
    """What a batch did to each model it touched: the state before its first and after its last event.

    *model_events* holds, per target of ``net_change_targets``, that model's events in id order.
    """
    changes: list[ModelNetChange] = []
    for key, (low, high) in net_change_targets(history, batch_id).items():
        events = model_events.get(key, ())
        before, after = _replay_model(events, low - 1), _replay_model(events, high)
        if before is None and after is not None:
            operation = NetChangeType.ADDED
        elif before is not None and after is None:
            operation = NetChangeType.DELETED
        else:
            operation = NetChangeType.UNCHANGED if before == after else NetChangeType.MODIFIED
        diffs = [] if before is None and after is None else field_diffs(before, after)
        category = parse_category(key[0])
        changes.append(
            ModelNetChange(
                model_name=key[1],
                category=key[0],
                net_operation=operation,
                before_state=before,
                after_state=after,
                field_diffs=diffs,
                is_critical=is_critical(category, diffs) if category else False,
            )
        )
    operations = Counter(c.net_operation for c in changes)
    return BatchNetChangeResponse(
        batch_id=batch_id,
        batch_title=history.batch(batch_id).batch_title,
        domain=domain,
        model_changes=changes,
        models_added=operations[NetChangeType.ADDED],
        models_modified=operations[NetChangeType.MODIFIED],
        models_deleted=operations[NetChangeType.DELETED],
        models_unchanged=operations[NetChangeType.UNCHANGED],
        total_field_changes=sum(len(c.field_diffs) for c in changes),
        has_critical_changes=any(c.is_critical for c in changes),
        generated_at=now,
    )


class RecordChange(BaseModel):
    """One audited change of a record, as a reader of its history wants it."""

    event_id: int
    timestamp: int
    operation: Operation
    user_id: str
    fields: list[FieldDiff]
    """The top-level fields it changed (old and new values); every field of a created or deleted record."""


def record_changes(events: Sequence[AuditEvent]) -> list[RecordChange]:
    """A record's audit events (in id order) as changes, newest first."""
    changes: list[RecordChange] = []
    for event in events:
        payload = event.payload_value() or {}
        if "delta" in payload:
            fields = [
                FieldDiff(
                    field_path=key,
                    old_value=change.get("old"),
                    new_value=change.get("new"),
                    change_type=_change_type(change.get("old"), change.get("new")),
                )
                for key, change in payload["delta"].items()
            ]
        else:
            before, after = payload.get("before"), payload.get("after")
            fields = [
                FieldDiff(
                    field_path=key,
                    old_value=(before or {}).get(key),
                    new_value=(after or {}).get(key),
                    change_type=_change_type((before or {}).get(key), (after or {}).get(key)),
                )
                for key in dict.fromkeys([*(before or {}), *(after or {})])
                if (before or {}).get(key) != (after or {}).get(key)
            ]
        changes.append(
            RecordChange(
                event_id=event.event_id,
                timestamp=event.timestamp,
                operation=event.operation,
                user_id=event.logical_user_id,
                fields=fields,
            )
        )
    return changes[::-1]


def _change_type(old: Any, new: Any) -> FieldChangeType:
    if old is None:
        return FieldChangeType.ADDED
    return FieldChangeType.REMOVED if new is None else FieldChangeType.MODIFIED
