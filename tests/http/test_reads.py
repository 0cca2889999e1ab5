from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from modelref.domain.categories import CATEGORY_INFO, Category
from modelref.domain.render import legacy_files
from modelref.services.records import load_all
from modelref.storage.store import Store
from tests.support import LEGACY_IMAGE, LEGACY_TEXT

pytestmark = pytest.mark.anyio

V2 = "/api/model_references/v2"
V1 = "/api/model_references/v1"
SEED_ORDER = [c.value for c in Category]


async def test_info_and_categories(client: httpx.AsyncClient) -> None:
    assert "v2" in (await client.get(f"{V2}/info")).json()["message"]
    assert (await client.get(f"{V2}/model_categories")).json() == SEED_ORDER
    assert (await client.get(f"{V1}/model_categories")).json() == SEED_ORDER
    assert "legacy" in (await client.get(f"{V1}/info")).json()["message"]


@pytest.mark.parametrize(("category", "count"), [("image_generation", 161), ("text_generation", 719), ("clip", 2)])
async def test_whole_category(client: httpx.AsyncClient, category: str, count: int) -> None:
    response = await client.get(f"{V2}/{category}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert len(body) == count
    assert all(record["record_type"] == category for record in body.values())


async def test_text_records_use_the_parameters_key(client: httpx.AsyncClient) -> None:
    marx = (await client.get(f"{V2}/text_generation/model/acrastt/Marx-3B-V3")).json()
    assert marx["parameters"] == 3_000_000_000
    assert "parameters_count" not in marx


@pytest.mark.parametrize(
    "path", ["/api/model_references/v2/nope", "/api/model_references/v2/lora", "/api/model_references/v2/ti"]
)
async def test_unknown_or_empty_category_is_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert "not found" in response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "clip/model/ViT-L/14",
        "clip/model/ViT-L%2F14",
        "text_generation/model/ReadyArt/Broken-Tutu-24B",
        "text_generation/model/ReadyArt%2FBroken-Tutu-24B",
        "controlnet/model/control_qr_sdxl",
    ],
)
async def test_single_model_by_key_even_with_slashes(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(f"{V2}/{path}")
    assert response.status_code == 200, response.text
    assert response.json()["name"] in {"ViT-L/14", "ReadyArt/Broken-Tutu-24B", "control_qr_xl"}


async def test_a_record_looks_the_same_from_every_read(client: httpx.AsyncClient) -> None:
    whole = (await client.get(f"{V2}/clip")).json()["ViT-L/14"]
    single = (await client.get(f"{V2}/clip/model/ViT-L/14")).json()
    found = (await client.get(f"{V2}/clip/search", params={"name_contains": "vit-l/14"})).json()["results"]
    across = (await client.get(f"{V2}/search", params={"name_contains": "ViT-L/14"})).json()["results"]
    assert whole == single == found[0] == across[0]


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("clip/model/" + "x" * 10_000, "not found in category 'clip'"),
        ("clip/model/nul%00byte", "not found"),
        ("clip/model/ünïcødé%20名前", "not found"),
        ("clip/model/../../v1/clip", "not found"),  # the client removes dot segments: no such route
        ("controlnet/model/control_qr_xl", "not found"),
    ],
)
async def test_missing_models_are_404_with_a_short_detail(client: httpx.AsyncClient, path: str, detail: str) -> None:
    response = await client.get(f"{V2}/{path}")
    assert response.status_code == 404
    assert detail.lower() in response.json()["detail"].lower()
    assert len(response.json()["detail"]) < 300


async def test_trailing_slash_never_500(client: httpx.AsyncClient) -> None:
    for path in (f"{V2}/clip/", f"{V2}/clip/model/", f"{V1}/clip/", f"{V2}/search/"):
        assert (await client.get(path)).status_code in {200, 307, 404}


@pytest.mark.parametrize(
    "name", ["blip", "clip", "codeformer", "controlnet", "esrgan", "gfpgan", "miscellaneous", "safety_checker"]
)
async def test_v1_equals_the_legacy_file(client: httpx.AsyncClient, name: str) -> None:
    original = json.loads((LEGACY_IMAGE / f"{name}.json").read_text())
    response = await client.get(f"{V1}/{name}")
    assert response.status_code == 200
    assert json.dumps(response.json()) == json.dumps(original)  # same value, same key order


