"""Applier: one transaction per change, idempotent per job id, one refresh per request (DATA.md §10.3–10.4)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import pytest

from modelref.domain.audit import ChangeStatus, Operation
from modelref.domain.audit_views import QUEUE
from modelref.domain.categories import Category
from modelref.domain.deployment import Deployment, ReplicateMode
from modelref.domain.formats import Format
from modelref.domain.queue import (
    ApplyPendingChangeRequest,
    ApplyPendingChangesRequest,
    ApplyPendingChangesResponse,
    PendingBatchRequest,
)
from modelref.errors import (
    IncompleteApply,
    InvalidPayload,
    InvalidTransition,
    NotFound,
    NotServed,
    NotWritable,
    Unauthorized,
)
from modelref.services.apply import Applier
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
from tests.support import audit_events, queued_changes

IMAGE, CLIP = Category.IMAGE_GENERATION, Category.CLIP
APPROVED, APPLIED, REJECTED = ChangeStatus.APPROVED, ChangeStatus.APPLIED, ChangeStatus.REJECTED
NOW = T0 + 50


class Refresher:
    """Stands in for the catalog: records every ``hold`` and ``on_applied`` call, in order."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.applied: list[set[Category]] = []

    def on_applied(self, categories: set[Category]) -> None:
        self.log.append("on_applied")
        self.applied.append(set(categories))

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        self.log.append("hold")
        try:
            yield
        finally:
            self.log.append("release")


@pytest.fixture
def refresher() -> Refresher:
    return Refresher()


def applier(store: Store, refresher: Refresher, deployment: Deployment | None = None) -> Applier:
    return Applier(store, deployment or Deployment(), refresher.on_applied, hold=refresher.hold, clock=lambda: NOW)


def job(job_id: str | None = None) -> ApplyPendingChangeRequest:
    return ApplyPendingChangeRequest(job_id=job_id)


def many(*change_ids: int, job_id: str | None = None, allow_mixed_batch: bool = False) -> ApplyPendingChangesRequest:
    return ApplyPendingChangesRequest(change_ids=list(change_ids), job_id=job_id, allow_mixed_batch=allow_mixed_batch)


def statuses(store: Store) -> list[tuple[int, ChangeStatus, int | None]]:
    return [(c.change_id, c.status, c.batch_id) for c in queued_changes(store)]


@pytest.fixture
def seeded(store: Store) -> Store:
    seed(store, {IMAGE: [image_record("Old"), image_record("Gone")], CLIP: [v2_record(CLIP, "ViT-Old")]})
    return store


def vanish(store: Store, category: Category, name: str) -> None:
    """Remove a record behind the queue's back (as an import or another change would)."""
    with store.write() as tx:
        assert tx.records.delete(category, name)
        tx.records.touch(category)


# -- one change ------------------------------------------------------------------------------------------


def test_apply_one_writes_the_record_and_marks_the_change_applied(seeded: Store, refresher: Refresher) -> None:
    queue(seeded, change(1, model_name="New", status=APPROVED, batch_id=1))
    version = seeded.versions()[IMAGE]
    events = len(audit_events(seeded))
    response = applier(seeded, refresher).apply_one(approver(), 1, job("  job-A "))
    record = response.record
    assert (record.status, record.applied_job_id, record.applied_by, record.applied_username) == (
        APPLIED,
        "job-A",
        "2002",
        "User#2002",
    )
    assert (record.applied_at, record.updated_at) == (NOW, NOW)
    assert not response.batch_split_occurred
    assert queued_changes(seeded) == [record]
    with seeded.read() as tx:
        stored = tx.records.get(IMAGE, "New")
        state = tx.records.state(IMAGE, 3)
    assert stored is not None
    assert stored["metadata"] == {
        "schema_version": "2.0.0",
        "created_at": NOW,
        "updated_at": NOW,
        "created_by": "User#1001",
        "updated_by": "User#1001",
    }
    assert seeded.versions()[IMAGE] == version + 1
    assert state is not None
    assert (state.last_operation_type, state.last_operation_model, state.last_updated) == ("create", "New", NOW)
    model_event, apply_event = audit_events(seeded)[events:]
    assert (model_event.category, model_event.model_name, model_event.operation) == (
        "image_generation",
        "New",
        Operation.CREATE,
    )
    assert (model_event.request_id, model_event.logical_user_id, model_event.domain) == ("job-A", "2002", Format.V2)
    assert model_event.payload_value() == {"after": stored}
    assert (apply_event.category, apply_event.model_name) == (QUEUE, "1")
    assert apply_event.payload_value() == {
        "after": {"change_id": 1, "batch_id": 1, "job_id": "job-A", "action": "apply"}
    }
    assert refresher.applied == [{IMAGE}]
    assert refresher.log == ["hold", "release", "on_applied"]  # refreshed once, after the hold is let go


