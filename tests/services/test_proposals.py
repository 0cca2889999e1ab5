"""Proposals.propose: the checks in the contract's order (API.md §1.6, §9, §11), then one queued change."""

from __future__ import annotations

from typing import Any

import pytest

from modelref.domain.audit import ChangeStatus, Operation
from modelref.domain.audit_views import QUEUE
from modelref.domain.bundle import read_bundle
from modelref.domain.categories import Category
from modelref.domain.convert import legacy_view
from modelref.domain.deployment import Deployment, ReplicateMode
from modelref.domain.formats import Format
from modelref.errors import (
    AlreadyExists,
    InvalidBody,
    InvalidName,
    InvalidRecord,
    NameMismatch,
    NotFound,
    NotWritable,
    QuotaExceeded,
    Unauthorized,
)
from modelref.services.auth import Authorizer, Role
from modelref.services.importer import import_bundle
from modelref.services.proposals import Proposal, Proposals
from modelref.storage.store import Store
from tests.factories import (
    T0,
    RefusingCaller,
    horde_auth,
    image_record,
    legacy_clip,
    requestor,
    seed,
    text_record,
    v2_record,
)
from tests.support import LEGACY_IMAGE, audit_events, queued_changes

IMAGE, TEXT, CLIP = Category.IMAGE_GENERATION, Category.TEXT_GENERATION, Category.CLIP
V2 = Deployment()
LEGACY = Deployment(canonical_format=Format.LEGACY)
REPLICA = Deployment(mode=ReplicateMode.REPLICA)


def create(category: Category, body: Any, api: Format = Format.V2) -> Proposal:
    return Proposal(api, category, Operation.CREATE, f"create_{api.value}_{category.value}", body)


def update(category: Category, name: str, body: Any) -> Proposal:
    return Proposal(Format.V2, category, Operation.UPDATE, f"update_v2_{category.value}", body, name)


def delete(category: Category, name: str, api: Format = Format.V2) -> Proposal:
    return Proposal(api, category, Operation.DELETE, f"delete_{api.value}_model", None, name)


def legacy_write(operation: Operation, category: Category, body: Any) -> Proposal:
    return Proposal(Format.LEGACY, category, operation, f"{operation.value}_legacy_{category.value}_model", body)


def proposals(store: Store, deployment: Deployment = V2, **options: Any) -> Proposals:
    return Proposals(store, deployment, clock=lambda: T0 + 5, **options)


@pytest.fixture
def images(store: Store) -> Store:
    """A store holding two image models, one text model and one CLIP model."""
    seed(
        store,
        {
            IMAGE: [image_record("Old"), image_record("Other")],
            TEXT: [text_record("Org/Kept-7B")],
            CLIP: [v2_record(CLIP, "ViT-Test")],
        },
    )
    return store


@pytest.fixture
def legacy_clips(store: Store) -> Store:
    """A store holding the real legacy clip.json (imported: ViT-L/14 and one more)."""
    import_bundle(store, read_bundle({"clip.json": (LEGACY_IMAGE / "clip.json").read_bytes()}), now=T0)
    return store


# -- v2 create / update / delete ------------------------------------------------------------------------


def test_v2_create_queues_a_pending_change_and_an_enqueue_event(images: Store) -> None:
    caller = requestor("1001")
    before = len(audit_events(images))
    change = proposals(images).propose(create(IMAGE, image_record("New", baseline="SDXL")), caller)
    assert (change.change_id, change.status, change.operation) == (1, ChangeStatus.PENDING, Operation.CREATE)
    assert (change.requested_by, change.requested_username) == ("1001", "User#1001")
    assert (change.requested_at, change.updated_at) == (T0 + 5, T0 + 5)
    assert change.request_metadata == {"route": "create_v2_image_generation"}
    assert change.payload is not None
    assert change.payload["baseline"] == "stable_diffusion_xl"  # normalized on writes
    assert change.related_models is None
    assert queued_changes(images) == [change]
    with images.read() as tx:
        assert tx.records.get(IMAGE, "New") is None  # queued, not applied
    events = audit_events(images)
    assert len(events) == before + 1
    event = events[-1]
    assert (event.category, event.model_name, event.logical_user_id, event.domain) == (QUEUE, "1", "1001", Format.V2)
    assert event.payload_value() == {
        "after": {
            "change_id": 1,
            "operation": "create",
            "category": "image_generation",
            "model": "New",
            "action": "enqueue",
        }
    }
    assert caller.asked == [caller.who]


