from __future__ import annotations

from typing import Any

import pytest

from modelref.domain.audit import Operation
from modelref.domain.categories import Category
from modelref.domain.changes import (
    ChangeFilter,
    FieldChangeType,
    FieldDiff,
    NetChangeType,
    PendingChangeRecord,
    User,
    diff_change,
    field_diffs,
    is_critical,
    net_operation,
)
from modelref.domain.formats import Format
from modelref.domain.records import ImageGenerationModelRecord, TextGenerationModelRecord
from tests.factories import image_record

ADDED, REMOVED, MODIFIED = FieldChangeType.ADDED, FieldChangeType.REMOVED, FieldChangeType.MODIFIED


def _change(
    operation: Operation,
    payload: dict[str, Any] | None,
    category: Category = Category.IMAGE_GENERATION,
    model_name: str = "Model",
    **fields: Any,
) -> PendingChangeRecord:
    return PendingChangeRecord(
        change_id=7,
        category=category,
        model_name=model_name,
        operation=operation,
        payload=payload,
        requested_by="1001",
        requested_username="Req#1001",
        requested_at=100,
        updated_at=100,
        **fields,
    )


def _summary(diffs: list[FieldDiff]) -> list[tuple[str, FieldChangeType, Any, Any]]:
    return [(d.field_path, d.change_type, d.old_value, d.new_value) for d in diffs]


# -- field_diffs ------------------------------------------------------------------------------------------------


def test_field_diffs_recurse_into_objects_with_sorted_paths() -> None:
    current = {"z": 1, "b": {"d": 2, "c": 1}, "e": [1], "same": {"x": 1}}
    proposed = {"z": 1, "b": {"c": 2, "f": 3}, "e": [1, 2], "g": "x", "same": {"x": 1}}
    assert _summary(field_diffs(current, proposed)) == [
        ("b.c", MODIFIED, 1, 2),
        ("b.d", REMOVED, 2, None),
        ("b.f", ADDED, None, 3),
        ("e", MODIFIED, [1], [1, 2]),  # lists are compared whole
        ("g", ADDED, None, "x"),
    ]


def test_field_diffs_of_equal_records_are_empty() -> None:
    record = image_record("Same")
    assert field_diffs(record, dict(record)) == []


def test_a_key_added_with_an_object_value_is_one_diff() -> None:
    assert _summary(field_diffs({}, {"h": {"x": 1}})) == [("h", ADDED, None, {"x": 1})]


def test_object_replaced_by_a_scalar_is_modified() -> None:
    assert _summary(field_diffs({"a": {"x": 1}}, {"a": 5})) == [("a", MODIFIED, {"x": 1}, 5)]


def test_whole_record_added_lists_every_leaf() -> None:
    proposed = {"name": "n", "config": {"download": [1], "extra": {"b": True}}}
    assert _summary(field_diffs(None, proposed)) == [
        ("config.download", ADDED, None, [1]),
        ("config.extra.b", ADDED, None, True),
        ("name", ADDED, None, "n"),
    ]


def test_whole_record_removed_lists_every_leaf() -> None:
    assert _summary(field_diffs({"b": 2, "a": {"c": 3}}, None)) == [
        ("a.c", REMOVED, 3, None),
        ("b", REMOVED, 2, None),
    ]


# -- net_operation and is_critical ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "current", "proposed", "expected"),
    [
        (Operation.CREATE, None, {"a": 1}, NetChangeType.ADDED),
        (Operation.CREATE, {"a": 1}, {"a": 1}, NetChangeType.MODIFIED),
        (Operation.DELETE, None, {"a": 1}, NetChangeType.UNCHANGED),
        (Operation.DELETE, {"a": 1}, {"a": 1}, NetChangeType.DELETED),
        (Operation.UPDATE, None, {"a": 1}, NetChangeType.ADDED),
        (Operation.UPDATE, {"a": 1}, {"a": 1}, NetChangeType.UNCHANGED),
        (Operation.UPDATE, {"a": 1}, {"a": 2}, NetChangeType.MODIFIED),
    ],
)
def test_net_operation(
    operation: Operation, current: dict[str, int] | None, proposed: dict[str, int], expected: NetChangeType
) -> None:
    assert net_operation(operation, current, proposed) is expected