def test_update_and_delete(seeded: Store, refresher: Refresher) -> None:
    with seeded.read() as tx:
        old = tx.records.get(IMAGE, "Old")
        gone = tx.records.get(IMAGE, "Gone")
    assert old is not None
    assert gone is not None
    queue(
        seeded,
        change(
            1,
            model_name="Old",
            operation=Operation.UPDATE,
            payload={**old, "description": "new"},
            status=APPROVED,
            batch_id=1,
        ),
        change(2, model_name="Gone", operation=Operation.DELETE, payload=gone, status=APPROVED, batch_id=1),
    )
    service = applier(seeded, refresher)
    service.apply_one(approver(), 1, job("j1"))
    service.apply_one(approver(), 2, job("j2"))
    with seeded.read() as tx:
        updated = tx.records.get(IMAGE, "Old")
        assert tx.records.get(IMAGE, "Gone") is None
        state = tx.records.state(IMAGE, 1)
    assert updated is not None
    assert updated["description"] == "new"
    assert updated["metadata"]["created_at"] == T0  # kept from the stored record
    assert (updated["metadata"]["updated_at"], updated["metadata"]["updated_by"]) == (NOW, "User#1001")
    assert state is not None
    assert (state.total_creates, state.total_updates, state.total_deletes) == (2, 1, 1)  # 2 from the import
    events = [e for e in audit_events(seeded) if e.category == "image_generation"][-2:]
    assert [e.operation for e in events] == [Operation.UPDATE, Operation.DELETE]
    assert events[0].payload_value() == {
        "delta": {
            "description": {"old": "A test model", "new": "new"},
            "metadata": {"old": old["metadata"], "new": updated["metadata"]},
        }
    }
    assert events[1].payload_value() == {"before": gone}
    assert refresher.applied == [{IMAGE}, {IMAGE}]


def test_a_create_records_the_requester_as_its_creator_whatever_the_payload_claims(
    seeded: Store, refresher: Refresher
) -> None:
    """DATA.md §12.1 and §18.10: ``created_by`` is set by the server to the requester's username."""
    forged = image_record("New", metadata={"created_by": "Forger#9"})
    proposed = Proposals(seeded, Deployment()).propose(
        Proposal(Format.V2, IMAGE, Operation.CREATE, "create_v2_image_generation", forged), requestor("1001")
    )
    Review(seeded, Deployment()).decide(
        approver(), PendingBatchRequest(batch_title="t", approved_ids=[proposed.change_id])
    )
    applier(seeded, refresher).apply_one(approver(), proposed.change_id, job())
    with seeded.read() as tx:
        stored = tx.records.get(IMAGE, "New")
    assert stored is not None
    assert stored["metadata"]["updated_by"] == "User#1001"
    assert stored["metadata"]["created_by"] == "User#1001"


