"""Input a hostile client sends: values JSON cannot carry, huge strings, floods of key checks."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelref.http.app import create_app
from tests.support import APPROVER, KEYS, REQUESTOR, FakeHorde, live_server, make_settings, running, writable_settings

pytestmark = pytest.mark.anyio

V2 = "/api/model_references/v2"
QUEUE = f"{V2}/pending_queue"
JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "x", "size_on_disk_bytes": NaN}',
        b'{"name": "x", "size_on_disk_bytes": Infinity}',
        b'{"name": "x", "size_on_disk_bytes": -Infinity}',
        b'{"name": "x", "size_on_disk_bytes": 1e999}',
        b'{"name": "\\ud800"}',
        b'{"name": "x", "description": "\\udfff alone"}',
    ],
)
async def test_values_json_cannot_carry_are_422_and_queue_nothing(
    refusing_writer: httpx.AsyncClient, body: bytes
) -> None:
    response = await refusing_writer.post(f"{V2}/blip", content=body, headers={**REQUESTOR, **JSON})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"
    queued = await refusing_writer.get(f"{QUEUE}/changes", headers=APPROVER)
    assert queued.json()["total"] == 0


async def test_values_json_cannot_carry_are_422_on_queue_bodies_too(writer: httpx.AsyncClient) -> None:
    for path, body in (
        (f"{QUEUE}/batches", b'{"batch_title": "t", "approved_ids": [NaN]}'),
        (f"{QUEUE}/apply", b'{"change_ids": [1], "job_id": "\\ud83d"}'),
    ):
        response = await writer.post(path, content=body, headers={**APPROVER, **JSON})
        assert response.status_code == 422, response.text


async def test_a_422_echoes_only_a_prefix_of_a_huge_value(writer: httpx.AsyncClient) -> None:
    name = "x" * 100_000
    for response in (
        await writer.post(f"{V2}/blip", json={"name": name}, headers=REQUESTOR),
        await writer.post(
            f"{V2}/image_generation", json={"name": "n", "nsfw": False, "baseline": name}, headers=REQUESTOR
        ),
        await writer.get(f"{V2}/image_generation/search", params={"limit": name[:50_000]}),
        await writer.get(f"{QUEUE}/changes", params={"model_name": name[:50_000]}, headers=APPROVER),
    ):
        assert response.status_code == 422
        assert len(response.content) < 2_000, response.text[:200]
        assert "xxxx" in response.text  # the prefix is still there to see


async def test_one_requestor_holds_a_bounded_number_of_pending_changes(
    tmp_path: Path, seeded_database: Path, horde: FakeHorde
) -> None:
    settings = writable_settings(
        tmp_path,
        seeded_database,
        horde,
        pending_queue={"requestor_ids": ["1001"], "approver_ids": ["2002"], "max_pending_per_requestor": 2},
    )
    async for client in running(create_app(settings)):
        for name in ("one", "two"):
            assert (await client.post(f"{V2}/blip", json={"name": name}, headers=REQUESTOR)).status_code == 202
        refused = await client.post(f"{V2}/blip", json={"name": "three"}, headers=REQUESTOR)
        assert refused.status_code == 400
        assert "2 pending changes" in refused.json()["detail"]
        # Another requestor (an approver may propose too) is not held by someone else's limit.
        assert (await client.post(f"{V2}/blip", json={"name": "three"}, headers=APPROVER)).status_code == 202


async def test_empty_allowlists_say_writes_are_disabled_and_which_setting_enables_them(
    tmp_path: Path, seeded_database: Path, horde: FakeHorde
) -> None:
    settings = writable_settings(tmp_path, seeded_database, horde, pending_queue={})
    async for client in running(create_app(settings)):
        response = await client.post(f"{V2}/blip", json={"name": "x"}, headers=REQUESTOR)
        assert response.status_code == 401
        assert "Writes are disabled on this deployment" in response.json()["detail"]
        assert "HORDE_MODEL_REFERENCE_PENDING_QUEUE__REQUESTOR_IDS" in response.json()["detail"]
        assert horde.calls == 0  # fails closed without asking the AI-Horde


async def test_keys_with_whitespace_are_401_and_never_count_against_the_horde(
    writer: httpx.AsyncClient, horde: FakeHorde
) -> None:
    for _ in range(10):
        for key in (" requestor-key", "requestor-key ", "requestor\tkey"):
            response = await writer.post(f"{V2}/blip", json={"name": "x"}, headers={"apikey": key})
            assert response.status_code == 401
    assert horde.calls == 0
    health = (await writer.get("/api/heartbeat")).json()["ai_horde"]
    assert (health["degraded"], health["consecutive_failures"]) == (False, 0)
    assert (await writer.post(f"{V2}/blip", json={"name": "x"}, headers=REQUESTOR)).status_code == 202


@pytest.fixture
def hung_service(tmp_path: Path, seeded_database: Path) -> Iterator[tuple[str, FakeHorde]]:
    with FakeHorde(KEYS) as horde:
        horde.mode = "hang"
        settings = writable_settings(tmp_path, seeded_database, horde, ai_horde_timeout=60)
        try:
            with live_server(create_app(settings)) as base:
                yield base, horde
        finally:
            horde.mode = "up"  # let the hung requests finish so the server can stop


def test_a_hung_ai_horde_never_starves_reads(hung_service: tuple[str, FakeHorde]) -> None:
    base, horde = hung_service

    def propose(i: int) -> httpx.Response:
        # 45 different keys (unknown to the AI-Horde): concurrent checks of one key would be coalesced into one
        return httpx.post(f"{base}{V2}/blip", json={"name": f"m{i}"}, headers={"apikey": f"key-{i}"}, timeout=120)

    with concurrent.futures.ThreadPoolExecutor(max_workers=45) as pool:
        writes = [pool.submit(propose, i) for i in range(45)]
        deadline = time.monotonic() + 30
        while sum(f.done() for f in writes) < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        # A read that runs in the thread pool (the v1 text document with groups) answers while the key checks
        # hang: the writes wait on threads of their own.
        read = httpx.get(f"{base}/api/model_references/v1/text_generation?include_group=true", timeout=30)
        answered_while_hung = [f.result() for f in writes if f.done()]
        assert horde.mode == "hang"
        horde.mode = "up"
        answers = [f.result() for f in writes]
    assert read.status_code == 200
    # Beyond the bound of concurrent key checks, requests are refused with a hint instead of queueing forever.
    assert len(answered_while_hung) >= 30
    assert all(r.status_code == 503 and r.headers.get("retry-after") for r in answered_while_hung)
    assert {r.status_code for r in answers} <= {401, 503}  # the rest: unknown keys, once the AI-Horde answers


async def test_requests_before_start_up_are_told_to_retry(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get(f"{V2}/image_generation")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
