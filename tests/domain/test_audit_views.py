from __future__ import annotations

from typing import Any

import orjson
import pytest

from modelref.domain.audit import GENESIS_HASH, AuditEvent, Operation
from modelref.domain.audit_views import (
    QUEUE,
    ModelKey,
    QueueHistory,
    batch_view,
    batches_view,
    current_view,
    net_change_targets,
    net_changes_view,
    replay_queue,
)
from modelref.domain.changes import NetChangeType
from modelref.domain.formats import Format
from modelref.errors import NotFound

REQUESTER, APPROVER = "1001", "2002"
IMAGE = "image_generation"


def _event(
    event_id: int,
    category: str,
    model_name: str,
    payload: dict[str, Any] | None,
    *,
    user: str = APPROVER,
    timestamp: int | None = None,
    operation: Operation = Operation.UPDATE,
) -> AuditEvent:
    return AuditEvent(
        event_id=event_id,
        timestamp=event_id * 10 if timestamp is None else timestamp,
        domain=Format.V2,
        category=category,
        model_name=model_name,
        operation=operation,
        logical_user_id=user,
        request_id=None,
        payload=None if payload is None else orjson.dumps(payload).decode(),
        prev_hash=GENESIS_HASH,
        hash="",
    ).sealed()


def _queue(event_id: int, action: str, subject: int | str, *, user: str = APPROVER, **fields: Any) -> AuditEvent:
    return _event(event_id, QUEUE, str(subject), {"after": {**fields, "action": action}}, user=user)


def _enqueue(event_id: int, change_id: int, model: str, operation: str = "create", **kw: Any) -> AuditEvent:
    return _queue(
        event_id,
        "enqueue",
        change_id,
        user=REQUESTER,
        change_id=change_id,
        operation=operation,
        category=IMAGE,
        model=model,
        **kw,
    )


def _model(event_id: int, name: str, operation: Operation, payload: dict[str, Any]) -> AuditEvent:
    return _event(event_id, IMAGE, name, payload, operation=operation)


def _lifecycle() -> list[AuditEvent]:
    """enqueue 1–5; approve 1, 2 and reject 3 as batch 1; apply 1 (with its model event); split 2 off to batch 2."""
    return [
        _enqueue(1, 1, "A"),
        _enqueue(2, 2, "B", "update"),
        _enqueue(3, 3, "C"),
        _enqueue(4, 4, "D"),
        _enqueue(5, 5, "E"),
        _queue(6, "approve", 1, change_id=1, batch_id=1, batch_title="first"),
        _queue(7, "approve", 2, change_id=2, batch_id=1, batch_title="first"),
        _queue(8, "reject", 3, change_id=3, batch_id=1, batch_title="first", reason="duplicate"),
        _model(9, "A", Operation.CREATE, {"after": {"name": "A"}}),
        _queue(10, "apply", 1, change_id=1, batch_id=1, job_id="job-A"),
        _queue(
            11,
            "batch_split",
            "queue",
            original_batch_id=1,
            new_batch_id=2,
            reassigned_change_ids=[2],
            reason="partial_apply",
        ),
    ]


@pytest.fixture
def history() -> QueueHistory:
    return replay_queue(_lifecycle())


# -- replay_queue -----------------------------------------------------------------------------------------------


def test_replay_gives_every_change_its_last_state(history: QueueHistory) -> None:
    assert {i: c.status for i, c in history.changes.items()} == {
        1: "applied",
        2: "approved",
        3: "rejected",
        4: "pending",
        5: "pending",
    }


def test_replayed_change_carries_who_and_when(history: QueueHistory) -> None:
    applied = history.changes[1].view()
    assert (applied.operation, applied.category, applied.model_name) == ("create", IMAGE, "A")
    assert (applied.requested_by, applied.requested_at) == (REQUESTER, 10)
    assert (applied.approved_by, applied.approved_at, applied.batch_id, applied.batch_title) == (
        APPROVER,
        60,
        1,
        "first",
    )
    assert (applied.applied_by, applied.applied_at, applied.applied_job_id) == (APPROVER, 100, "job-A")
    assert [e.action for e in applied.events] == ["enqueue", "approve", "apply"]
    assert [e.event_id for e in applied.events] == [1, 6, 10]

    rejected = history.changes[3].view()
    assert (rejected.rejected_by, rejected.rejected_at, rejected.reject_reason, rejected.batch_id) == (
        APPROVER,
        80,
        "duplicate",
        1,
    )