def test_every_proposal_gets_the_next_id_and_its_own_enqueue_event(images: Store) -> None:
    service = proposals(images)
    before = len(audit_events(images))
    ids = [
        service.propose(create(IMAGE, image_record("A")), requestor()).change_id,
        service.propose(update(IMAGE, "Old", image_record("Old", description="new")), requestor()).change_id,
        service.propose(delete(IMAGE, "Other"), requestor("3003")).change_id,
    ]
    assert ids == [1, 2, 3]
    events = audit_events(images)[before:]
    assert [(e.model_name, e.payload_value()["after"]["operation"]) for e in events] == [
        ("1", "create"),
        ("2", "update"),
        ("3", "delete"),
    ]
    assert [e.logical_user_id for e in events] == ["1001", "1001", "3003"]


def test_invalid_body_is_refused_before_the_caller_is_asked(images: Store) -> None:
    caller = RefusingCaller()
    with pytest.raises(InvalidBody) as raised:
        proposals(images).propose(create(IMAGE, {"name": "X"}), caller)
    assert {tuple(p["loc"]) for p in raised.value.problems} == {("baseline",), ("nsfw",)}  # type: ignore[arg-type]
    with pytest.raises(InvalidBody):
        proposals(images).propose(update(IMAGE, "Old", ["not", "an", "object"]), caller)
    with pytest.raises(InvalidBody):  # the body comes before the REPLICA guard, too
        proposals(images, REPLICA).propose(create(IMAGE, {"name": "X", "baseline": "bogus", "nsfw": False}), caller)
    assert caller.asked == []
    assert queued_changes(images) == []


def test_path_and_body_name_mismatch_is_refused_before_the_caller(images: Store) -> None:
    caller = RefusingCaller()
    with pytest.raises(NameMismatch, match="must match the payload"):
        proposals(images).propose(update(IMAGE, "Old", image_record("Other")), caller)
    assert caller.asked == []
    assert queued_changes(images) == []


def test_replica_refuses_before_the_caller_is_asked(images: Store) -> None:
    caller = requestor()
    with pytest.raises(NotWritable, match="REPLICA mode"):
        proposals(images, REPLICA).propose(create(IMAGE, image_record("New")), caller)
    with pytest.raises(NotWritable, match="REPLICA mode"):
        proposals(images, REPLICA).propose(delete(IMAGE, "Old"), caller)
    assert caller.asked == []  # a write to a REPLICA costs no AI-Horde call
    with pytest.raises(NotWritable, match="REPLICA mode"):
        proposals(images, REPLICA).propose(create(IMAGE, image_record("New")), RefusingCaller())
    # The body is still checked first (422 before 503).
    with pytest.raises(InvalidRecord):
        proposals(images, REPLICA).propose(create(IMAGE, {"name": "x"}), caller)
    assert queued_changes(images) == []


def test_existence_rules(images: Store) -> None:
    service = proposals(images)
    with pytest.raises(AlreadyExists, match="Model 'Old' already exists in category 'image_generation'. Use PUT"):
        service.propose(create(IMAGE, image_record("Old")), requestor())
    with pytest.raises(NotFound, match="Model 'Missing' not found in category 'image_generation'. Use POST"):
        service.propose(update(IMAGE, "Missing", image_record("Missing")), requestor())
    with pytest.raises(NotFound, match="Model 'Missing' not found in category 'image_generation'"):
        service.propose(delete(IMAGE, "Missing"), requestor())
    with pytest.raises(NotFound):  # names are case-sensitive keys
        service.propose(delete(IMAGE, "old"), requestor())
    long_name = "N" * 200
    with pytest.raises(NotFound) as raised:
        service.propose(delete(IMAGE, long_name), requestor())
    assert long_name not in raised.value.detail  # echoed names are cut short
    assert queued_changes(images) == []


