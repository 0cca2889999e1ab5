"""Queue history rebuilt from the audit trail: changes, batches and a batch's net effect (DATA.md §11.5–11.6)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from modelref.domain.audit import AuditEvent, Operation
from modelref.domain.categories import parse_category
from modelref.domain.changes import field_diffs, is_critical

QUEUE = "pending_queue"


@dataclass(slots=True)
class ChangeHistory:
    change_id: int
    status: str = "pending"
    fields: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        keys = (
            "operation", "category", "model_name", "requested_by", "requested_at", "approved_by", "approved_at",
            "rejected_by", "rejected_at", "reject_reason", "applied_by", "applied_at", "applied_job_id",
            "batch_id", "batch_title",
        )  # fmt: skip
        return {
            "change_id": self.change_id,
            "status": self.status,
            **{k: self.fields.get(k) for k in keys},
            "events": self.events,
        }


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
            {"event_id": event.event_id, "timestamp": event.timestamp, "action": action,
             "logical_user_id": event.logical_user_id, "payload": after}
        )  # fmt: skip
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
    old = history.batches.get(after.get("original_batch_id"))  # type: ignore[arg-type]
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


def _replay_model(events: Sequence[AuditEvent], category: str, model: str, upto: int) -> dict[str, Any] | None:
    state: dict[str, Any] | None = None
    for event in events:
        if event.event_id > upto or event.category != category or event.model_name != model:
            continue
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


def net_changes(history: QueueHistory, events: Sequence[AuditEvent], batch_id: int) -> list[dict[str, Any]]:
    """Per model with an applied change in the batch: its state before and after the batch."""
    batch = history.batches[batch_id]
    ordered = sorted(events, key=lambda e: e.event_id)
    models: dict[tuple[str, str], list[int]] = {}
    for change_id in sorted(batch.applied):
        change = history.changes[change_id]
        key = (str(change.fields.get("category")), str(change.fields.get("model_name")))
        models.setdefault(key, []).extend(e["event_id"] for e in change.events)
    result = []
    for (category, model), event_ids in models.items():
        before = _replay_model(ordered, category, model, min(event_ids) - 1)
        after = _replay_model(ordered, category, model, max(event_ids))
        if before is None and after is not None:
            operation = "added"
        elif before is not None and after is None:
            operation = "deleted"
        elif before == after:
            operation = "unchanged"
        else:
            operation = "modified"
        diffs = [] if before is None and after is None else field_diffs(before, after)
        found = parse_category(category)
        result.append(
            {
                "model_name": model,
                "category": category,
                "net_operation": operation,
                "before_state": before,
                "after_state": after,
                "field_diffs": diffs,
                "is_critical": is_critical(found, diffs) if found else False,
            }
        )
    return result