def test_split_moves_the_still_approved_change_to_the_new_batch(history: QueueHistory) -> None:
    assert history.changes[2].view().batch_id == 2
    old, new = history.batches[1], history.batches[2]
    assert (old.approved, old.rejected, old.applied) == ({1}, {3}, {1})
    assert (new.approved, new.rejected, new.applied, new.batch_title) == ({2}, set(), set(), "first")


def test_batch_summary_counts(history: QueueHistory) -> None:
    assert history.batches[1].summary() == {
        "batch_id": 1,
        "batch_title": "first",
        "approved_by": APPROVER,
        "approved_at": 60,
        "applied_at": 100,
        "approved_change_count": 1,
        "rejected_change_count": 1,
        "applied_change_count": 1,
        "total_change_count": 2,
        "last_event_id": 10,
    }


def test_replay_sorts_events_by_id_and_ignores_model_events() -> None:
    shuffled = list(reversed(_lifecycle()))
    again = replay_queue(shuffled)
    assert {i: c.view() for i, c in again.changes.items()} == {
        i: c.view() for i, c in replay_queue(_lifecycle()).changes.items()
    }
    assert set(again.changes) == {1, 2, 3, 4, 5}  # the model event for "A" made no change 9


def test_purge_is_recorded_without_changing_the_status() -> None:
    history = replay_queue(
        [_enqueue(1, 1, "A"), _queue(2, "purge", 1, change_id=1, category=IMAGE, model="A", requested_by=REQUESTER)]
    )
    change = history.changes[1].view()
    assert change.status == "pending"
    assert [e.action for e in change.events] == ["enqueue", "purge"]


def test_change_id_falls_back_to_the_event_model_name() -> None:
    history = replay_queue([_queue(1, "enqueue", 42, user=REQUESTER, operation="delete", category=IMAGE, model="X")])
    assert set(history.changes) == {42}
    assert history.changes[42].view().operation == "delete"


def test_reject_without_a_batch_leaves_the_change_outside_any_batch() -> None:
    history = replay_queue([_enqueue(1, 1, "A"), _queue(2, "reject", 1, change_id=1, batch_title="t", reason="no")])
    assert history.changes[1].view().batch_id is None
    assert history.batches == {}


def test_reject_in_a_reject_first_batch_sets_the_batch_approver() -> None:
    history = replay_queue([_enqueue(1, 1, "A"), _queue(2, "reject", 1, change_id=1, batch_id=4, batch_title="t")])
    assert (history.batches[4].approved_by, history.batches[4].approved_at) == (APPROVER, 20)
    assert history.batches[4].rejected == {1}


# -- current_view -----------------------------------------------------------------------------------------------


def test_current_lists_pending_changes_newest_first_ties_by_higher_id() -> None:
    events = [
        _event(1, QUEUE, "1", {"after": {"action": "enqueue", "change_id": 1, "model": "a"}}, timestamp=500),
        _event(2, QUEUE, "2", {"after": {"action": "enqueue", "change_id": 2, "model": "b"}}, timestamp=300),
        _event(3, QUEUE, "3", {"after": {"action": "enqueue", "change_id": 3, "model": "c"}}, timestamp=300),
        _event(4, QUEUE, "4", {"after": {"action": "enqueue", "change_id": 4, "model": "d"}}, timestamp=900),
        _queue(5, "approve", 4, change_id=4, batch_id=1, batch_title="t"),
    ]
    view = current_view(replay_queue(events), Format.LEGACY, now=12345)
    assert [c.change_id for c in view.pending_changes] == [1, 3, 2]
    assert (view.total_pending, view.domain, view.generated_at) == (3, Format.LEGACY, 12345)


def test_current_of_the_lifecycle(history: QueueHistory) -> None:
    view = current_view(history, Format.V2, now=1)
    assert [c.change_id for c in view.pending_changes] == [5, 4]