def test_the_same_job_id_again_is_a_no_op(seeded: Store, refresher: Refresher) -> None:
    queue(seeded, change(1, model_name="New", status=APPROVED, batch_id=1))
    service = applier(seeded, refresher)
    first = service.apply_one(approver(), 1, job("job-A"))
    versions, events = seeded.versions(), len(audit_events(seeded))
    with seeded.read() as tx:
        stored = tx.records.get(IMAGE, "New")
    again = service.apply_one(approver("2003"), 1, job("job-A"))
    assert again.record == first.record  # the first application's record, applied_by included
    assert seeded.versions() == versions
    assert len(audit_events(seeded)) == events
    with seeded.read() as tx:
        assert tx.records.get(IMAGE, "New") == stored
    with pytest.raises(InvalidTransition, match=r"Change 1 is not approved \(status=applied\)"):
        service.apply_one(approver(), 1, job("job-B"))
    with pytest.raises(InvalidTransition):  # a server-chosen job id is never the same one
        service.apply_one(approver(), 1, job("   "))
    assert seeded.versions() == versions
    assert len(audit_events(seeded)) == events


def test_a_retry_changes_nothing_even_while_its_batch_still_has_work(seeded: Store, refresher: Refresher) -> None:
    """DATA.md §10.4 (DESIGN): applying an applied change again with the same job id is a no-op success."""
    with seeded.read() as tx:
        gone = tx.records.get(IMAGE, "Gone")
    assert gone is not None
    queue(
        seeded,
        change(1, model_name="A", status=APPROVED, batch_id=1),
        change(2, model_name="Gone", operation=Operation.DELETE, payload=gone, status=APPROVED, batch_id=1),
    )
    vanish(seeded, IMAGE, "Gone")
    service = applier(seeded, refresher)
    with pytest.raises(IncompleteApply):
        service.apply_batch(approver(), 1, "job-A")  # applies 1, fails on 2: both stay in batch 1
    before, events = statuses(seeded), len(audit_events(seeded))
    assert before == [(1, APPLIED, 1), (2, APPROVED, 1)]
    again = service.apply_one(approver(), 1, job("job-A"))  # the client retries the change that went through
    assert again.record.applied_job_id == "job-A"
    assert not again.batch_split_occurred
    assert statuses(seeded) == before  # change 2 still waits in its batch, to be retried with it
    assert len(audit_events(seeded)) == events


def test_a_server_chosen_job_id(seeded: Store, refresher: Refresher) -> None:
    queue(seeded, change(7, model_name="New", status=APPROVED, batch_id=1))
    record = applier(seeded, refresher).apply_one(approver(), 7, job("  ")).record
    assert record.applied_job_id is not None
    assert re.fullmatch(r"apply-7-[0-9a-f]{32}", record.applied_job_id)


def test_apply_one_refuses_missing_and_unapproved_changes(seeded: Store, refresher: Refresher) -> None:
    queue(seeded, change(1, model_name="New"), change(2, model_name="No", status=REJECTED))
    service = applier(seeded, refresher)
    with pytest.raises(NotFound, match="Change 9 not found."):
        service.apply_one(approver(), 9, job())
    with pytest.raises(InvalidTransition, match=r"status=pending"):
        service.apply_one(approver(), 1, job())
    with pytest.raises(InvalidTransition, match=r"status=rejected"):
        service.apply_one(approver(), 2, job())
    assert statuses(seeded) == [(1, ChangeStatus.PENDING, None), (2, REJECTED, None)]
    assert refresher.applied == []  # nothing touched: nothing to refresh
    assert refresher.log == ["hold", "release"] * 3


def test_a_delete_of_a_vanished_record_is_an_invalid_payload(seeded: Store, refresher: Refresher) -> None:
    with seeded.read() as tx:
        gone = tx.records.get(IMAGE, "Gone")
    assert gone is not None
    queue(seeded, change(1, model_name="Gone", operation=Operation.DELETE, payload=gone, status=APPROVED, batch_id=1))
    vanish(seeded, IMAGE, "Gone")
    versions, events = seeded.versions(), len(audit_events(seeded))
    with pytest.raises(InvalidPayload, match="model 'Gone' no longer exists"):
        applier(seeded, refresher).apply_one(approver(), 1, job("j"))
    assert statuses(seeded) == [(1, APPROVED, 1)]  # still approved: it can be purged or retried
    assert (seeded.versions(), len(audit_events(seeded))) == (versions, events)