def test_delete_queues_the_record_as_it_is_now(images: Store) -> None:
    with images.read() as tx:
        stored = tx.records.get(IMAGE, "Other")
    change = proposals(images).propose(delete(IMAGE, "Other"), requestor())
    assert change.operation is Operation.DELETE
    assert change.payload == stored
    assert change.request_metadata == {"route": "delete_v2_model"}


def test_update_keeps_the_stored_creation_info(store: Store) -> None:
    stored = {**image_record("Kept"), "metadata": {"created_at": 111, "updated_at": 222, "created_by": "Origin#1"}}
    with store.write() as tx:
        tx.records.put(IMAGE, "Kept", stored)
        tx.records.touch(IMAGE, 222)
    forged = {"created_at": 999, "updated_at": 999, "created_by": "Forger#9", "updated_by": "Forger#9"}
    body = image_record("Kept", description="changed", metadata=forged)
    change = proposals(store).propose(update(IMAGE, "Kept", body), requestor())
    assert change.payload is not None
    metadata = change.payload["metadata"]
    assert (metadata["created_at"], metadata["created_by"]) == (111, "Origin#1")
    assert change.payload["description"] == "changed"


def test_text_proposals_name_their_backend_variants_and_refuse_prefixed_names(images: Store) -> None:
    service = proposals(images)
    created = service.propose(create(TEXT, text_record("Org/Shiny-7B")), requestor())
    assert created.related_models == ["aphrodite/Org/Shiny-7B", "koboldcpp/Shiny-7B"]
    assert created.payload is not None
    assert created.payload["text_model_group"] == "Shiny"
    deleted = service.propose(delete(TEXT, "Org/Kept-7B"), requestor())
    assert deleted.related_models == ["aphrodite/Org/Kept-7B", "koboldcpp/Kept-7B"]
    with pytest.raises(InvalidName, match="backend prefix"):
        service.propose(create(TEXT, text_record("koboldcpp/Shiny-7B")), requestor())
    caller = requestor()
    with pytest.raises(InvalidName, match="deleted automatically"):
        service.propose(delete(TEXT, "aphrodite/Org/Kept-7B"), caller)
    assert len(caller.asked) == 1  # a delete resolves the key first (there is no body to check)
    assert [c.change_id for c in queued_changes(images)] == [1, 2]


def test_v2_writes_on_a_legacy_deployment(images: Store) -> None:
    service = proposals(images, LEGACY)
    with pytest.raises(NotWritable, match="canonical_format"):
        service.propose(create(IMAGE, image_record("New")), requestor())
    with pytest.raises(NotWritable):
        service.propose(delete(CLIP, "ViT-Test"), requestor())
    # A category without a legacy format is written through v2 on every PRIMARY.
    video = service.propose(
        create(Category.VIDEO_GENERATION, v2_record(Category.VIDEO_GENERATION, "Clip")), requestor()
    )
    assert video.category is Category.VIDEO_GENERATION
    assert len(queued_changes(images)) == 1


def test_delete_name_rules(images: Store) -> None:
    with pytest.raises(InvalidRecord, match="empty or whitespace"):
        proposals(images).propose(delete(IMAGE, "   "), requestor())
    with pytest.raises(InvalidRecord, match="invalid characters"):
        proposals(images).propose(delete(IMAGE, "a\\b"), requestor())
    assert queued_changes(images) == []


# -- the per-requestor limit ------------------------------------------------------------------------------


