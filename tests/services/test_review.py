"""Review: reading, diffing, deciding and purging the queue, and the "beta" proposals (API.md §13, §15 E1)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from modelref.domain.audit import ChangeStatus, Operation
from modelref.domain.audit_views import QUEUE
from modelref.domain.categories import Category
from modelref.domain.changes import ChangeFilter, FieldChangeType, NetChangeType
from modelref.domain.convert import legacy_view
from modelref.domain.deployment import Deployment, ReplicateMode
from modelref.domain.formats import Format
from modelref.domain.queue import (
    PendingBatchRequest,
    PendingBatchResult,
    PendingQueuePage,
    PurgePendingChangesRequest,
    PurgePendingChangesResponse,
)
from modelref.domain.records import ClipModelRecord, ImageGenerationModelRecord
from modelref.errors import InvalidTransition, NotFound, NotServed, NotWritable, Unauthorized
from modelref.services.auth import Authorizer, Role
from modelref.services.proposals import Proposal, Proposals
from modelref.services.review import Review
from modelref.storage.store import Store
from tests.factories import (
    T0,
    RefusingCaller,
    approver,
    change,
    horde_auth,
    image_record,
    legacy_clip,
    queue,
    requestor,
    seed,
    v2_record,
)
from tests.support import Clock, audit_events, queued_changes

IMAGE, TEXT, CLIP = Category.IMAGE_GENERATION, Category.TEXT_GENERATION, Category.CLIP
PENDING, APPROVED, APPLIED, REJECTED = (
    ChangeStatus.PENDING,
    ChangeStatus.APPROVED,
    ChangeStatus.APPLIED,
    ChangeStatus.REJECTED,
)


def review(store: Store, deployment: Deployment | None = None, clock: Clock | None = None) -> Review:
    return Review(store, deployment or Deployment(), clock or Clock(T0))


def decide(
    service: Review, approved: Sequence[int] = (), rejected: Sequence[int] = (), title: str = "batch"
) -> PendingBatchResult:
    reason = "not wanted" if rejected else None
    request = PendingBatchRequest(
        batch_title=title, approved_ids=list(approved), rejected_ids=list(rejected), reject_reason=reason
    )
    return service.decide(approver(), request)


def ids(page: PendingQueuePage) -> list[int]:
    return [c.change_id for c in page.items]


@pytest.fixture
def mixed_queue(store: Store) -> Store:
    """Eight changes from three requestors over three categories, in every status."""
    queue(
        store,
        change(1, model_name="Alpha", requested_by="1001"),
        change(2, model_name="alpha-2", requested_by="1001", status=APPROVED, batch_id=1),
        change(3, category=CLIP, model_name="ViT-ÜNÏ/14", requested_by="3003"),
        change(4, category=CLIP, model_name="Beta", requested_by="3003", status=REJECTED),
        change(5, category=TEXT, model_name="Org/Ünï-7B", requested_by="1001", status=APPLIED, batch_id=1),
        change(6, model_name="Gamma", requested_by="4004", status=APPROVED, batch_id=2),
        change(7, category=TEXT, model_name="Org/Straße-7B", requested_by="4004"),
        change(8, model_name="ALPHA three", requested_by="1001"),
    )
    return store


# -- reading the queue -------------------------------------------------------------------------------------


def test_my_changes_are_only_the_callers(mixed_queue: Store) -> None:
    service = review(mixed_queue)
    mine = service.my_changes(requestor("1001"), ChangeFilter(), 0, 50)
    assert ids(mine) == [1, 2, 5, 8]
    assert (mine.total, mine.has_more) == (4, False)
    # Asking for someone else's changes still answers with one's own.
    assert ids(service.my_changes(requestor("1001"), ChangeFilter(requested_by=["3003"]), 0, 50)) == [1, 2, 5, 8]
    pending = service.my_changes(requestor("1001"), ChangeFilter(statuses=[PENDING]), 0, 50)
    assert ids(pending) == [1, 8]
    text = service.my_changes(requestor("1001"), ChangeFilter(categories=[TEXT]), 0, 50)
    assert ids(text) == [5]
    assert ids(service.my_changes(requestor("9999"), ChangeFilter(), 0, 50)) == []


FILTERED: list[tuple[ChangeFilter, list[int]]] = [
    (ChangeFilter(), [1, 2, 3, 4, 5, 6, 7, 8]),
    (ChangeFilter(statuses=[PENDING]), [1, 3, 7, 8]),
    (ChangeFilter(statuses=[APPROVED, REJECTED]), [2, 4, 6]),
    (ChangeFilter(categories=[CLIP]), [3, 4]),
    (ChangeFilter(categories=[CLIP, TEXT]), [3, 4, 5, 7]),
    (ChangeFilter(batch_id=1), [2, 5]),
    (ChangeFilter(batch_id=3), []),
    (ChangeFilter(model_name="alpha"), [1, 2, 8]),
    (ChangeFilter(model_name="  ALPHA-  "), [2]),
    (ChangeFilter(model_name="ÜNÏ"), [3, 5]),
    (ChangeFilter(model_name="ünï/"), [3]),
    (ChangeFilter(model_name="STRASSE"), [7]),  # "ß" folds to "ss"
    (ChangeFilter(model_name="org/"), [5, 7]),
    (ChangeFilter(model_name="   "), [1, 2, 3, 4, 5, 6, 7, 8]),  # a blank needle is no condition
    (ChangeFilter(requested_by=["3003", " 4004 "]), [3, 4, 6, 7]),  # filter ids are trimmed
    (ChangeFilter(requested_by=["", "  "]), [1, 2, 3, 4, 5, 6, 7, 8]),
    (ChangeFilter(statuses=[PENDING], categories=[IMAGE], model_name="a", requested_by=["1001"]), [1, 8]),
    (ChangeFilter(statuses=[APPLIED], batch_id=1, model_name="ünï"), [5]),
]
"""Filters over ``mixed_queue`` and the change ids they select (one store serves every case)."""


def test_changes_with_every_filter(mixed_queue: Store) -> None:
    service = review(mixed_queue)
    for filters, expected in FILTERED:
        page = service.changes(approver(), filters, 0, 50)
        assert (ids(page), page.total) == (expected, len(expected)), filters


def test_changes_are_counted_then_paged(mixed_queue: Store) -> None:
    service = review(mixed_queue)
    first = service.changes(approver(), ChangeFilter(), 0, 3)
    assert (ids(first), first.total, first.offset, first.limit, first.has_more) == ([1, 2, 3], 8, 0, 3, True)
    last = service.changes(approver(), ChangeFilter(), 6, 3)
    assert (ids(last), last.total, last.has_more) == ([7, 8], 8, False)
    beyond = service.changes(approver(), ChangeFilter(), 20, 3)
    assert (ids(beyond), beyond.total, beyond.has_more) == ([], 8, False)
    pending = service.changes(approver(), ChangeFilter(statuses=[PENDING]), 1, 2)
    assert (ids(pending), pending.total, pending.has_more) == ([3, 7], 4, True)


def test_change_and_not_found(mixed_queue: Store) -> None:
    service = review(mixed_queue)
    assert service.change(approver(), 3).model_name == "ViT-ÜNÏ/14"
    with pytest.raises(NotFound, match="Change not found"):
        service.change(approver(), 99)


# -- diffs -------------------------------------------------------------------------------------------------


def test_diffs_of_create_update_and_delete(store: Store) -> None:
    seed(store, {IMAGE: [image_record("Old"), image_record("Gone")]})
    with store.read() as tx:
        old = tx.records.get(IMAGE, "Old")
        gone = tx.records.get(IMAGE, "Gone")
    assert old is not None
    assert gone is not None
    queue(
        store,
        change(1, model_name="New"),
        change(2, model_name="Old", operation=Operation.UPDATE, payload={**old, "baseline": "flux_1", "version": "2"}),
        change(3, model_name="Gone", operation=Operation.DELETE, payload=gone),
        change(4, model_name="Old", operation=Operation.UPDATE, payload=old),
    )
    service = review(store)
    created = service.diff(approver(), 1)
    assert (created.net_operation, created.current_state) == (NetChangeType.ADDED, None)
    assert all(d.change_type is FieldChangeType.ADDED for d in created.field_diffs)
    assert "config.download" in created.fields_added
    assert created.is_critical
    updated = service.diff(approver(), 2)
    assert updated.net_operation is NetChangeType.MODIFIED
    assert updated.current_state == old
    assert (updated.fields_modified, updated.fields_added) == (["baseline"], ["version"])
    assert updated.is_critical  # baseline is a critical image field
    deleted = service.diff(approver(), 3)
    assert (deleted.net_operation, deleted.field_diffs) == (NetChangeType.DELETED, [])
    unchanged = service.diff(approver(), 4)
    assert (unchanged.net_operation, unchanged.is_critical) == (NetChangeType.UNCHANGED, False)
    with pytest.raises(NotFound, match="Change not found"):
        service.diff(approver(), 5)


def test_a_legacy_change_is_diffed_against_the_legacy_view(store: Store) -> None:
    seed(store, {CLIP: [v2_record(CLIP, "ViT-Old", config={"download": [{"file_name": "a.pt", "file_url": "u"}]})]})
    legacy = Deployment(canonical_format=Format.LEGACY)
    proposals = Proposals(store, legacy)
    with store.read() as tx:
        stored = tx.records.get(CLIP, "ViT-Old")
    assert stored is not None
    current = legacy_view(CLIP, "ViT-Old", stored)
    proposal = Proposal(Format.LEGACY, CLIP, Operation.UPDATE, "update_legacy_clip_model", {**current, "version": "2"})
    proposed = proposals.propose(proposal, requestor(api=Format.LEGACY))
    diff = review(store, legacy).diff(approver(api=Format.LEGACY), proposed.change_id)
    assert diff.current_state == current  # the legacy entry, not the v2 document
    assert diff.current_state is not None
    assert "record_type" not in diff.current_state
    assert [(d.field_path, d.change_type) for d in diff.field_diffs] == [("version", FieldChangeType.ADDED)]
    assert diff.net_operation is NetChangeType.MODIFIED


def test_diffs_report_each_missing_change_as_an_error(mixed_queue: Store) -> None:
    page = review(mixed_queue).diffs(approver(), [3, 99, 1])
    assert [d.change_id for d in page.diffs] == [3, 1]
    assert page.total == 3
    assert [e.model_dump() for e in page.errors] == [
        {"change_id": 99, "error": "Change not found", "error_type": "NotFound"}
    ]


# -- deciding ----------------------------------------------------------------------------------------------


def test_approvals_join_the_open_batch(store: Store) -> None:
    queue(store, *(change(i) for i in range(1, 6)))
    clock = Clock(T0 + 10)
    service = review(store, clock=clock)
    first = decide(service, approved=[2, 1], title="  first  ")
    assert (first.batch_id, first.batch_title) == (1, "first")
    assert [c.change_id for c in first.approved] == [1, 2]
    assert all(c.status is APPROVED and c.batch_id == 1 for c in first.approved)
    assert (first.approved[0].approved_by, first.approved[0].approved_at, first.approved[0].updated_at) == (
        "2002",
        T0 + 10,
        T0 + 10,
    )
    second = decide(service, approved=[3], title="second")
    assert second.batch_id == 1  # the batch still holds approved changes: it is the open one
    # Once no change is approved any more, the next approval opens a new batch.
    with store.write() as tx:
        for change_id in (1, 2, 3):
            found = tx.queue.get(change_id)
            assert found is not None
            tx.queue.save(found.model_copy(update={"status": APPLIED}))
    third = decide(service, approved=[4], title="third")
    assert third.batch_id == 2
    assert [(c.change_id, c.status, c.batch_id) for c in queued_changes(store)] == [
        (1, APPLIED, 1),
        (2, APPLIED, 1),
        (3, APPLIED, 1),
        (4, APPROVED, 2),
        (5, PENDING, None),
    ]


def test_rejections_get_the_batch_only_when_the_request_also_approves(store: Store) -> None:
    queue(store, *(change(i) for i in range(1, 5)))
    service = review(store)
    only_rejects = decide(service, rejected=[1])
    assert only_rejects.batch_id is None
    assert only_rejects.approved == []
    assert [(c.status, c.batch_id, c.reject_reason, c.rejected_by) for c in only_rejects.rejected] == [
        (REJECTED, None, "not wanted", "2002")
    ]
    both = decide(service, approved=[2], rejected=[3, 4])
    assert both.batch_id == 1
    assert [(c.change_id, c.status, c.batch_id) for c in both.rejected] == [(3, REJECTED, 1), (4, REJECTED, 1)]
    events = [e.payload_value()["after"] for e in audit_events(store) if e.category == QUEUE]
    assert [(e["action"], e["change_id"], e.get("batch_id")) for e in events] == [
        ("reject", 1, None),
        ("approve", 2, 1),
        ("reject", 3, 1),
        ("reject", 4, 1),
    ]
    assert "batch_id" not in events[0]
    assert events[0]["reason"] == "not wanted"


def test_deciding_a_change_that_is_not_pending_saves_nothing(store: Store) -> None:
    queue(store, change(1), change(2, status=APPLIED, batch_id=1), change(3))
    before = queued_changes(store)
    events = len(audit_events(store))
    service = review(store)
    with pytest.raises(InvalidTransition, match=r"Change 2 is not pending \(status=applied\)"):
        decide(service, approved=[1, 2])
    with pytest.raises(InvalidTransition, match="Change 9 does not exist"):
        decide(service, approved=[3], rejected=[9])
    assert queued_changes(store) == before
    assert len(audit_events(store)) == events
    assert decide(service, approved=[1]).batch_id == 2  # batch 1 is taken; the refusals used up no id


def test_review_on_the_wrong_prefix_or_a_replica_is_refused_before_the_caller(mixed_queue: Store) -> None:
    caller = RefusingCaller(Format.LEGACY)
    service = review(mixed_queue)
    with pytest.raises(NotServed, match="canonical format is 'v2', not the /v1 one"):
        service.changes(caller, ChangeFilter(), 0, 10)
    with pytest.raises(NotServed):
        service.decide(caller, PendingBatchRequest(batch_title="t", approved_ids=[1]))
    replica = review(mixed_queue, Deployment(mode=ReplicateMode.REPLICA))
    with pytest.raises(NotWritable, match="REPLICA"):
        replica.my_changes(RefusingCaller(), ChangeFilter(), 0, 10)
    legacy = review(mixed_queue, Deployment(canonical_format=Format.LEGACY))
    with pytest.raises(NotServed, match="not the /v2 one"):
        legacy.proposals(RefusingCaller(), IMAGE)
    assert caller.asked == []
    assert ids(legacy.changes(approver(api=Format.LEGACY), ChangeFilter(batch_id=2), 0, 10)) == [6]


def test_an_unauthorized_approver_decides_nothing(store: Store) -> None:
    queue(store, change(1))
    with horde_auth() as auth:
        requestor_only = Authorizer(auth, "requestor-key", Role.APPROVER)
        with pytest.raises(Unauthorized, match="approver list"):
            review(store).decide(requestor_only, PendingBatchRequest(batch_title="t", approved_ids=[1]))
        with pytest.raises(Unauthorized, match="approver list"):
            review(store).purge(requestor_only, PurgePendingChangesRequest(purge_all=True))
        result = review(store).decide(
            Authorizer(auth, "approver-key", Role.APPROVER),
            PendingBatchRequest(batch_title="t", rejected_ids=[1], reject_reason="no"),
        )
    assert result.rejected[0].rejected_username == "App#2002"
    assert [(e.payload_value()["after"]["action"]) for e in audit_events(store)] == ["reject"]


# -- purging -----------------------------------------------------------------------------------------------


def purge(service: Review, **fields: Any) -> PurgePendingChangesResponse:
    return service.purge(approver(), PurgePendingChangesRequest(**fields))


def test_purge_dry_run_reports_and_removes_nothing(mixed_queue: Store) -> None:
    result = purge(review(mixed_queue), statuses=[PENDING], dry_run=True)
    assert (result.removed_count, result.removed_change_ids, result.dry_run) == (4, [1, 3, 7, 8], True)
    assert len(queued_changes(mixed_queue)) == 8
    assert audit_events(mixed_queue) == []


PURGED: list[tuple[dict[str, Any], list[int]]] = [
    ({"statuses": [APPLIED, REJECTED]}, [4, 5]),
    ({"categories": [CLIP]}, [3, 4]),
    ({"model_name": "ünï"}, [3, 5]),
    ({"requested_by": ["1001"]}, [1, 2, 5, 8]),
    ({"statuses": [PENDING], "model_name": "ALPHA"}, [1, 8]),
    ({"model_name": "nothing like it"}, []),
    ({"purge_all": True, "statuses": [PENDING]}, [1, 2, 3, 4, 5, 6, 7, 8]),  # purge_all ignores filters
]
"""Purge filters over ``mixed_queue`` and the change ids they select, in any status."""


def test_purge_selects_matches_in_any_status(mixed_queue: Store) -> None:
    service = review(mixed_queue)
    for filters, removed in PURGED:
        result = purge(service, **filters, dry_run=True)
        assert (result.removed_count, result.removed_change_ids) == (len(removed), removed), filters
    assert len(queued_changes(mixed_queue)) == 8
    assert audit_events(mixed_queue) == []


def test_purge_removes_and_audits_each_change(mixed_queue: Store) -> None:
    result = purge(review(mixed_queue), statuses=[APPLIED, REJECTED, APPROVED])
    assert (result.removed_count, result.removed_change_ids, result.dry_run) == (4, [2, 4, 5, 6], False)
    assert [c.change_id for c in queued_changes(mixed_queue)] == [1, 3, 7, 8]
    events = audit_events(mixed_queue)
    assert [e.model_name for e in events] == ["2", "4", "5", "6"]
    assert all(e.category == QUEUE and e.logical_user_id == "2002" for e in events)
    assert [e.payload_value()["after"]["action"] for e in events] == ["purge"] * 4


def test_purge_events_name_what_was_removed_and_ids_are_never_reused(store: Store) -> None:
    seed(store, {IMAGE: [image_record("Old")]})
    proposals = Proposals(store, Deployment())
    proposals.propose(Proposal(Format.V2, IMAGE, Operation.CREATE, "c", image_record("New")), requestor("1001"))
    result = purge(review(store), purge_all=True)
    assert result.removed_change_ids == [1]
    event = audit_events(store)[-1]
    assert event.payload_value()["after"] == {
        "change_id": 1,
        "category": "image_generation",
        "model": "New",
        "requested_by": "1001",
        "purged_by_username": "User#2002",
        "action": "purge",
    }
    again = proposals.propose(Proposal(Format.V2, IMAGE, Operation.CREATE, "c", image_record("New")), requestor())
    assert again.change_id == 2


# -- the "beta" proposals (E1) -----------------------------------------------------------------------------


def test_proposals_show_the_latest_create_or_update_per_name(store: Store) -> None:
    seed(store, {IMAGE: [image_record("Old")]})
    queue(
        store,
        change(1, model_name="New", payload=image_record("New", description="first"), at=T0 + 1),
        change(2, model_name="New", payload=image_record("New", description="second"), at=T0 + 2),
        change(3, model_name="Old", operation=Operation.DELETE, payload=image_record("Old")),
        change(4, model_name="Old", operation=Operation.UPDATE, payload=image_record("Old", description="upd")),
        change(5, model_name="Dropped", status=REJECTED),
        change(6, model_name="Done", status=APPLIED, batch_id=1),
        change(7, model_name="Approved", status=APPROVED, batch_id=2),
        change(8, category=CLIP, model_name="Elsewhere"),
        change(9, model_name="Deleted only", operation=Operation.DELETE, payload=image_record("Deleted only")),
    )
    service = review(store)
    beta = service.proposals(approver(), IMAGE)
    assert sorted(beta) == ["Approved", "New", "Old"]  # deletes, rejected and applied changes never show
    assert isinstance(beta["New"], ImageGenerationModelRecord)
    assert beta["New"].description == "second"
    assert beta["Old"].description == "upd"
    # Approving the older one moves its updated_at past the newer one's: it now wins (API.md E1).
    decide(Review(store, Deployment(), Clock(T0 + 100)), approved=[1])
    assert service.proposals(approver(), IMAGE)["New"].description == "first"
    assert list(service.proposals(approver(), CLIP)) == ["Elsewhere"]
    assert service.proposals(approver(), TEXT) == {}


def test_proposals_break_ties_by_change_id_and_skip_payloads_that_no_longer_fit(store: Store) -> None:
    queue(
        store,
        change(1, model_name="Tie", payload=image_record("Tie", description="one")),
        change(2, model_name="Tie", payload=image_record("Tie", description="two")),
        change(3, model_name="Broken", payload={"name": "Broken", "baseline": "stable_diffusion_xl"}),  # no nsfw
    )
    beta = review(store).proposals(approver(), IMAGE)
    assert list(beta) == ["Tie"]
    assert beta["Tie"].description == "two"


def test_legacy_proposals_are_converted_to_v2(store: Store) -> None:
    legacy = Deployment(canonical_format=Format.LEGACY)
    Proposals(store, legacy).propose(
        Proposal(Format.LEGACY, CLIP, Operation.CREATE, "create_legacy_clip_model", legacy_clip("Legacy CLIP")),
        requestor(api=Format.LEGACY),
    )
    beta = review(store, legacy).proposals(approver(api=Format.LEGACY), CLIP)
    record = beta["Legacy CLIP"]
    assert isinstance(record, ClipModelRecord)
    assert record.description == "a legacy clip"
    assert [d.file_name for d in record.config.download] == ["Legacy CLIP.pt"]
    assert record.config.download[0].sha256sum == "b" * 64
