from __future__ import annotations

import json

import pytest

from modelref.domain.categories import CATEGORY_INFO, IMAGE_REPO_CATEGORIES, Category
from modelref.domain.legacy import legacy_to_v2, v2_to_legacy
from modelref.domain.records import UNKNOWN_SHA256, ImageGenerationModelRecord
from modelref.errors import InvalidRecord
from tests.support import LEGACY_IMAGE


def _load(category: Category) -> tuple[str, dict[str, dict[str, object]]]:
    file_name = CATEGORY_INFO[category].legacy_file
    assert file_name is not None
    raw = (LEGACY_IMAGE / file_name).read_text()
    return raw, json.loads(raw)


def _round_trip(category: Category, document: dict[str, dict[str, object]]) -> dict[str, object]:
    return {key: v2_to_legacy(category, legacy_to_v2(category, key, value)[0]) for key, value in document.items()}


@pytest.mark.parametrize("category", IMAGE_REPO_CATEGORIES, ids=str)
def test_real_file_round_trips_with_same_value_and_key_order(category: Category) -> None:
    _, document = _load(category)
    assert document, "the real file has records"
    result = _round_trip(category, document)
    assert result == document
    # json.dumps keeps key order, so equal text means equal key order at every depth.
    assert json.dumps(result) == json.dumps(document)


def test_stable_diffusion_round_trips_byte_for_byte() -> None:
    raw, document = _load(Category.IMAGE_GENERATION)
    assert json.dumps(_round_trip(Category.IMAGE_GENERATION, document), indent=4) + "\n" == raw


def test_image_record_converts_to_normalized_v2() -> None:
    _, document = _load(Category.IMAGE_GENERATION)
    record, warnings = legacy_to_v2(Category.IMAGE_GENERATION, "stable_diffusion_2.1", document["stable_diffusion_2.1"])
    assert warnings == []
    assert isinstance(record, ImageGenerationModelRecord)
    assert record.baseline == "stable_diffusion_2_768"  # renamed from "stable diffusion 2"
    download = record.config.download[0]
    assert download.file_name == "model_2_1.ckpt"
    assert download.md5sum == "ce8ee5c53acb3a6540b44a71276c3d01"
    assert download.file_url.startswith("https://huggingface.co/")
    assert download.known_slow_download is False
    assert record.config.legacy_extra_files == [{"path": "v2-inference-v.yaml"}]
    assert record.legacy_extras == {"download_all": True, "available": False}
    assert "type" not in record.to_document().get("legacy_extras", {})


def test_civitai_downloads_are_known_slow() -> None:
    _, document = _load(Category.IMAGE_GENERATION)
    slow = [
        key
        for key, value in document.items()
        if legacy_to_v2(Category.IMAGE_GENERATION, key, value)[0].config.download[0].known_slow_download
    ]
    assert len(slow) == 9  # DATA.md §17: civitai.com hosts 9 downloads


def test_missing_sha256_becomes_fixme_and_is_omitted_again() -> None:
    _, document = _load(Category.CLIP)
    record, _ = legacy_to_v2(Category.CLIP, "coca_ViT-L-14", document["coca_ViT-L-14"])
    assert record.config.download[0].sha256sum == UNKNOWN_SHA256
    assert "sha256sum" not in v2_to_legacy(Category.CLIP, record)["config"]["files"][0]


def test_esrgan_keeps_a_type_that_differs_from_the_default() -> None:
    _, document = _load(Category.ESRGAN)
    types = {v2_to_legacy(Category.ESRGAN, legacy_to_v2(Category.ESRGAN, k, v)[0])["type"] for k, v in document.items()}
    assert types == {"esrgan", "realesrgan"}


def test_controlnet_key_differs_from_name_with_a_warning() -> None:
    _, document = _load(Category.CONTROLNET)
    record, warnings = legacy_to_v2(Category.CONTROLNET, "control_qr_sdxl", document["control_qr_sdxl"])
    assert record.name == "control_qr_xl"
    assert any("differs from its key" in w for w in warnings)


def test_download_without_file_entry_is_an_error_naming_record_and_field() -> None:
    legacy = {
        "name": "x",
        "type": "blip",
        "config": {"files": [], "download": [{"file_name": "m.pth", "file_path": "", "file_url": "u"}]},
    }
    with pytest.raises(InvalidRecord, match=r"blip.json: record 'x': field 'config.download\[0\].file_name'"):
        legacy_to_v2(Category.BLIP, "x", legacy)


@pytest.mark.parametrize(
    ("legacy", "message"),
    [
        ("not an object", "must be a JSON object"),
        ({"name": "x", "config": []}, "field 'config' must be an object"),
        ({"name": "x", "config": {"files": {}, "download": []}}, "must be lists"),
        ({"name": "x", "baseline": "stable diffusion 1", "nsfw": "maybe", "config": {}}, "nsfw"),
        ({"name": "", "baseline": "stable diffusion 1", "nsfw": False, "config": {}}, "name"),
    ],
)
def test_malformed_legacy_records_are_clear_errors(legacy: object, message: str) -> None:
    with pytest.raises(InvalidRecord, match=message):
        legacy_to_v2(Category.IMAGE_GENERATION, "x", legacy)


def test_v2_only_image_record_renders_the_legacy_required_fields() -> None:
    record = ImageGenerationModelRecord(name="New", baseline="flux_1", nsfw=True)
    legacy = v2_to_legacy(Category.IMAGE_GENERATION, record)
    assert legacy == {
        "name": "New",
        "baseline": "flux_1",
        "type": "ckpt",
        "inpainting": False,
        "nsfw": True,
        "download_all": False,
        "config": {"files": [], "download": []},
    }