def _diff(path: str) -> list[FieldDiff]:
    return [FieldDiff(field_path=path, old_value=1, new_value=2, change_type=MODIFIED)]


@pytest.mark.parametrize(
    ("category", "path", "critical"),
    [
        (Category.IMAGE_GENERATION, "baseline", True),
        (Category.IMAGE_GENERATION, "inpainting", True),
        (Category.IMAGE_GENERATION, "trigger", True),
        (Category.IMAGE_GENERATION, "homepage", True),
        (Category.IMAGE_GENERATION, "style", False),
        (Category.IMAGE_GENERATION, "description", False),
        (Category.IMAGE_GENERATION, "nsfw_note", False),  # a prefix of the name is not the field
        (Category.TEXT_GENERATION, "parameters", True),
        (Category.TEXT_GENERATION, "url", True),
        (Category.TEXT_GENERATION, "parameters_count", False),
        (Category.TEXT_GENERATION, "style", False),
        (Category.CONTROLNET, "style", True),
        (Category.SAFETY_CHECKER, "nsfw", True),
        (Category.BLIP, "baseline", False),
        (Category.MISCELLANEOUS, "nsfw", False),
        (Category.VIDEO_GENERATION, "nsfw", False),
        (Category.LORA, "config.download", True),  # download paths count in every category
        (Category.CLIP, "config.download", True),
        (Category.IMAGE_GENERATION, "config.legacy_extra_files", False),
    ],
)
def test_is_critical_per_category(category: Category, path: str, critical: bool) -> None:
    assert is_critical(category, _diff(path)) is critical


def test_is_critical_for_a_nested_path_under_a_critical_field() -> None:
    assert is_critical(Category.TEXT_GENERATION, _diff("url.host"))
    assert not is_critical(Category.IMAGE_GENERATION, [])


# -- diff_change ------------------------------------------------------------------------------------------------


def test_diff_of_an_update_classifies_every_path() -> None:
    current = image_record("Model", description="old", homepage="https://a")
    proposed = image_record("Model", description="new", style="anime")
    del proposed["nsfw"]
    diff = diff_change(_change(Operation.UPDATE, proposed), current)
    assert diff.net_operation is NetChangeType.MODIFIED
    assert diff.fields_added == ["style"]
    assert diff.fields_removed == ["homepage", "nsfw"]
    assert diff.fields_modified == ["description"]
    assert diff.is_critical  # homepage and nsfw are critical for images
    assert (diff.current_state, diff.proposed_state) == (current, proposed)


def test_diff_of_a_harmless_update_is_not_critical() -> None:
    current = image_record("Model", description="old")
    diff = diff_change(_change(Operation.UPDATE, image_record("Model", description="new")), current)
    assert diff.fields_modified == ["description"]
    assert not diff.is_critical


def test_diff_of_a_create_adds_every_leaf_and_is_critical_by_its_downloads() -> None:
    payload = {"name": "New", "config": {"download": []}}
    diff = diff_change(_change(Operation.CREATE, payload, Category.BLIP), None)
    assert diff.net_operation is NetChangeType.ADDED
    assert diff.fields_added == ["config.download", "name"]
    assert diff.is_critical


def test_diff_of_a_delete_has_no_field_diffs_but_is_deleted() -> None:
    snapshot = image_record("Model")
    diff = diff_change(_change(Operation.DELETE, snapshot), dict(snapshot))
    assert diff.net_operation is NetChangeType.DELETED
    assert diff.field_diffs == []
    assert not diff.is_critical