def test_a_payload_that_no_longer_fits_is_an_invalid_payload(seeded: Store, refresher: Refresher) -> None:
    queue(seeded, change(1, model_name="Bad", payload={"name": "Bad", "baseline": "x"}, status=APPROVED, batch_id=1))
    with pytest.raises(InvalidPayload, match="not a valid record"):
        applier(seeded, refresher).apply_one(approver(), 1, job())
    with seeded.read() as tx:
        assert tx.records.get(IMAGE, "Bad") is None


def test_a_legacy_change_is_converted_when_applied(store: Store, refresher: Refresher) -> None:
    legacy = Deployment(canonical_format=Format.LEGACY)
    proposed = Proposals(store, legacy).propose(
        Proposal(Format.LEGACY, CLIP, Operation.CREATE, "create_legacy_clip_model", legacy_clip("Legacy CLIP")),
        requestor(api=Format.LEGACY),
    )
    Review(store, legacy).decide(
        approver(api=Format.LEGACY), PendingBatchRequest(batch_title="t", approved_ids=[proposed.change_id])
    )
    applier(store, refresher, legacy).apply_one(approver(api=Format.LEGACY), proposed.change_id, job("j"))
    with store.read() as tx:
        stored = tx.records.get(CLIP, "Legacy CLIP")
    assert stored is not None
    assert stored["record_type"] == "clip"  # stored as v2
    assert stored["config"]["download"][0]["sha256sum"] == "b" * 64
    model_event, apply_event = audit_events(store)[-2:]
    assert (model_event.domain, model_event.category) == (Format.LEGACY, "clip")  # the write's own format
    assert (apply_event.domain, apply_event.category) == (Format.LEGACY, QUEUE)


# -- several changes ---------------------------------------------------------------------------------------


def test_apply_many_stops_at_the_first_failure(seeded: Store, refresher: Refresher) -> None:
    with seeded.read() as tx:
        gone = tx.records.get(IMAGE, "Gone")
    assert gone is not None
    queue(
        seeded,
        change(1, model_name="A", status=APPROVED, batch_id=1),
        change(2, model_name="Gone", operation=Operation.DELETE, payload=gone, status=APPROVED, batch_id=1),
        change(3, model_name="C", status=APPROVED, batch_id=1),
    )
    vanish(seeded, IMAGE, "Gone")
    with pytest.raises(IncompleteApply) as raised:
        applier(seeded, refresher).apply_many(approver(), many(1, 2, 3, job_id="bulk"))
    error = raised.value
    assert isinstance(error.cause, InvalidPayload)
    assert error.code == "invalid_payload"
    outcome = error.outcome
    assert isinstance(outcome, ApplyPendingChangesResponse)
    assert [c.change_id for c in outcome.applied] == [1]
    assert outcome.applied[0].applied_job_id == "bulk"
    assert (outcome.failed_change_id, outcome.failed_error_type) == (2, "PendingChangePayloadError")
    assert outcome.failed_error == error.detail
    assert not outcome.batch_split_occurred
    assert statuses(seeded) == [(1, APPLIED, 1), (2, APPROVED, 1), (3, APPROVED, 1)]
    with seeded.read() as tx:
        assert tx.records.get(IMAGE, "A") is not None
        assert tx.records.get(IMAGE, "C") is None
    assert refresher.applied == [{IMAGE}]  # what was applied is refreshed, failure or not


