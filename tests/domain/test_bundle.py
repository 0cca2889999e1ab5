from __future__ import annotations

import json

import pytest

from modelref.domain.bundle import read_bundle
from modelref.domain.categories import Category
from modelref.domain.render import legacy_files, v2_files
from modelref.errors import InvalidRecord, InvalidSource
from tests.factories import image_record
from tests.support import reference_files

EXPECTED_COUNTS = {
    Category.IMAGE_GENERATION: 161,
    Category.TEXT_GENERATION: 719,
    Category.CONTROLNET: 18,
    Category.ESRGAN: 6,
    Category.BLIP: 2,
    Category.CLIP: 2,
    Category.MISCELLANEOUS: 2,
    Category.CODEFORMER: 1,
    Category.GFPGAN: 1,
    Category.SAFETY_CHECKER: 1,
}


def test_real_legacy_files_give_913_records() -> None:
    bundle = read_bundle(reference_files())
    assert {c: len(p) for c, p in bundle.categories.items()} == EXPECTED_COUNTS
    assert bundle.record_count == 913
    assert set(bundle.formats.values()) == {"legacy"}
    assert Category.LORA not in bundle.categories  # lora.json is []


def test_v2_export_reads_back_to_the_same_records() -> None:
    bundle = read_bundle(reference_files())
    again = read_bundle(v2_files(bundle.categories))
    assert set(again.formats.values()) == {"v2"}
    for category, pairs in bundle.categories.items():
        assert [(k, r.to_document()) for k, r in again.categories[category]] == [(k, r.to_document()) for k, r in pairs]


def test_legacy_export_reads_back_to_the_same_records() -> None:
    bundle = read_bundle(reference_files())
    again = read_bundle(legacy_files(bundle.categories))
    for category, pairs in bundle.categories.items():
        assert [(k, r.to_document()) for k, r in again.categories[category]] == [(k, r.to_document()) for k, r in pairs]


def test_truncated_file_names_file_line_and_column() -> None:
    files = reference_files()
    files["controlnet.json"] = files["controlnet.json"][:500]
    with pytest.raises(InvalidSource, match=r"controlnet.json: not valid JSON: .* line \d+ column \d+"):
        read_bundle(files)


def test_duplicate_key_is_an_error() -> None:
    with pytest.raises(InvalidRecord, match="blip.json: duplicate key 'BLIP'"):
        read_bundle({"blip.json": b'{"BLIP": {"name": "BLIP"}, "BLIP": {"name": "BLIP"}}'})


def test_record_of_wrong_type_names_file_record_and_field() -> None:
    bad = image_record("Bad")
    bad["nsfw"] = "sometimes"
    with pytest.raises(InvalidRecord, match=r"stable_diffusion.json: record 'Bad': nsfw"):
        read_bundle({"stable_diffusion.json": json.dumps({"Bad": bad}).encode()})


def test_non_object_file_is_an_error() -> None:
    with pytest.raises(InvalidRecord, match="esrgan.json: must be a JSON object"):
        read_bundle({"esrgan.json": b"[1, 2]"})


def test_not_utf8_is_an_error() -> None:
    with pytest.raises(InvalidSource, match="models.csv: not UTF-8"):
        read_bundle({"models.csv": b"\xff\xfe\x00"})


def test_unknown_baseline_is_imported_with_a_warning() -> None:
    document = {"Odd": image_record("Odd", baseline="sd_future")}
    bundle = read_bundle({"stable_diffusion.json": json.dumps(document).encode()})
    assert bundle.record_count == 1
    assert any("unknown image baseline 'sd_future'" in w for w in bundle.warnings)


def test_v2_text_file_wins_over_models_csv() -> None:
    files = reference_files()
    files["text_generation.json"] = json.dumps({"A/b": {"name": "A/b", "parameters": 5}}).encode()
    bundle = read_bundle(files)
    assert [k for k, _ in bundle.categories[Category.TEXT_GENERATION]] == ["A/b"]
    assert bundle.formats[Category.TEXT_GENERATION] == "v2"


def test_numbers_too_large_to_store_are_refused() -> None:
    document = {"Big": image_record("Big", size_on_disk_bytes=2**70)}
    with pytest.raises(InvalidRecord, match="stable_diffusion.json: record 'Big': a value cannot be stored"):
        read_bundle({"stable_diffusion.json": json.dumps(document).encode()})


@pytest.mark.parametrize("key", ["nul\u0000key", "", "x" * 300])
def test_keys_no_database_can_hold_are_refused(key: str) -> None:
    document = {key: image_record("Fine name")}
    with pytest.raises(InvalidRecord, match="stable_diffusion.json: key"):
        read_bundle({"stable_diffusion.json": json.dumps(document).encode()})
