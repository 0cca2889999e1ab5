from __future__ import annotations

import json
from typing import Any

import pytest

from modelref.domain.categories import CATEGORY_INFO, IMAGE_REPO_CATEGORIES, Category
from modelref.domain.convert import from_legacy, has_legacy_format, legacy_document, legacy_view, to_legacy
from modelref.domain.records import ImageGenerationModelRecord, RecordBase, TextGenerationModelRecord, parse_record
from modelref.errors import InvalidRecord, NotFound
from tests.factories import image_record, text_record
from tests.support import LEGACY_IMAGE, LEGACY_TEXT

TEXT = Category.TEXT_GENERATION
IMAGE = Category.IMAGE_GENERATION
WITHOUT_LEGACY = [c for c, info in CATEGORY_INFO.items() if info.legacy_file is None]


def _record(category: Category, name: str) -> RecordBase:
    if category is IMAGE:
        return parse_record(category, image_record(name))
    if category is TEXT:
        return parse_record(category, text_record(name))
    return parse_record(category, {"name": name})


# -- dispatch ---------------------------------------------------------------------------------------------------


def test_a_text_record_renders_as_itself_and_its_two_backend_variants() -> None:
    entries = to_legacy(TEXT, "Org/Model-7B", _record(TEXT, "Org/Model-7B"))
    assert list(entries) == ["Org/Model-7B", "aphrodite/Org/Model-7B", "koboldcpp/Model-7B"]
    assert [e["name"] for e in entries.values()] == list(entries)
    assert {e["model_name"] for e in entries.values()} == {"Model-7B"}


@pytest.mark.parametrize("category", IMAGE_REPO_CATEGORIES, ids=str)
def test_an_image_repository_record_renders_as_one_entry(category: Category) -> None:
    entries = to_legacy(category, "key", _record(category, "x"))
    assert list(entries) == ["key"]
    assert entries["key"]["name"] == "x"
    assert "files" in entries["key"]["config"]


@pytest.mark.parametrize("category", list(Category), ids=str)
def test_has_legacy_format_follows_the_category_table(category: Category) -> None:
    assert has_legacy_format(category) is (CATEGORY_INFO[category].legacy_file is not None)


@pytest.mark.parametrize("category", WITHOUT_LEGACY, ids=str)
def test_a_category_without_a_legacy_format_is_not_found(category: Category) -> None:
    message = f"^Model category '{category.value}' has no legacy format$"
    with pytest.raises(NotFound, match=message):
        to_legacy(category, "x", _record(category, "x"))
    with pytest.raises(NotFound, match=message):
        from_legacy(category, "x", {"name": "x"})
    with pytest.raises(NotFound, match=message):
        legacy_view(category, "x", {"name": "x"})
    with pytest.raises(NotFound, match=message):
        legacy_document(category, [("x", _record(category, "x"))])


@pytest.mark.parametrize("key", ["koboldcpp/Model-7B", "aphrodite/Org/Model-7B"])
def test_a_backend_prefixed_text_key_is_not_a_base_record(key: str) -> None:
    with pytest.raises(InvalidRecord, match="is not a base text model"):
        from_legacy(TEXT, key, {"name": key, "parameters": 7_000_000_000})


def test_from_legacy_converts_an_image_record() -> None:
    legacy = {"name": "Old", "baseline": "stable diffusion 2", "nsfw": False, "config": {"files": [], "download": []}}
    record, warnings = from_legacy(IMAGE, "Old", legacy)
    assert isinstance(record, ImageGenerationModelRecord)
    assert (record.baseline, warnings) == ("stable_diffusion_2_768", [])


def test_from_legacy_converts_a_text_entry() -> None:
    legacy = {"name": "Org/M-13B", "parameters": 13_000_000_000, "tags": ["13B", "chat"], "display_name": "M 13B"}
    record, _ = from_legacy(TEXT, "Org/M-13B", legacy)
    assert isinstance(record, TextGenerationModelRecord)
    # the generated size tag and display name are not kept
    assert (record.parameters_count, record.tags, record.display_name) == (13_000_000_000, ["chat"], None)


def test_legacy_view_of_a_stored_image_document() -> None:
    stored = parse_record(IMAGE, image_record("Mine", baseline="stable_diffusion_1")).to_document()
    view = legacy_view(IMAGE, "Mine", stored)
    assert (view["name"], view["baseline"], view["type"]) == ("Mine", "stable diffusion 1", "ckpt")
    assert view["config"]["download"] == [
        {"file_name": "Mine.safetensors", "file_path": "", "file_url": "https://huggingface.co/test/Mine.safetensors"}
    ]


def test_legacy_view_keeps_a_key_that_differs_from_the_name() -> None:
    stored = parse_record(Category.CONTROLNET, {"name": "control_qr_xl"}).to_document()
    assert legacy_view(Category.CONTROLNET, "control_qr_sdxl", stored)["name"] == "control_qr_xl"


def test_legacy_view_of_a_stored_text_document_is_its_base_entry() -> None:
    stored = parse_record(TEXT, text_record("Org/M-7B", style="generalist")).to_document()
    view = legacy_view(TEXT, "Org/M-7B", stored)
    assert (view["name"], view["model_name"], view["parameters"]) == ("Org/M-7B", "M-7B", 7_000_000_000)
    assert view["tags"] == ["7B", "generalist"]


def test_legacy_document_keeps_stored_order() -> None:
    pairs = [(n, _record(TEXT, n)) for n in ("Org/B-7B", "Org/A-7B")]
    assert list(legacy_document(TEXT, pairs)) == [
        "Org/B-7B",
        "aphrodite/Org/B-7B",
        "koboldcpp/B-7B",
        "Org/A-7B",
        "aphrodite/Org/A-7B",
        "koboldcpp/A-7B",
    ]
    images = [(n, _record(Category.BLIP, n)) for n in ("z", "a")]
    assert list(legacy_document(Category.BLIP, images)) == ["z", "a"]


# -- real records -----------------------------------------------------------------------------------------------


def _real(path: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (LEGACY_TEXT / path).read_text() if path == "db.json" else (LEGACY_IMAGE / path).read_text()
    )
    return document


def test_a_real_image_record_round_trips() -> None:
    document = _real("stable_diffusion.json")
    key = "stable_diffusion_2.1"
    record, _ = from_legacy(IMAGE, key, document[key])
    assert to_legacy(IMAGE, key, record) == {key: document[key]}
    # and again from the stored v2 document
    assert json.dumps(legacy_view(IMAGE, key, record.to_document())) == json.dumps(document[key])


def test_a_real_text_record_round_trips_with_its_variants() -> None:
    db = _real("db.json")
    key = "acrastt/Marx-3B-V3"
    record, _ = from_legacy(TEXT, key, db[key])
    entries = to_legacy(TEXT, key, record)
    expected_keys = [key, f"aphrodite/{key}", "koboldcpp/Marx-3B-V3"]
    assert list(entries) == expected_keys
    assert json.dumps(entries) == json.dumps({k: db[k] for k in expected_keys})
    assert legacy_view(TEXT, key, record.to_document()) == db[key]