def test_apply_many_refuses_mixed_batches_unless_allowed(seeded: Store, refresher: Refresher) -> None:
    queue(
        seeded,
        change(1, model_name="A", status=APPROVED, batch_id=1),
        change(2, category=CLIP, model_name="B", status=APPROVED, batch_id=2),
        change(3, model_name="C", status=APPROVED),
    )
    service = applier(seeded, refresher)
    with pytest.raises(InvalidTransition, match=r"Found batch IDs: \[1, 2\]"):
        service.apply_many(approver(), many(2, 1))
    with pytest.raises(InvalidTransition, match="not been approved in a batch"):
        service.apply_many(approver(), many(1, 3))
    with pytest.raises(NotFound, match="Change 9 not found"):
        service.apply_many(approver(), many(1, 9))
    assert refresher.log == []  # refused before anything was held or applied
    assert [s for _, s, _ in statuses(seeded)] == [APPROVED] * 3
    response = service.apply_many(approver(), many(2, 1, allow_mixed_batch=True))
    assert [c.change_id for c in response.applied] == [2, 1]  # in the order asked
    assert response.failed_change_id is None
    assert refresher.applied == [{IMAGE, CLIP}]
    assert refresher.log == ["hold", "release", "on_applied"]


def test_a_request_splits_the_rest_of_the_batch_once(seeded: Store, refresher: Refresher) -> None:
    with seeded.read() as tx:
        gone = tx.records.get(IMAGE, "Gone")
    assert gone is not None
    queue(
        seeded,
        change(1, model_name="A", status=APPROVED, batch_id=1),
        change(2, model_name="B", status=APPROVED, batch_id=1),
        change(3, model_name="Gone", operation=Operation.DELETE, payload=gone, status=APPROVED, batch_id=1),
        change(4, model_name="D", status=APPROVED, batch_id=1),
        change(5, model_name="E", status=REJECTED, batch_id=1),
    )
    service = applier(seeded, refresher)
    single = service.apply_one(approver(), 2, job())
    assert single.model_dump(exclude={"record"}) == {
        "batch_split_occurred": True,
        "batch_split_original_batch_id": 1,
        "batch_split_new_batch_id": 2,
        "batch_split_reassigned_count": 3,
    }
    assert statuses(seeded) == [(1, APPROVED, 2), (2, APPLIED, 1), (3, APPROVED, 2), (4, APPROVED, 2), (5, REJECTED, 1)]
    splits = [e.payload_value()["after"] for e in audit_events(seeded) if e.model_name == "queue"]
    assert splits == [
        {
            "original_batch_id": 1,
            "new_batch_id": 2,
            "reassigned_change_ids": [1, 3, 4],
            "reason": "partial_apply",
            "action": "batch_split",
        }
    ]
    # Change 3's record vanished: the request applies 1, fails on 3 and moves only 4 (not part of it) on.
    vanish(seeded, IMAGE, "Gone")
    with pytest.raises(IncompleteApply) as raised:
        service.apply_many(approver(), many(1, 3))
    outcome = raised.value.outcome
    assert isinstance(outcome, ApplyPendingChangesResponse)
    assert (outcome.batch_split_original_batch_id, outcome.batch_split_new_batch_id) == (2, 3)
    assert outcome.batch_split_reassigned_count == 1
    assert statuses(seeded) == [(1, APPLIED, 2), (2, APPLIED, 1), (3, APPROVED, 2), (4, APPROVED, 3), (5, REJECTED, 1)]
    assert len([e for e in audit_events(seeded) if e.model_name == "queue"]) == 2


