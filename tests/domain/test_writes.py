from __future__ import annotations

from typing import Any

import pytest

from modelref.domain.categories import Category
from modelref.domain.records import MAX_NAME_LENGTH, ImageGenerationModelRecord, TextGenerationModelRecord
from modelref.domain.writes import check_name, check_text_name, validate_legacy_write, validate_write
from modelref.errors import InvalidBody, InvalidName, InvalidRecord
from tests.factories import image_record, text_record

IMAGE = Category.IMAGE_GENERATION
TEXT = Category.TEXT_GENERATION


def _problem(category: Category, body: Any) -> dict[str, object]:
    """The first located problem of a body validate_write refuses."""
    with pytest.raises(InvalidBody) as error:
        validate_write(category, body)
    assert error.value.problems, "a refusal names at least one problem"
    assert error.value.detail == error.value.problems[0]["msg"]
    return error.value.problems[0]


# -- validate_write: refusals -----------------------------------------------------------------------------------


def test_a_body_that_is_not_an_object_is_refused_at_the_root() -> None:
    problem = _problem(IMAGE, ["not", "an", "object"])
    assert (problem["type"], problem["loc"]) == ("model_type", [])


def test_a_missing_required_field_is_located() -> None:
    body = image_record("X")
    del body["baseline"]
    problem = _problem(IMAGE, body)
    assert (problem["type"], problem["loc"]) == ("missing", ["baseline"])


def test_a_wrong_type_is_located_with_its_input() -> None:
    problem = _problem(IMAGE, image_record("X", nsfw="maybe"))
    assert (problem["type"], problem["loc"], problem["input"]) == ("bool_parsing", ["nsfw"], "maybe")


def test_a_nested_wrong_type_is_located_by_path() -> None:
    body = image_record("X", config={"download": [{"file_name": "a", "file_url": 5}]})
    assert _problem(IMAGE, body)["loc"] == ["config", "download", 0, "file_url"]


def test_an_unknown_baseline_is_refused() -> None:
    problem = _problem(IMAGE, image_record("X", baseline="sd9"))
    assert (problem["loc"], problem["input"]) == (["baseline"], "sd9")
    assert problem["msg"] == "Value error, unknown image baseline 'sd9'"


def test_an_unknown_style_is_refused() -> None:
    problem = _problem(IMAGE, image_record("X", style="weird"))
    assert (problem["loc"], problem["msg"]) == (["style"], "Value error, unknown style 'weird'")


def test_a_record_type_of_another_category_is_refused() -> None:
    problem = _problem(IMAGE, image_record("X", record_type="text_generation"))
    assert problem["loc"] == ["record_type"]
    assert problem["msg"] == "record_type must be 'image_generation' for this path, got 'text_generation'"


def test_the_record_type_of_the_path_category_is_accepted() -> None:
    assert validate_write(IMAGE, image_record("X", record_type="image_generation")).name == "X"


@pytest.mark.parametrize("name", ["   ", "a\\b", "a\x00b", "x" * (MAX_NAME_LENGTH + 1)])
def test_bad_names_in_the_body_are_refused(name: str) -> None:
    assert _problem(IMAGE, image_record(name))["loc"] == ["name"]


def test_a_value_too_big_to_store_is_refused() -> None:
    problem = _problem(TEXT, text_record(parameters=2**70))
    assert str(problem["msg"]).startswith("Value error, a value cannot be stored")


def test_unknown_text_setting_and_non_positive_parameters_are_refused() -> None:
    assert _problem(TEXT, text_record(settings={"bogus": 1}))["loc"] == ["settings"]
    problem = _problem(TEXT, text_record(parameters=0))
    assert (problem["loc"], problem["msg"]) == (
        ["parameters"],
        "Value error, parameter count must be a positive integer",
    )


# -- validate_write: normalization ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("SDXL", "stable_diffusion_xl"),
        ("stable diffusion xl", "stable_diffusion_xl"),
        ("SD1.5", "stable_diffusion_1"),
        ("stable_diffusion", "stable_diffusion_1"),
        ("flux dev", "flux_dev"),
        ("qwen", "qwen_image"),
        ("flux_1", "flux_1"),
        ("infer", "infer"),
    ],
)
def test_alternative_baseline_names_are_normalized(given: str, stored: str) -> None:
    record = validate_write(IMAGE, image_record("X", baseline=given))
    assert isinstance(record, ImageGenerationModelRecord)
    assert record.baseline == stored


def test_image_lists_given_as_null_become_empty_and_tags_are_trimmed() -> None:
    record = validate_write(IMAGE, image_record("X", tags=None, showcases=None, trigger=None))
    assert isinstance(record, ImageGenerationModelRecord)
    document = record.to_document()
    assert (document["tags"], document["showcases"], document["trigger"]) == ([], [], [])
    trimmed = validate_write(IMAGE, image_record("Y", tags=[" anime ", "sketch"]))
    assert isinstance(trimmed, ImageGenerationModelRecord)
    assert trimmed.tags == ["anime", "sketch"]


def test_text_model_group_is_filled_from_the_name() -> None:
    record = validate_write(TEXT, text_record("Org/Llama-3-8B-Instruct"))
    assert isinstance(record, TextGenerationModelRecord)
    assert record.text_model_group == "Llama-3"
    kept = validate_write(TEXT, text_record("Org/Llama-3-8B-Instruct", text_model_group="Mine"))
    assert isinstance(kept, TextGenerationModelRecord)
    assert kept.text_model_group == "Mine"


