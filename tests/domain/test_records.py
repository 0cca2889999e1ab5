from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from modelref.domain.categories import CATEGORY_INFO, Category
from modelref.domain.records import (
    RECORD_CLASSES,
    AnyRecord,
    ImageGenerationModelRecord,
    TextGenerationModelRecord,
    parse_record,
)
from modelref.domain.vocab import known_value_problems
from tests.factories import image_record, text_record


@pytest.mark.parametrize("category", list(Category), ids=str)
def test_every_category_has_a_record_type_with_its_classification(category: Category) -> None:
    document = {"name": "x", "baseline": "infer", "nsfw": False, "parameters": 1}
    record = parse_record(category, document)
    assert type(record) is RECORD_CLASSES[category]
    stored = record.to_document()
    assert stored["record_type"] == category.value
    assert stored["model_classification"] == {
        "domain": CATEGORY_INFO[category].domain.value,
        "purpose": CATEGORY_INFO[category].purpose.value,
    }
    assert stored["metadata"] == {"schema_version": "2.0.0"}


def test_discriminated_union_picks_the_type_by_record_type() -> None:
    adapter: TypeAdapter[AnyRecord] = TypeAdapter(AnyRecord)
    record = adapter.validate_python({"record_type": "text_generation", **text_record()})
    assert isinstance(record, TextGenerationModelRecord)
    with pytest.raises(ValidationError):
        adapter.validate_python({"record_type": "nope", "name": "x"})


def test_record_type_of_another_category_is_rejected() -> None:
    with pytest.raises(ValidationError, match="record_type"):
        parse_record(Category.CLIP, {"record_type": "blip", "name": "x"})


@pytest.mark.parametrize("name", ["", "   ", "a\\b", "x" * 256, "nul\x00"])
def test_bad_names_are_rejected(name: str) -> None:
    with pytest.raises(ValidationError, match="name"):
        parse_record(Category.CLIP, {"name": name})


@pytest.mark.parametrize("name", ["ViT-L/14", "Org/Model/extra", "ünïcødé 模型", "x" * 255])
def test_names_with_slashes_and_unicode_are_accepted(name: str) -> None:
    assert parse_record(Category.CLIP, {"name": name}).name == name


def test_text_parameters_alias_is_the_stored_key() -> None:
    by_alias = parse_record(Category.TEXT_GENERATION, text_record(parameters=7))
    by_attribute = parse_record(Category.TEXT_GENERATION, {"name": "A/b", "parameters_count": "7"})
    assert by_alias.to_document()["parameters"] == by_attribute.to_document()["parameters"] == 7
    assert "parameters_count" not in by_alias.to_document()


def test_text_empty_strings_are_absent() -> None:
    record = parse_record(Category.TEXT_GENERATION, text_record(description="", style="", url=""))
    assert {"description", "style", "url"}.isdisjoint(record.to_document())


def test_image_tags_and_style_are_trimmed() -> None:
    record = parse_record(Category.IMAGE_GENERATION, image_record(tags=[" anime ", "cg"], style=" anime "))
    assert isinstance(record, ImageGenerationModelRecord)
    assert record.tags == ["anime", "cg"]
    assert record.style == "anime"


def test_unknown_values_are_problems_not_parse_errors() -> None:
    record = parse_record(Category.IMAGE_GENERATION, image_record(baseline="sd9", style="weird"))
    problems = known_value_problems(record)
    assert {(p.field, p.severity) for p in problems} == {("baseline", "error"), ("style", "error")}
    assert known_value_problems(parse_record(Category.IMAGE_GENERATION, image_record(baseline="SDXL"))) == []
    controlnet = parse_record(Category.CONTROLNET, {"name": "c", "controlnet_style": "control_new"})
    assert [(p.field, p.severity) for p in known_value_problems(controlnet)] == [("controlnet_style", "warning")]
    text = parse_record(Category.TEXT_GENERATION, text_record(settings={"bogus": 1}, parameters=0))
    assert {p.field for p in known_value_problems(text)} == {"settings", "parameters"}


def test_declared_size_sums_download_sizes_when_all_known() -> None:
    document = image_record(size_on_disk_bytes=5)
    document["config"]["download"][0]["size_bytes"] = 100
    assert parse_record(Category.IMAGE_GENERATION, document).declared_size == 100
    document["config"]["download"].append({"file_name": "b", "file_url": ""})
    assert parse_record(Category.IMAGE_GENERATION, document).declared_size == 5


def test_wrong_types_are_rejected_with_the_field_path() -> None:
    with pytest.raises(ValidationError) as error:
        parse_record(Category.IMAGE_GENERATION, image_record(config={"download": [{"file_name": 3}]}))
    locs = {tuple(e["loc"]) for e in error.value.errors()}
    assert ("config", "download", 0, "file_name") in locs
    assert ("config", "download", 0, "file_url") in locs