def test_apply_batch_applies_every_approved_change_in_order_without_splitting(
    seeded: Store, refresher: Refresher
) -> None:
    queue(
        seeded,
        change(1, model_name="A", status=APPROVED, batch_id=1),
        change(2, category=CLIP, model_name="B", status=APPROVED, batch_id=1),
        change(3, model_name="C", status=REJECTED, batch_id=1),
        change(4, model_name="D", status=APPROVED, batch_id=1),
        change(5, model_name="E", status=APPROVED, batch_id=2),
    )
    service = applier(seeded, refresher)
    response = service.apply_batch(approver(), 1, " job-7 ")
    assert [c.change_id for c in response.applied] == [1, 2, 4]
    assert {c.applied_job_id for c in response.applied} == {"job-7"}
    assert not response.batch_split_occurred
    assert statuses(seeded) == [(1, APPLIED, 1), (2, APPLIED, 1), (3, REJECTED, 1), (4, APPLIED, 1), (5, APPROVED, 2)]
    assert refresher.applied == [{IMAGE, CLIP}]  # one refresh for the whole request
    assert refresher.log == ["hold", "release", "on_applied"]
    assert [e for e in audit_events(seeded) if e.model_name == "queue"] == []
    again = service.apply_batch(approver(), 1, None)  # every change applied or rejected: nothing to do
    assert again.model_dump() == {
        "batch_split_occurred": False,
        "batch_split_original_batch_id": None,
        "batch_split_new_batch_id": None,
        "batch_split_reassigned_count": None,
        "applied": [],
        "failed_change_id": None,
        "failed_error": None,
        "failed_error_type": None,
    }


def test_apply_batch_not_found(seeded: Store, refresher: Refresher) -> None:
    queue(seeded, change(1, status=REJECTED, batch_id=4))
    service = applier(seeded, refresher)
    with pytest.raises(NotFound, match="No changes found for batch 9"):
        service.apply_batch(approver(), 9, None)
    with pytest.raises(NotFound, match="No approved changes found in batch 4"):
        service.apply_batch(approver(), 4, None)
    assert refresher.log == []


def test_a_bulk_apply_holds_and_refreshes_once(seeded: Store, refresher: Refresher) -> None:
    changes = [
        change(i, category=CLIP if i % 3 == 0 else IMAGE, model_name=f"M{i}", status=APPROVED, batch_id=1)
        for i in range(1, 13)
    ]
    queue(seeded, *changes)
    response = applier(seeded, refresher).apply_many(approver(), many(*range(1, 13)))
    assert len(response.applied) == 12
    assert refresher.log == ["hold", "release", "on_applied"]
    assert refresher.applied == [{IMAGE, CLIP}]


# -- who may apply -----------------------------------------------------------------------------------------


def test_applying_on_the_wrong_prefix_or_a_replica_is_refused_before_the_caller(
    seeded: Store, refresher: Refresher
) -> None:
    queue(seeded, change(1, model_name="A", status=APPROVED, batch_id=1))
    caller = RefusingCaller(Format.LEGACY)
    with pytest.raises(NotServed, match="canonical format"):
        applier(seeded, refresher).apply_one(caller, 1, job())
    replica = applier(seeded, refresher, Deployment(mode=ReplicateMode.REPLICA))
    with pytest.raises(NotWritable, match="REPLICA"):
        replica.apply_batch(RefusingCaller(), 1, None)
    assert caller.asked == []
    assert statuses(seeded) == [(1, APPROVED, 1)]


def test_an_unauthorized_caller_applies_nothing(seeded: Store, refresher: Refresher) -> None:
    queue(seeded, change(1, model_name="A", status=APPROVED, batch_id=1))
    versions, events = seeded.versions(), len(audit_events(seeded))
    service = applier(seeded, refresher)
    with horde_auth() as auth:
        for key in ("requestor-key", "stranger-key", "unknown-key"):
            with pytest.raises(Unauthorized):
                service.apply_one(Authorizer(auth, key, Role.APPROVER), 1, job())
            with pytest.raises(Unauthorized):
                service.apply_batch(Authorizer(auth, key, Role.APPROVER), 1, None)
        applied = service.apply_one(Authorizer(auth, "approver-key", Role.APPROVER), 1, job())
    assert refresher.log == ["hold", "release", "on_applied"]  # only the approver got as far as holding
    assert (seeded.versions()[IMAGE], len(audit_events(seeded))) == (versions[IMAGE] + 1, events + 2)
    assert applied.record.applied_username == "App#2002"