def test_a_plain_text_name_without_organisation_is_accepted() -> None:
    assert validate_write(TEXT, text_record("Model-7B")).name == "Model-7B"


# -- validate_write: text names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["aphrodite/Org/Model-7B", "koboldcpp/Model-7B"])
def test_a_backend_prefix_is_left_to_the_name_rules_that_come_after_the_key(name: str) -> None:
    """API.md §9: the prefix (400) is checked after the key and the guards, not with the body (422)."""
    assert validate_write(TEXT, text_record(name)).name == name
    with pytest.raises(InvalidName, match="contains a backend prefix .* generated automatically"):
        check_text_name(name)


@pytest.mark.parametrize("name", ["a/b/c", "https://example.org"])
def test_a_text_name_with_more_than_one_slash_is_an_invalid_body(name: str) -> None:
    problem = _problem(TEXT, text_record(name))
    assert (problem["loc"], problem["msg"]) == (["name"], "Value error, a text model name is 'Org/Model' or 'Model'")


def test_a_backend_prefix_is_allowed_in_other_categories() -> None:
    assert validate_write(IMAGE, image_record("koboldcpp/x")).name == "koboldcpp/x"


# -- validate_legacy_write --------------------------------------------------------------------------------------


def _legacy_image(name: str = "Old", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "baseline": "stable diffusion 1",
        "type": "ckpt",
        "inpainting": False,
        "nsfw": False,
        "description": None,
        "config": {
            "files": [{"path": "old.ckpt", "sha256sum": "b" * 64}],
            "download": [{"file_name": "old.ckpt", "file_path": "", "file_url": "https://example.org/old.ckpt"}],
        },
        **fields,
    }


def test_legacy_write_returns_the_name_and_the_body_less_its_nulls() -> None:
    body = _legacy_image()
    name, payload = validate_legacy_write(IMAGE, body)
    assert name == "Old"
    assert "description" not in payload
    assert payload == {k: v for k, v in body.items() if k != "description"}


def test_legacy_text_write() -> None:
    name, payload = validate_legacy_write(TEXT, {"name": "Org/Model-7B", "parameters": 7_000_000_000, "url": None})
    assert (name, payload) == ("Org/Model-7B", {"name": "Org/Model-7B", "parameters": 7_000_000_000})


@pytest.mark.parametrize("body", [["x"], {"baseline": "x"}, {"name": 5}])
def test_legacy_write_needs_a_string_name(body: Any) -> None:
    with pytest.raises(InvalidRecord, match="^Field 'name' is required and must be a string$"):
        validate_legacy_write(IMAGE, body)


def test_legacy_write_with_an_unknown_baseline() -> None:
    with pytest.raises(InvalidRecord, match="^Field 'baseline': unknown image baseline 'sd9'$"):
        validate_legacy_write(IMAGE, _legacy_image(baseline="sd9"))


def test_legacy_write_of_a_wrong_type_is_an_invalid_record() -> None:
    with pytest.raises(InvalidRecord, match="nsfw"):
        validate_legacy_write(IMAGE, _legacy_image(nsfw="maybe"))


def test_legacy_write_of_a_value_too_big_to_store() -> None:
    with pytest.raises(InvalidRecord, match="^a value cannot be stored"):
        validate_legacy_write(IMAGE, _legacy_image(size_on_disk_bytes=2**70))


def test_legacy_text_body_with_a_backend_prefix_is_left_to_the_name_rules() -> None:
    name, _ = validate_legacy_write(TEXT, {"name": "koboldcpp/Model-7B", "parameters": 7_000_000_000})
    assert name == "koboldcpp/Model-7B"
    with pytest.raises(InvalidName, match="backend prefix"):
        check_text_name(name)


def test_legacy_text_write_with_a_bad_setting() -> None:
    with pytest.raises(InvalidRecord, match="^Field 'settings': unknown generation setting 'bogus'$"):
        validate_legacy_write(TEXT, {"name": "Org/M-7B", "parameters": 7_000_000_000, "settings": {"bogus": 1}})


# -- name rules -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "^Model name must not be empty or whitespace-only.$"),
        (" \t ", "^Model name must not be empty or whitespace-only.$"),
        ("a\\b", r"^Model name must not contain invalid characters \\: 'a\\b'$"),
        ("a\x00b", "^Model name must not contain invalid characters"),
        ("x" * (MAX_NAME_LENGTH + 1), f"^Model name must be at most {MAX_NAME_LENGTH} characters$"),
    ],
)
def test_check_name_refuses(name: str, message: str) -> None:
    with pytest.raises(InvalidRecord, match=message):
        check_name(name)


@pytest.mark.parametrize("name", ["Model", "Org/Model 7B", "x" * MAX_NAME_LENGTH, " padded "])
def test_check_name_accepts(name: str) -> None:
    check_name(name)


def test_check_text_name_messages() -> None:
    with pytest.raises(InvalidName) as deleting:
        check_text_name("koboldcpp/Model-7B", deleting=True)
    assert deleting.value.detail == (
        "Model name 'koboldcpp/Model-7B' contains a backend prefix (aphrodite/, koboldcpp/). Submit only the base "
        "model name — backend duplicates are deleted automatically."
    )
    with pytest.raises(InvalidName, match="backend duplicates are generated automatically.$"):
        check_text_name("aphrodite/Org/Model-7B")
    check_text_name("Org/Model-7B")
    check_text_name("kobold/Model-7B")
