"""Moderated writes on a legacy-canonical PRIMARY: v1 bodies in, both shapes out."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support import APPROVER, LEGACY_IMAGE, REQUESTOR

pytestmark = pytest.mark.anyio

V1 = "/api/model_references/v1"
QUEUE = f"{V1}/pending_queue"


async def _through_queue(client: httpx.AsyncClient, method: str, path: str, body: Any = None) -> dict[str, Any]:
    proposed = await client.request(method, f"{V1}/{path}", json=body, headers=REQUESTOR)
    assert proposed.status_code == 202, proposed.text
    change_id = proposed.json()["change_id"]
    batch = await client.post(
        f"{QUEUE}/batches", json={"batch_title": "t", "approved_ids": [change_id]}, headers=APPROVER
    )
    assert batch.status_code == 200, batch.text
    applied = await client.post(f"{QUEUE}/changes/{change_id}/apply", json={}, headers=APPROVER)
    assert applied.status_code == 200, applied.text
    return proposed.json()  # type: ignore[no-any-return]


async def test_v1_image_create_shows_in_v1_and_v2(legacy_writer: httpx.AsyncClient) -> None:
    legacy = json.loads((LEGACY_IMAGE / "stable_diffusion.json").read_text())["Deliberate"]
    new = {**legacy, "name": "Deliberate Copy", "description": "a copy"}
    change = await _through_queue(legacy_writer, "POST", "image_generation", new)
    assert change["request_metadata"]["route"] == "create_legacy_image_generation_model"
    assert change["payload"]["type"] == "ckpt"  # the legacy shape is what was queued
    v1 = (await legacy_writer.get(f"{V1}/image_generation")).json()["Deliberate Copy"]
    assert v1 == new  # lossless: what went in in the legacy shape comes out the same
    v2 = (await legacy_writer.get("/api/model_references/v2/image_generation/model/Deliberate Copy")).json()
    assert v2["baseline"] == "stable_diffusion_1"
    last = (await legacy_writer.get(f"{V1}/metadata/last_updated")).json()["last_updated"]
    assert last is not None


async def test_v1_text_update_and_delete(legacy_writer: httpx.AsyncClient) -> None:
    db = (await legacy_writer.get(f"{V1}/text_generation")).json()
    entry = {**db["acrastt/Marx-3B-V3"], "description": "edited in the legacy shape"}
    await _through_queue(legacy_writer, "PUT", "text_generation", entry)
    db = (await legacy_writer.get(f"{V1}/text_generation")).json()
    assert db["koboldcpp/Marx-3B-V3"]["description"] == "edited in the legacy shape"
    v2 = (await legacy_writer.get("/api/model_references/v2/text_generation/model/acrastt/Marx-3B-V3")).json()
    assert v2["description"] == "edited in the legacy shape"
    assert v2["parameters"] == 3_000_000_000
    await _through_queue(legacy_writer, "DELETE", "text_generation/model/acrastt/Marx-3B-V3")
    db = (await legacy_writer.get(f"{V1}/text_generation")).json()
    assert not {"acrastt/Marx-3B-V3", "aphrodite/acrastt/Marx-3B-V3", "koboldcpp/Marx-3B-V3"} & set(db)


async def test_v1_write_rules(legacy_writer: httpx.AsyncClient) -> None:
    existing = json.loads((LEGACY_IMAGE / "clip.json").read_text())["ViT-L/14"]
    assert (await legacy_writer.post(f"{V1}/clip", json=existing, headers=REQUESTOR)).status_code == 409
    missing = await legacy_writer.put(f"{V1}/clip", json={**existing, "name": "nope"}, headers=REQUESTOR)
    assert missing.status_code == 404
    prefixed = await legacy_writer.post(
        f"{V1}/text_generation", json={"name": "aphrodite/x", "parameters": 1}, headers=REQUESTOR
    )
    assert prefixed.status_code == 400
    no_name = await legacy_writer.post(f"{V1}/clip", json={"type": "clip"}, headers=REQUESTOR)
    assert no_name.status_code == 422
    bad_baseline = {
        **json.loads((LEGACY_IMAGE / "stable_diffusion.json").read_text())["Deliberate"],
        "name": "Z",
        "baseline": "sd9",
    }
    assert (await legacy_writer.post(f"{V1}/image_generation", json=bad_baseline, headers=REQUESTOR)).status_code == 422
    esrgan = json.loads((LEGACY_IMAGE / "esrgan.json").read_text())
    typed = next(v for v in esrgan.values() if v["type"] == "esrgan")
    assert (
        await legacy_writer.post(f"{V1}/esrgan", json={**typed, "name": "New ESRGAN"}, headers=REQUESTOR)
    ).status_code == 202


async def test_v2_writes_are_503_except_for_categories_without_a_legacy_format(
    legacy_writer: httpx.AsyncClient,
) -> None:
    image = await legacy_writer.post("/api/model_references/v2/blip", json={"name": "x"}, headers=REQUESTOR)
    assert image.status_code == 503
    assert "Expected canonical_format='v2'" in image.json()["detail"]
    video = await legacy_writer.post(
        "/api/model_references/v2/video_generation", json={"name": "clip-gen"}, headers=REQUESTOR
    )
    assert video.status_code == 202
    assert (
        await legacy_writer.get("/api/model_references/v2/pending_queue/changes", headers=APPROVER)
    ).status_code == 503
    assert (await legacy_writer.get("/api/model_references/v2/metadata/last_updated")).status_code == 503
    assert (await legacy_writer.get("/api/replicate_mode")).json()["canonical_format"] == "legacy"
