"""History: the queue's audit views after propose → approve → apply (API.md PQ11, DATA.md §11.5–11.6)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from modelref.domain.audit import Operation
from modelref.domain.categories import Category
from modelref.domain.changes import NetChangeType
from modelref.domain.deployment import Deployment, ReplicateMode
from modelref.domain.formats import Format
from modelref.domain.queue import ApplyPendingChangeRequest, PendingBatchRequest
from modelref.errors import NotFound, NotServed, Unauthorized
from modelref.services.apply import Applier
from modelref.services.auth import Authorizer, Role
from modelref.services.history import History
from modelref.services.proposals import Proposal, Proposals
from modelref.services.review import Review
from modelref.storage.store import Store
from tests.factories import T0, RefusingCaller, approver, horde_auth, image_record, requestor, seed

IMAGE = Category.IMAGE_GENERATION
DEPLOYMENT = Deployment()


def propose(store: Store, operation: Operation, name: str, description: str = "A test model") -> int:
    body = None if operation is Operation.DELETE else image_record(name, description=description)
    path_name = None if operation is Operation.CREATE else name
    proposal = Proposal(Format.V2, IMAGE, operation, f"{operation.value}_v2_model", body, path_name)
    return Proposals(store, DEPLOYMENT).propose(proposal, requestor("1001")).change_id


def decide(store: Store, title: str, approved: Sequence[int] = (), rejected: Sequence[int] = ()) -> int | None:
    request = PendingBatchRequest(
        batch_title=title,
        approved_ids=list(approved),
        rejected_ids=list(rejected),
        reject_reason="no" if rejected else None,
    )
    return Review(store, DEPLOYMENT).decide(approver(), request).batch_id


def applier(store: Store) -> Applier:
    return Applier(store, DEPLOYMENT, lambda _categories: None)


def history(store: Store, deployment: Deployment = DEPLOYMENT) -> History:
    return History(store, deployment, clock=lambda: T0 + 999)


@pytest.fixture
def worked(store: Store) -> Store:
    """Batch 1: create New, update Old, delete Gone, all applied. Batch 2: change 4 approved, 5 rejected.
    Change 6 pending."""
    seed(store, {IMAGE: [image_record("Old"), image_record("Gone")]})
    first = [
        propose(store, Operation.CREATE, "New"),
        propose(store, Operation.UPDATE, "Old", "edited"),
        propose(store, Operation.DELETE, "Gone"),
    ]
    assert decide(store, "first", approved=first) == 1
    applier(store).apply_batch(approver(), 1, "job-1")
    later, nope = propose(store, Operation.CREATE, "Later"), propose(store, Operation.CREATE, "Nope")
    assert decide(store, "second", approved=[later], rejected=[nope]) == 2
    assert propose(store, Operation.CREATE, "Pending") == 6
    return store


def test_current_lists_the_changes_still_pending(worked: Store) -> None:
    current = history(worked).current(approver(), None)
    assert (current.domain, current.total_pending, current.generated_at) == (Format.V2, 1, T0 + 999)
    (pending,) = current.pending_changes
    assert (pending.change_id, pending.status, pending.model_name, pending.operation) == (
        6,
        "pending",
        "Pending",
        "create",
    )
    assert (pending.category, pending.requested_by) == ("image_generation", "1001")
    assert [e.action for e in pending.events] == ["enqueue"]


def test_current_is_newest_first(store: Store) -> None:
    seed(store, {IMAGE: [image_record("Old")]})
    for name in ("A", "B", "C"):
        propose(store, Operation.CREATE, name)
    assert [c.change_id for c in history(store).current(approver(), None).pending_changes] == [3, 2, 1]


def test_batches_newest_first_with_a_cursor(worked: Store) -> None:
    service = history(worked)
    page = service.batches(approver(), None, None, 10)
    assert ([b.batch_id for b in page.batches], page.next_cursor) == ([2, 1], None)
    second, first = page.batches
    assert (first.batch_title, first.approved_by) == ("first", "2002")
    counts = (first.approved_change_count, first.rejected_change_count, first.applied_change_count)
    assert (counts, first.total_change_count) == ((3, 0, 3), 3)
    assert first.applied_at is not None
    counts = (second.approved_change_count, second.rejected_change_count, second.applied_change_count)
    assert (counts, second.total_change_count, second.applied_at) == ((1, 1, 0), 2, None)
    one = service.batches(approver(), None, None, 1)
    assert ([b.batch_id for b in one.batches], one.next_cursor) == ([2], 2)
    rest = service.batches(approver(), None, one.next_cursor, 1)
    assert ([b.batch_id for b in rest.batches], rest.next_cursor) == ([1], None)


def test_batch_detail_has_each_changes_timeline(worked: Store) -> None:
    detail = history(worked).batch(approver(), None, 1)
    assert detail.batch_title == "first"
    assert [(c.change_id, c.status, c.model_name) for c in detail.changes] == [
        (1, "applied", "New"),
        (2, "applied", "Old"),
        (3, "applied", "Gone"),
    ]
    for change in detail.changes:
        assert [e.action for e in change.events] == ["enqueue", "approve", "apply"]
        assert (change.batch_id, change.approved_by, change.applied_by, change.applied_job_id) == (
            1,
            "2002",
            "2002",
            "job-1",
        )
    assert detail.last_event_id == detail.changes[-1].events[-1].event_id
    second = history(worked).batch(approver(), None, 2)
    assert [(c.change_id, c.status, c.reject_reason) for c in second.changes] == [
        (4, "approved", None),
        (5, "rejected", "no"),
    ]


def test_net_changes_of_a_batch(worked: Store) -> None:
    net = history(worked).net_changes(approver(), None, 1)
    assert (net.batch_id, net.batch_title, net.domain, net.generated_at) == (1, "first", Format.V2, T0 + 999)
    assert (net.models_added, net.models_modified, net.models_deleted, net.models_unchanged) == (1, 1, 1, 0)
    by_name = {c.model_name: c for c in net.model_changes}
    assert {n: c.net_operation for n, c in by_name.items()} == {
        "New": NetChangeType.ADDED,
        "Old": NetChangeType.MODIFIED,
        "Gone": NetChangeType.DELETED,
    }
    new, old, gone = by_name["New"], by_name["Old"], by_name["Gone"]
    assert new.before_state is None
    assert new.after_state is not None
    assert new.after_state["metadata"]["created_by"] == "User#1001"
    assert old.before_state is not None
    assert old.after_state is not None
    assert (old.before_state["description"], old.after_state["description"]) == ("A test model", "edited")
    assert "description" in [d.field_path for d in old.field_diffs]
    assert not old.is_critical  # description and metadata only
    assert gone.after_state is None
    assert gone.before_state is not None
    assert gone.before_state["name"] == "Gone"
    assert new.is_critical  # a new download
    assert net.has_critical_changes
    assert net.total_field_changes == sum(len(c.field_diffs) for c in net.model_changes)


def test_a_batch_that_applied_nothing_has_no_net_changes(worked: Store) -> None:
    net = history(worked).net_changes(approver(), None, 2)
    assert (net.model_changes, net.models_added, net.has_critical_changes) == ([], 0, False)


def test_a_split_shows_in_the_history(worked: Store) -> None:
    assert decide(worked, "third", approved=[6]) == 2  # joins the open batch
    applier(worked).apply_one(approver(), 4, ApplyPendingChangeRequest())
    service = history(worked)
    assert [b.batch_id for b in service.batches(approver(), None, None, 10).batches] == [3, 2, 1]
    moved = service.batch(approver(), None, 3)
    assert [(c.change_id, c.status, c.batch_id) for c in moved.changes] == [(6, "approved", 3)]
    # The new batch takes the title the old one had when it split: that of its latest approval.
    assert (moved.batch_title, moved.approved_change_count) == ("third", 1)
    stayed = service.batch(approver(), None, 2)
    assert [(c.change_id, c.status) for c in stayed.changes] == [(4, "applied"), (5, "rejected")]
    assert service.current(approver(), None).total_pending == 0


def test_unknown_batches_and_other_domains(worked: Store) -> None:
    service = history(worked)
    with pytest.raises(NotFound, match="Batch not found"):
        service.batch(approver(), None, 9)
    with pytest.raises(NotFound, match="Batch not found"):
        service.net_changes(approver(), None, 9)
    # The queue's events are in the canonical format's domain: the legacy trail holds none.
    assert service.current(approver(), Format.LEGACY).total_pending == 0
    assert service.batches(approver(), Format.LEGACY, None, 10).batches == []
    with pytest.raises(NotFound):
        service.batch(approver(), Format.LEGACY, 1)


def test_history_is_refused_on_the_wrong_prefix_a_replica_or_a_bad_key(worked: Store) -> None:
    caller = RefusingCaller(Format.LEGACY)
    with pytest.raises(NotServed):
        history(worked).current(caller, None)
    with pytest.raises(NotServed, match="Pending queue is disabled or unsupported"):
        history(worked, Deployment(mode=ReplicateMode.REPLICA)).batches(RefusingCaller(), None, None, 10)
    assert caller.asked == []
    with horde_auth() as auth:
        with pytest.raises(Unauthorized, match="Invalid API key"):
            history(worked).batch(Authorizer(auth, "unknown-key", Role.APPROVER), None, 1)
        detail = history(worked).batch(Authorizer(auth, "approver-key", Role.APPROVER), None, 1)
    assert detail.batch_id == 1