# -- batches_view and batch_view --------------------------------------------------------------------------------


def _three_batches() -> QueueHistory:
    events = [_enqueue(i, i, f"m{i}") for i in (1, 2, 3)]
    events += [_queue(10 + i, "approve", i, change_id=i, batch_id=i, batch_title=f"b{i}") for i in (1, 2, 3)]
    return replay_queue(events)


def test_batches_page_newest_first_with_a_cursor() -> None:
    history = _three_batches()
    first = batches_view(history, Format.V2, cursor=None, limit=2)
    assert [b.batch_id for b in first.batches] == [3, 2]
    assert first.next_cursor == 2
    second = batches_view(history, Format.V2, cursor=first.next_cursor, limit=2)
    assert [b.batch_id for b in second.batches] == [1]
    assert second.next_cursor is None


def test_batches_page_that_holds_the_rest_has_no_cursor() -> None:
    page = batches_view(_three_batches(), Format.V2, cursor=None, limit=3)
    assert [b.batch_id for b in page.batches] == [3, 2, 1]
    assert page.next_cursor is None
    assert batches_view(_three_batches(), Format.V2, cursor=1, limit=3).batches == []


def test_batches_page_summaries(history: QueueHistory) -> None:
    page = batches_view(history, Format.V2, cursor=None, limit=10)
    assert [(b.batch_id, b.total_change_count, b.applied_change_count) for b in page.batches] == [(2, 1, 0), (1, 2, 1)]


def test_batch_detail_lists_its_changes_by_id(history: QueueHistory) -> None:
    detail = batch_view(history, 1)
    assert [c.change_id for c in detail.changes] == [1, 3]
    assert [c.status for c in detail.changes] == ["applied", "rejected"]
    assert detail.total_change_count == 2


def test_unknown_batch_is_not_found(history: QueueHistory) -> None:
    with pytest.raises(NotFound, match="Batch not found"):
        batch_view(history, 99)
    with pytest.raises(NotFound):
        net_change_targets(history, 99)


# -- net changes ------------------------------------------------------------------------------------------------

B_BEFORE = {"name": "B", "baseline": "flux_1", "nsfw": False, "description": "old"}
C_BEFORE = {"name": "C", "baseline": "flux_1", "nsfw": False}
A_AFTER = {"name": "A", "baseline": "flux_1", "nsfw": False}


def _batch_with_every_kind() -> tuple[QueueHistory, dict[ModelKey, list[AuditEvent]]]:
    """Batch 1 creates A, updates B, deletes C and updates D (whose creation predates the log)."""
    queue = [
        _enqueue(3, 1, "A"),
        _enqueue(4, 2, "B", "update"),
        _enqueue(5, 3, "C", "delete"),
        _enqueue(6, 4, "D", "update"),
        *[_queue(6 + i, "approve", i, change_id=i, batch_id=1, batch_title="mixed") for i in (1, 2, 3, 4)],
        _queue(12, "apply", 1, change_id=1, batch_id=1),
        _queue(14, "apply", 2, change_id=2, batch_id=1),
        _queue(16, "apply", 3, change_id=3, batch_id=1),
        _queue(18, "apply", 4, change_id=4, batch_id=1),
    ]
    models = {
        (IMAGE, "A"): [_model(11, "A", Operation.CREATE, {"after": A_AFTER})],
        (IMAGE, "B"): [
            _model(1, "B", Operation.CREATE, {"after": B_BEFORE}),
            _model(
                13,
                "B",
                Operation.UPDATE,
                {"delta": {"nsfw": {"old": False, "new": True}, "description": {"old": "old", "new": None}}},
            ),
            # after the batch: must not count
            _model(30, "B", Operation.UPDATE, {"delta": {"baseline": {"old": "flux_1", "new": "flux_dev"}}}),
        ],
        (IMAGE, "C"): [
            _model(2, "C", Operation.CREATE, {"after": C_BEFORE}),
            _model(15, "C", Operation.DELETE, {"before": C_BEFORE}),
        ],
        (IMAGE, "D"): [_model(17, "D", Operation.UPDATE, {"delta": {"description": {"old": None, "new": "d"}}})],
    }
    return replay_queue(queue), models