def test_max_pending_per_requestor(images: Store) -> None:
    service = proposals(images, max_pending=2)
    service.propose(create(IMAGE, image_record("A")), requestor("1001"))
    service.propose(create(IMAGE, image_record("B")), requestor("1001"))
    events = len(audit_events(images))
    with pytest.raises(QuotaExceeded, match="You already have 2 pending changes"):
        service.propose(create(IMAGE, image_record("C")), requestor("1001"))
    assert len(queued_changes(images)) == 2
    assert len(audit_events(images)) == events  # nothing written for the refused one
    other = service.propose(create(IMAGE, image_record("C")), requestor("3003"))
    assert other.requested_by == "3003"
    # Only pending changes count: once one is decided, the requestor may propose again.
    with images.write() as tx:
        first = tx.queue.get(1)
        assert first is not None
        tx.queue.save(first.model_copy(update={"status": ChangeStatus.REJECTED}))
    again = service.propose(create(IMAGE, image_record("D")), requestor("1001"))
    assert again.change_id == 4


# -- legacy (v1) proposals ----------------------------------------------------------------------------------


def test_legacy_create_keeps_the_legacy_shape(legacy_clips: Store) -> None:
    caller = requestor(api=Format.LEGACY)
    change = proposals(legacy_clips, LEGACY).propose(legacy_write(Operation.CREATE, CLIP, legacy_clip("New")), caller)
    assert change.payload is not None
    assert change.payload["type"] == "clip"
    assert change.payload["config"]["files"] == [{"path": "New.pt", "sha256sum": "b" * 64}]
    assert "record_type" not in change.payload
    assert change.request_metadata == {"route": "create_legacy_clip_model", "format": "legacy"}
    assert change.origin is Format.LEGACY
    assert change.proposed_record().name == "New"
    event = audit_events(legacy_clips)[-1]
    assert (event.domain, event.payload_value()["after"]["action"]) == (Format.LEGACY, "enqueue")


def test_legacy_nulls_are_left_out_of_the_payload(legacy_clips: Store) -> None:
    body = legacy_clip("New", description=None)
    change = proposals(legacy_clips, LEGACY).propose(legacy_write(Operation.CREATE, CLIP, body), requestor())
    assert change.payload is not None
    assert "description" not in change.payload


def test_legacy_existence_is_checked_against_the_legacy_view_before_the_caller(legacy_clips: Store) -> None:
    service = proposals(legacy_clips, LEGACY)
    caller = RefusingCaller(Format.LEGACY)
    with legacy_clips.read() as tx:
        stored = tx.records.get(CLIP, "ViT-L/14")
    assert stored is not None
    existing = legacy_view(CLIP, "ViT-L/14", stored)
    with pytest.raises(AlreadyExists, match="already exists"):
        service.propose(legacy_write(Operation.CREATE, CLIP, existing), caller)
    with pytest.raises(NotFound, match="Model 'Nope'"):
        service.propose(legacy_write(Operation.UPDATE, CLIP, {**existing, "name": "Nope"}), caller)
    with pytest.raises(NotFound):
        service.propose(delete(CLIP, "Nope", Format.LEGACY), caller)
    with pytest.raises(InvalidRecord, match="'name' is required"):
        service.propose(legacy_write(Operation.CREATE, CLIP, {"type": "clip"}), caller)
    with pytest.raises(InvalidName):
        service.propose(legacy_write(Operation.CREATE, TEXT, {"name": "aphrodite/x", "parameters": 1}), caller)
    assert caller.asked == []
    # Everything checks out: only now is the key resolved.
    with pytest.raises(Unauthorized):
        service.propose(legacy_write(Operation.UPDATE, CLIP, {**existing, "description": "d"}), caller)
    assert caller.asked == ["asked"]
    assert queued_changes(legacy_clips) == []


def test_legacy_messages_for_existing_and_missing_models(legacy_clips: Store) -> None:
    """API.md §11 V1/V2 and V3 quote the observed messages; clients of the existing service match on them."""
    service = proposals(legacy_clips, LEGACY)
    with pytest.raises(AlreadyExists) as exists:
        service.propose(legacy_write(Operation.CREATE, CLIP, legacy_clip("ViT-L/14")), requestor())
    assert (
        exists.value.detail == "Model 'ViT-L/14' already exists in category 'clip'. Use PUT to update existing models."
    )
    with pytest.raises(NotFound) as gone:
        service.propose(delete(CLIP, "Nope", Format.LEGACY), requestor())
    assert gone.value.detail == "Model 'Nope' not found in category 'clip'"
    with pytest.raises(NotFound) as missing:
        service.propose(legacy_write(Operation.UPDATE, CLIP, legacy_clip("Nope")), requestor())
    assert missing.value.detail == "Model 'Nope' does not exist in category 'clip'. Use POST to create new models."