def test_diff_with_nothing_on_either_side() -> None:
    diff = diff_change(_change(Operation.DELETE, None), None)
    assert (diff.net_operation, diff.field_diffs) == (NetChangeType.UNCHANGED, [])


# -- ChangeFilter -----------------------------------------------------------------------------------------------


def test_name_needle_strips_and_casefolds() -> None:
    assert ChangeFilter(model_name="  LLaMA Straße ").name_needle == "llama strasse"
    assert ChangeFilter(model_name="   ").name_needle is None
    assert ChangeFilter().name_needle is None


def test_requesters_are_trimmed_and_blanks_dropped() -> None:
    assert ChangeFilter(requested_by=[" 1001 ", "", "  ", "2002"]).requesters == ["1001", "2002"]


def test_user_roles_are_sorted_names_of_what_the_user_has() -> None:
    assert User("1", "u#1", is_requestor=True, is_approver=True).roles == ["approver", "requestor"]
    assert User("1", "u#1", is_requestor=True).roles == ["requestor"]
    assert User("1", "u#1").roles == []


# -- origin and proposed_record ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "origin"),
    [
        (None, Format.V2),
        ({"route": "create_v2_model"}, Format.V2),
        ({"format": "v2"}, Format.V2),
        ({"format": "legacy", "route": "create_legacy_model"}, Format.LEGACY),
        ({"format": "LEGACY"}, Format.V2),
    ],
)
def test_origin_follows_the_recorded_format(metadata: dict[str, Any] | None, origin: Format) -> None:
    assert _change(Operation.CREATE, {}, request_metadata=metadata).origin is origin


def test_proposed_record_of_a_v2_payload() -> None:
    payload = image_record("New", baseline="flux_1", tags=[" anime "])
    record = _change(Operation.CREATE, payload, model_name="New").proposed_record()
    assert isinstance(record, ImageGenerationModelRecord)
    assert (record.name, record.baseline, record.tags) == ("New", "flux_1", ["anime"])


def test_proposed_record_of_a_legacy_image_payload_is_converted() -> None:
    legacy = {
        "name": "Old",
        "baseline": "stable diffusion 1",
        "type": "ckpt",
        "inpainting": False,
        "nsfw": True,
        "config": {
            "files": [{"path": "old.ckpt", "sha256sum": "b" * 64}],
            "download": [{"file_name": "old.ckpt", "file_path": "", "file_url": "https://example.org/old.ckpt"}],
        },
    }
    change = _change(Operation.CREATE, legacy, model_name="Old", request_metadata={"format": "legacy"})
    record = change.proposed_record()
    assert isinstance(record, ImageGenerationModelRecord)
    assert (record.baseline, record.nsfw) == ("stable_diffusion_1", True)
    assert [(d.file_name, d.sha256sum) for d in record.config.download] == [("old.ckpt", "b" * 64)]


def test_proposed_record_of_a_legacy_text_payload_is_converted() -> None:
    legacy = {
        "name": "Org/Model-7B",
        "model_name": "Model-7B",
        "parameters": 7_000_000_000,
        "style": "generalist",
        "tags": ["7B", "generalist", "chat"],
        "nsfw": False,
    }
    change = _change(
        Operation.UPDATE,
        legacy,
        Category.TEXT_GENERATION,
        model_name="Org/Model-7B",
        request_metadata={"format": "legacy"},
    )
    record = change.proposed_record()
    assert isinstance(record, TextGenerationModelRecord)
    assert (record.parameters_count, record.style, record.tags) == (7_000_000_000, "generalist", ["chat"])
    assert record.text_model_group == "Model"


def test_the_same_legacy_payload_read_as_v2_is_not_converted() -> None:
    legacy = {"name": "Old", "baseline": "stable diffusion 1", "nsfw": False}
    record = _change(Operation.CREATE, legacy, model_name="Old").proposed_record()
    assert isinstance(record, ImageGenerationModelRecord)
    assert record.baseline == "stable diffusion 1"