def test_net_change_targets_span_each_applied_change_s_queue_events() -> None:
    history, _ = _batch_with_every_kind()
    assert net_change_targets(history, 1) == {
        (IMAGE, "A"): (3, 12),
        (IMAGE, "B"): (4, 14),
        (IMAGE, "C"): (5, 16),
        (IMAGE, "D"): (6, 18),
    }


def test_net_change_targets_merge_changes_of_one_model() -> None:
    history = replay_queue(
        [
            _enqueue(1, 1, "A"),
            _enqueue(2, 2, "A", "update"),
            _enqueue(3, 3, "B"),
            _queue(4, "approve", 1, change_id=1, batch_id=1, batch_title="t"),
            _queue(5, "approve", 2, change_id=2, batch_id=1, batch_title="t"),
            _queue(6, "approve", 3, change_id=3, batch_id=1, batch_title="t"),
            _queue(7, "apply", 1, change_id=1, batch_id=1),
            _queue(8, "apply", 2, change_id=2, batch_id=1),
        ]
    )
    # B was approved but not applied: it is no target.
    assert net_change_targets(history, 1) == {(IMAGE, "A"): (1, 8)}


def test_net_changes_per_model() -> None:
    history, models = _batch_with_every_kind()
    view = net_changes_view(history, 1, Format.V2, models, now=999)
    by_name = {c.model_name: c for c in view.model_changes}

    a = by_name["A"]
    assert (a.net_operation, a.before_state, a.after_state) == (NetChangeType.ADDED, None, A_AFTER)
    assert [d.field_path for d in a.field_diffs] == ["baseline", "name", "nsfw"]

    b = by_name["B"]
    assert b.net_operation is NetChangeType.MODIFIED
    assert b.before_state == B_BEFORE
    assert b.after_state == {"name": "B", "baseline": "flux_1", "nsfw": True}
    assert [(d.field_path, d.change_type.value) for d in b.field_diffs] == [
        ("description", "removed"),
        ("nsfw", "modified"),
    ]
    assert b.is_critical

    c = by_name["C"]
    assert (c.net_operation, c.before_state, c.after_state) == (NetChangeType.DELETED, C_BEFORE, None)
    assert {d.change_type.value for d in c.field_diffs} == {"removed"}

    d = by_name["D"]  # its delta cannot be replayed without a known state
    assert (d.net_operation, d.before_state, d.after_state, d.field_diffs) == (
        NetChangeType.UNCHANGED,
        None,
        None,
        [],
    )


def test_net_changes_totals() -> None:
    history, models = _batch_with_every_kind()
    view = net_changes_view(history, 1, Format.LEGACY, models, now=999)
    assert (view.models_added, view.models_modified, view.models_deleted, view.models_unchanged) == (1, 1, 1, 1)
    assert view.total_field_changes == 3 + 2 + 3 + 0
    assert view.has_critical_changes
    assert (view.batch_id, view.batch_title, view.domain, view.generated_at) == (1, "mixed", Format.LEGACY, 999)


def test_net_changes_of_a_harmless_update_are_not_critical() -> None:
    history = replay_queue(
        [
            _enqueue(2, 1, "B", "update"),
            _queue(3, "approve", 1, change_id=1, batch_id=1, batch_title="t"),
            _queue(5, "apply", 1, change_id=1, batch_id=1),
        ]
    )
    models = {
        (IMAGE, "B"): [
            _model(1, "B", Operation.CREATE, {"after": B_BEFORE}),
            _model(4, "B", Operation.UPDATE, {"delta": {"description": {"old": "old", "new": "new"}}}),
        ]
    }
    view = net_changes_view(history, 1, Format.V2, models, now=0)
    assert [(c.net_operation, c.is_critical) for c in view.model_changes] == [(NetChangeType.MODIFIED, False)]
    assert not view.has_critical_changes
    assert view.model_changes[0].after_state == {**B_BEFORE, "description": "new"}


def test_net_changes_of_an_unknown_batch_are_not_found(history: QueueHistory) -> None:
    with pytest.raises(NotFound, match="Batch not found"):
        net_changes_view(history, 7, Format.V2, {}, now=0)