def test_legacy_update_and_delete_queue_legacy_payloads(legacy_clips: Store) -> None:
    service = proposals(legacy_clips, LEGACY)
    with legacy_clips.read() as tx:
        stored = tx.records.get(CLIP, "ViT-L/14")
    assert stored is not None
    current = legacy_view(CLIP, "ViT-L/14", stored)
    updated = service.propose(
        legacy_write(Operation.UPDATE, CLIP, {**current, "description": "edited"}), requestor(api=Format.LEGACY)
    )
    assert updated.payload == {**current, "description": "edited"}
    assert updated.request_metadata == {"route": "update_legacy_clip_model", "format": "legacy"}
    deleted = service.propose(delete(CLIP, "ViT-L/14", Format.LEGACY), requestor(api=Format.LEGACY))
    assert deleted.payload == current  # the legacy entry as a v1 client sees it
    assert deleted.request_metadata == {"route": "delete_legacy_model", "format": "legacy"}


def test_legacy_text_update_is_checked_against_the_db_json_entry(store: Store) -> None:
    seed(store, {TEXT: [text_record("Org/Kept-7B", description="old")]})
    service = proposals(store, LEGACY)
    with store.read() as tx:
        stored = tx.records.get(TEXT, "Org/Kept-7B")
    assert stored is not None
    entry = legacy_view(TEXT, "Org/Kept-7B", stored)
    change = service.propose(legacy_write(Operation.UPDATE, TEXT, {**entry, "description": "new"}), requestor())
    assert change.related_models == ["aphrodite/Org/Kept-7B", "koboldcpp/Kept-7B"]
    assert change.payload is not None
    assert change.payload["description"] == "new"
    assert change.proposed_record().name == "Org/Kept-7B"


def test_legacy_proposals_on_a_v2_deployment_are_refused_before_the_caller(legacy_clips: Store) -> None:
    caller = RefusingCaller(Format.LEGACY)
    for deployment in (V2, REPLICA):
        with pytest.raises(NotWritable):
            proposals(legacy_clips, deployment).propose(legacy_write(Operation.CREATE, CLIP, legacy_clip()), caller)
        with pytest.raises(NotWritable):
            proposals(legacy_clips, deployment).propose(delete(CLIP, "ViT-L/14", Format.LEGACY), caller)
    with pytest.raises(NotFound, match="video_generation"):  # no legacy format at all
        proposals(legacy_clips, LEGACY).propose(legacy_write(Operation.CREATE, Category.VIDEO_GENERATION, {}), caller)
    assert caller.asked == []
    assert queued_changes(legacy_clips) == []


# -- the real key check ------------------------------------------------------------------------------------


def test_a_key_without_the_requestor_role_is_refused_before_anything_is_written(images: Store) -> None:
    events = len(audit_events(images))
    with horde_auth() as auth:
        stranger = Authorizer(auth, "stranger-key", Role.REQUESTOR)
        with pytest.raises(Unauthorized, match="requestor list"):
            proposals(images).propose(create(IMAGE, image_record("New")), stranger)
        with pytest.raises(Unauthorized, match="Invalid API key"):
            proposals(images).propose(delete(IMAGE, "Old"), Authorizer(auth, "unknown-key", Role.REQUESTOR))
        allowed = proposals(images).propose(
            create(IMAGE, image_record("New")), Authorizer(auth, "requestor-key", Role.REQUESTOR)
        )
    assert (allowed.requested_by, allowed.requested_username) == ("1001", "Req#1001")
    assert [c.change_id for c in queued_changes(images)] == [1]
    assert len(audit_events(images)) == events + 1