@pytest.mark.parametrize(
    "spelling", ["image_generation", "stable_diffusion", "stable_diffusion.json", "image_generation.json"]
)
async def test_v1_image_spellings(client: httpx.AsyncClient, spelling: str) -> None:
    original = json.loads((LEGACY_IMAGE / "stable_diffusion.json").read_text())
    assert (await client.get(f"{V1}/{spelling}")).json() == original


@pytest.mark.parametrize("spelling", ["text_generation", "db.json", "db", "text_generation.json"])
async def test_v1_text_is_db_json(client: httpx.AsyncClient, spelling: str) -> None:
    body = (await client.get(f"{V1}/{spelling}")).json()
    assert len(body) == 2157
    assert json.dumps(body) == json.dumps(json.loads((LEGACY_TEXT / "db.json").read_text()))


async def test_v1_special_categories(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{V1}/lora")).json() == {}
    assert (await client.get(f"{V1}/ti.json")).json() == {}
    assert (await client.get(f"{V1}/video_generation")).status_code == 404
    unknown = await client.get(f"{V1}/nope")
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == "Invalid model category: 'nope'. 'nope' is not a valid MODEL_REFERENCE_CATEGORY"


async def test_v1_text_with_group_summaries(client: httpx.AsyncClient) -> None:
    body = (await client.get(f"{V1}/text_generation", params={"include_group": "true"})).json()
    assert len(body) == 2157
    marx = body["acrastt/Marx-3B-V3"]
    assert marx["text_model_group"] == "Marx"
    summary = marx["text_model_group_summary"]
    assert summary["member_count"] == 3
    assert summary["name_format"]["common_author"] is None
    assert body["koboldcpp/Marx-3B-V3"]["text_model_group"] == "Marx"
    assert len({entry["text_model_group"] for entry in body.values()}) == 419


async def test_service_endpoints(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/replicate_mode")).json() == {
        "replicate_mode": "PRIMARY",
        "canonical_format": "v2",
        "writable": True,
    }
    never_asked = {"age_seconds": None, "stale": True, "last_error": None}
    assert (await client.get("/api/heartbeat")).json() == {
        "status": "ok",
        "ai_horde": {
            "degraded": False,
            "consecutive_failures": 0,
            "seconds_until_retry": None,
            "usage": {"image": never_asked, "text": never_asked},
        },
    }
    assert "/api/docs" in (await client.get("/api/")).json()["message"]


async def test_statistics_from_the_data(client: httpx.AsyncClient) -> None:
    image = (await client.get("/api/model_references/statistics/image_generation")).json()
    assert (image["total_models"], image["nsfw_count"], image["sfw_count"]) == (161, 82, 79)
    assert image["baseline_distribution"]["stable_diffusion_1"] == {
        "baseline": "stable_diffusion_1",
        "count": 106,
        "percentage": 65.84,
    }
    assert image["download_stats"]["hosts"] == {"huggingface.co": 153, "civitai.com": 9}
    assert image["download_stats"]["total_size_bytes"] == 700_483_908_653
    assert image["models_with_inpainting"] == 8
    text = (await client.get("/api/model_references/statistics/text_generation", params={"limit": 5})).json()
    assert [b["count"] for b in text["parameter_buckets"]] == [89, 31, 142, 68, 114, 142, 19, 114]
    assert (text["limit"], text["offset"], text["models_without_param_info"]) == (5, 0, 0)
    grouped = (await client.get("/api/model_references/statistics/text_generation?group_text_models=true")).json()
    assert grouped["total_models"] == 419
    empty = await client.get("/api/model_references/statistics/lora")
    assert empty.status_code == 200
    assert (empty.json()["total_models"], empty.json()["baseline_distribution"], empty.json()["top_tags"]) == (
        0,
        {},
        [],
    )
    for category in ("lora", "ti", "video_generation"):  # empty alike, each its own
        alike = await client.get(f"/api/model_references/statistics/{category}")
        assert alike.json()["category"] == category
    unknown = await client.get("/api/model_references/statistics/nope")
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["path", "model_category_name"]
    assert (await client.get("/api/model_references/statistics/clip?limit=0")).status_code == 422
    assert (await client.get("/api/model_references/statistics/clip?bogus=1")).status_code == 422
    tagged = await client.get("/api/model_references/statistics/text_generation", params={"limit": 5})
    assert (
        tagged.headers["etag"] != (await client.get("/api/model_references/statistics/text_generation")).headers["etag"]
    )
    again = await client.get(
        "/api/model_references/statistics/text_generation",
        params={"limit": 5},
        headers={"If-None-Match": tagged.headers["etag"]},
    )
    assert again.status_code == 304


async def test_v2_metadata(client: httpx.AsyncClient) -> None:
    last = (await client.get(f"{V2}/metadata/last_updated")).json()["last_updated"]
    assert last == 1_700_000_000
    everything = (await client.get(f"{V2}/metadata/metadata")).json()
    assert list(everything) == SEED_ORDER
    clip = (await client.get(f"{V2}/metadata/clip")).json()
    assert (clip["total_models"], clip["total_creates"], clip["last_operation_type"]) == (2, 2, "create")
    assert clip["backend_type"] == "SQLite"
    assert (await client.get(f"{V2}/metadata/clip/last_updated")).json() == {
        "category": "clip",
        "last_updated": 1_700_000_000,
    }
    assert (await client.get(f"{V2}/metadata/nope")).status_code == 422


async def test_v1_metadata_is_503_on_a_v2_deployment(client: httpx.AsyncClient) -> None:
    for path in ("last_updated", "metadata", "clip", "clip/last_updated"):
        response = await client.get(f"{V1}/metadata/{path}")
        assert response.status_code == 503
        assert "canonical_format='LEGACY'" in response.json()["detail"]


async def test_records_carry_the_keys_clients_of_the_existing_service_read(client: httpx.AsyncClient) -> None:
    images = (await client.get(f"{V2}/image_generation")).json()
    for record in images.values():
        assert all(isinstance(record[key], list) for key in ("tags", "showcases", "trigger"))
        assert [k for k in record if k in ("config", "baseline", "nsfw", "metadata")] == [
            "config",
            "baseline",
            "nsfw",
            "metadata",
        ]
    texts = (await client.get(f"{V2}/text_generation")).json()
    assert all(isinstance(record["tags"], list) for record in texts.values())
    # The legacy rendering is unchanged: only the one record that spells out an empty list shows it.
    legacy = (await client.get(f"{V1}/image_generation")).json()
    assert sum(1 for record in legacy.values() if record.get("showcases") == []) == 1
    assert not any(record.get("tags") == [] for record in legacy.values())


async def test_v1_serves_the_legacy_files_byte_for_byte(client: httpx.AsyncClient) -> None:
    for path, file in (
        ("image_generation", LEGACY_IMAGE / "stable_diffusion.json"),
        ("stable_diffusion.json", LEGACY_IMAGE / "stable_diffusion.json"),
        ("text_generation", LEGACY_TEXT / "db.json"),
        ("db.json", LEGACY_TEXT / "db.json"),
    ):
        response = await client.get(f"{V1}/{path}", headers={"accept-encoding": "identity"})
        assert response.content == file.read_bytes(), path


async def test_v1_serves_every_other_legacy_category_as_the_export_writes_it(
    client: httpx.AsyncClient, seeded_database: Path
) -> None:
    store = Store(f"sqlite:///{seeded_database / 'modelref.sqlite3'}")
    exported = legacy_files(load_all(store))
    store.close()
    for category, info in CATEGORY_INFO.items():
        if info.legacy_file is None or category in (Category.IMAGE_GENERATION, Category.TEXT_GENERATION):
            continue
        response = await client.get(f"{V1}/{category.value}", headers={"accept-encoding": "identity"})
        assert response.content == exported[info.legacy_file], category
