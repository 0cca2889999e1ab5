"""Moderated writes end to end: propose → approve → apply, on a v2-canonical PRIMARY."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import image_record, text_record
from tests.support import APPROVER, REQUESTOR, STRANGER, FakeHorde, make_settings, running, writable_settings

pytestmark = pytest.mark.anyio

V2 = "/api/model_references/v2"
QUEUE = f"{V2}/pending_queue"


async def approve(client: httpx.AsyncClient, *ids: int, title: str = "batch") -> dict[str, Any]:
    response = await client.post(
        f"{QUEUE}/batches", json={"batch_title": title, "approved_ids": list(ids)}, headers=APPROVER
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def apply(client: httpx.AsyncClient, change_id: int, job_id: str | None = None) -> httpx.Response:
    return await client.post(f"{QUEUE}/changes/{change_id}/apply", json={"job_id": job_id}, headers=APPROVER)


async def propose_apply(client: httpx.AsyncClient, method: str, path: str, body: Any = None) -> dict[str, Any]:
    proposed = await client.request(method, path, json=body, headers=REQUESTOR)
    assert proposed.status_code == 202, proposed.text
    change_id = proposed.json()["change_id"]
    await approve(client, change_id)
    applied = await apply(client, change_id)
    assert applied.status_code == 200, applied.text
    return applied.json()["record"]  # type: ignore[no-any-return]


async def test_create_is_queued_not_applied(writer: httpx.AsyncClient) -> None:
    response = await writer.post(
        f"{V2}/image_generation", json=image_record("New Model", baseline="SDXL"), headers=REQUESTOR
    )
    assert response.status_code == 202
    change = response.json()
    assert (change["change_id"], change["status"], change["operation"]) == (1, "pending", "create")
    assert (change["requested_by"], change["requested_username"]) == ("1001", "Req#1001")
    assert change["request_metadata"] == {"route": "create_v2_image_generation"}
    assert change["payload"]["baseline"] == "stable_diffusion_xl"  # alternative name normalized on writes
    assert change["payload"]["tags"] == []
    assert "notes" not in change  # nulls left out of 202 answers
    assert (await writer.get(f"{V2}/image_generation/model/New Model")).status_code == 404


async def test_propose_approve_apply_shows_everywhere(writer: httpx.AsyncClient) -> None:
    before = (await writer.get(f"{V2}/metadata/image_generation")).json()
    record = await propose_apply(writer, "POST", f"{V2}/image_generation", image_record("Fresh Model"))
    assert record["status"] == "applied"
    assert record["applied_by"] == "2002"
    v2 = (await writer.get(f"{V2}/image_generation/model/Fresh Model")).json()
    assert v2["description"] == "A test model"
    assert v2["metadata"]["created_by"] == "Req#1001"
    v1 = (await writer.get("/api/model_references/v1/image_generation")).json()
    assert v1["Fresh Model"]["baseline"] == "stable_diffusion_xl"
    assert v1["Fresh Model"]["config"]["download"][0]["file_name"] == "Fresh Model.safetensors"
    after = (await writer.get(f"{V2}/metadata/image_generation")).json()
    assert after["total_creates"] == before["total_creates"] + 1
    assert after["total_models"] == 162
    assert after["last_operation_model"] == "Fresh Model"
    assert after["last_updated"] >= before["last_updated"]
    found = (await writer.get(f"{V2}/image_generation/search", params={"name_contains": "fresh"})).json()
    assert found["total"] == 1


async def test_update_text_model_with_slash_keeps_creation_info(writer: httpx.AsyncClient) -> None:
    name = "ReadyArt/Broken-Tutu-24B"
    original = (await writer.get(f"{V2}/text_generation/model/{name}")).json()
    body = {**original, "description": "updated through the queue"}
    proposed = await writer.put(f"{V2}/text_generation/model/{name}", json=body, headers=REQUESTOR)
    assert proposed.status_code == 202, proposed.text
    assert proposed.json()["related_models"] == ["aphrodite/ReadyArt/Broken-Tutu-24B", "koboldcpp/Broken-Tutu-24B"]
    await approve(writer, proposed.json()["change_id"])
    assert (await apply(writer, proposed.json()["change_id"])).status_code == 200
    updated = (await writer.get(f"{V2}/text_generation/model/{name}")).json()
    assert updated["description"] == "updated through the queue"
    assert updated["parameters"] == original["parameters"]
    assert updated["metadata"]["created_at"] == original["metadata"]["created_at"]
    assert updated["metadata"]["updated_by"] == "Req#1001"
    db = (await writer.get("/api/model_references/v1/text_generation")).json()
    assert db["koboldcpp/Broken-Tutu-24B"]["description"] == "updated through the queue"


async def test_text_create_fills_the_group_and_rejects_backend_names(writer: httpx.AsyncClient) -> None:
    proposed = await writer.post(f"{V2}/text_generation", json=text_record("Org/Shiny-7B-v2"), headers=REQUESTOR)
    assert proposed.status_code == 202
    assert proposed.json()["payload"]["text_model_group"] == "Shiny"
    assert proposed.json()["payload"]["parameters"] == 7_000_000_000
    prefixed = await writer.post(f"{V2}/text_generation", json=text_record("koboldcpp/Shiny-7B"), headers=REQUESTOR)
    assert prefixed.status_code == 400
    assert "backend prefix" in prefixed.json()["detail"]


async def test_delete_and_reject(writer: httpx.AsyncClient) -> None:
    deleted = await writer.delete(f"{V2}/clip/model/ViT-L/14", headers=REQUESTOR)
    assert deleted.status_code == 202
    assert deleted.json()["payload"]["name"] == "ViT-L/14"  # the snapshot of what is deleted
    await approve(writer, deleted.json()["change_id"])
    assert (await apply(writer, deleted.json()["change_id"])).status_code == 200
    assert (await writer.get(f"{V2}/clip/model/ViT-L/14")).status_code == 404
    assert "ViT-L/14" not in (await writer.get("/api/model_references/v1/clip")).json()

    proposed = await writer.post(f"{V2}/blip", json={"name": "Never"}, headers=REQUESTOR)
    rejected = await writer.post(
        f"{QUEUE}/batches",
        json={"batch_title": "no", "rejected_ids": [proposed.json()["change_id"]], "reject_reason": "duplicate"},
        headers=APPROVER,
    )
    assert rejected.status_code == 200
    assert rejected.json()["batch_id"] is None
    assert rejected.json()["rejected"][0]["status"] == "rejected"
    again = await apply(writer, proposed.json()["change_id"])
    assert again.status_code == 400
    assert "not approved (status=rejected)" in again.json()["detail"]


async def test_same_job_id_retry_is_a_no_op(writer: httpx.AsyncClient) -> None:
    change_id = (await writer.post(f"{V2}/blip", json={"name": "Once"}, headers=REQUESTOR)).json()["change_id"]
    await approve(writer, change_id)
    first = await apply(writer, change_id, "job-1")
    retry = await apply(writer, change_id, "job-1")
    assert first.status_code == retry.status_code == 200
    assert retry.json()["record"] == first.json()["record"]
    other = await apply(writer, change_id, "job-2")
    assert other.status_code == 400
    metadata = (await writer.get(f"{V2}/metadata/blip")).json()
    assert metadata["total_creates"] == 2 + 1  # the two imported BLIPs and this one, once


async def test_batch_split_and_apply_batch(writer: httpx.AsyncClient) -> None:
    ids = [
        (await writer.post(f"{V2}/blip", json={"name": f"B{i}"}, headers=REQUESTOR)).json()["change_id"]
        for i in range(3)
    ]
    batch = await approve(writer, *ids)
    assert batch["batch_id"] == 1
    single = await apply(writer, ids[0])
    assert single.json()["batch_split_occurred"] is True
    assert (single.json()["batch_split_original_batch_id"], single.json()["batch_split_new_batch_id"]) == (1, 2)
    assert single.json()["batch_split_reassigned_count"] == 2
    whole = await writer.post(f"{QUEUE}/apply_batch/2", params={"job_id": "j"}, headers=APPROVER)
    assert whole.status_code == 200
    assert [c["change_id"] for c in whole.json()["applied"]] == ids[1:]
    assert whole.json()["batch_split_occurred"] is False  # a batch applied in full keeps one id
    assert (await writer.post(f"{QUEUE}/apply_batch/2", headers=APPROVER)).json()["applied"] == []
    assert (await writer.post(f"{QUEUE}/apply_batch/99", headers=APPROVER)).status_code == 404


async def test_apply_many_by_body_or_query(writer: httpx.AsyncClient) -> None:
    ids = [
        (await writer.post(f"{V2}/blip", json={"name": f"M{i}"}, headers=REQUESTOR)).json()["change_id"]
        for i in range(3)
    ]
    await approve(writer, *ids)
    by_body = await writer.post(f"{QUEUE}/apply", json={"change_ids": ids[:2], "job_id": "x"}, headers=APPROVER)
    assert by_body.status_code == 200
    assert len(by_body.json()["applied"]) == 2
    by_query = await writer.post(f"{QUEUE}/apply", params={"change_ids": [ids[2]]}, headers=APPROVER)
    assert by_query.status_code == 200
    failing = await writer.post(f"{QUEUE}/apply", json={"change_ids": [ids[0]], "job_id": "other"}, headers=APPROVER)
    assert failing.status_code == 400
    assert failing.json()["failed_change_id"] == ids[0]
    assert failing.json()["failed_error_type"] == "PendingChangeStateError"
    bad = await writer.post(f"{QUEUE}/apply", json={"change_ids": [0]}, headers=APPROVER)
    assert bad.status_code == 422


async def test_queue_reads_diffs_and_purge(writer: httpx.AsyncClient) -> None:
    update = (await writer.get(f"{V2}/clip/model/ViT-L/14")).json() | {"description": "new"}
    change_id = (await writer.put(f"{V2}/clip/model/ViT-L/14", json=update, headers=REQUESTOR)).json()["change_id"]
    mine = (await writer.get(f"{QUEUE}/my_changes", headers=REQUESTOR)).json()
    assert [c["change_id"] for c in mine["items"]] == [change_id]
    assert mine["items"][0]["notes"] is None  # list answers carry every field
    listed = (await writer.get(f"{QUEUE}/changes", params={"model_name": "vit"}, headers=APPROVER)).json()
    assert listed["total"] == 1
    diff = (await writer.get(f"{QUEUE}/changes/{change_id}/diff", headers=APPROVER)).json()
    assert diff["net_operation"] == "modified"
    assert diff["fields_added"] == ["description"]
    assert diff["is_critical"] is False
    diffs = (await writer.get(f"{QUEUE}/diffs", params={"change_ids": [change_id, 999]}, headers=APPROVER)).json()
    assert (len(diffs["diffs"]), diffs["errors"][0]["change_id"], diffs["total"]) == (1, 999, 2)
    assert (await writer.get(f"{QUEUE}/changes/999", headers=APPROVER)).status_code == 404
    dry = (await writer.post(f"{QUEUE}/purge", json={"model_name": "ViT", "dry_run": True}, headers=APPROVER)).json()
    assert dry == {"removed_count": 1, "removed_change_ids": [change_id], "dry_run": True}
    assert (await writer.post(f"{QUEUE}/purge", json={}, headers=APPROVER)).status_code == 422
    assert (await writer.post(f"{QUEUE}/purge", json={"purge_all": True}, headers=APPROVER)).json()[
        "removed_count"
    ] == 1
    assert (await writer.get(f"{QUEUE}/changes", headers=APPROVER)).json()["total"] == 0
    next_id = (await writer.post(f"{V2}/blip", json={"name": "After"}, headers=REQUESTOR)).json()["change_id"]
    assert next_id == change_id + 1  # ids are never reused


async def test_roles_and_auth_failures(writer: httpx.AsyncClient, horde: FakeHorde) -> None:
    roles = (await writer.get(f"{V2}/me/roles", headers=APPROVER)).json()
    assert roles == {
        "user_id": "2002",
        "username": "App#2002",
        "roles": ["approver", "requestor"],
        "is_approver": True,
        "is_requestor": True,
    }
    assert (await writer.get(f"{V2}/me/roles", headers=STRANGER)).json()["roles"] == []
    missing = await writer.post(f"{V2}/blip", json={"name": "x"})
    assert (missing.status_code, missing.json()["detail"]) == (401, "Not authenticated")
    bad = await writer.post(f"{V2}/blip", json={"name": "x"}, headers={"apikey": "wrong"})
    assert (bad.status_code, bad.json()["detail"]) == (401, "Invalid API key")
    stranger = await writer.post(f"{V2}/blip", json={"name": "x"}, headers=STRANGER)
    assert (stranger.status_code, stranger.json()["detail"]) == (
        401,
        "You are not on the pending queue requestor list.",
    )
    requestor = await writer.get(f"{QUEUE}/changes", headers=REQUESTOR)
    assert (requestor.status_code, requestor.json()["detail"]) == (
        401,
        "You are not on the pending queue approver list.",
    )
    horde.mode = "down"
    down = await writer.post(f"{V2}/blip", json={"name": "x"}, headers={"apikey": "uncached-key"})
    assert down.status_code == 503
    assert "Auth service unavailable" in down.json()["detail"]


async def test_auth_timeout_is_503(tmp_path: Any, seeded_database: Any, horde: FakeHorde) -> None:
    from modelref.http.app import create_app

    horde.mode, horde.delay = "slow", 3
    settings = writable_settings(tmp_path, seeded_database, horde, ai_horde_timeout=0.5)
    async for client in running(create_app(settings)):
        response = await client.post(f"{V2}/blip", json={"name": "x"}, headers=REQUESTOR)
        assert (response.status_code, response.json()["detail"]) == (503, "Auth service timed out")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "detail"),
    [
        ("POST", "image_generation", image_record("Deliberate"), 409, "already exists"),
        ("PUT", "clip/model/missing", {"name": "missing"}, 404, "Use POST"),
        ("PUT", "clip/model/ViT-L/14", {"name": "other"}, 400, "must match"),
        ("DELETE", "clip/model/missing", None, 404, "not found"),
        ("POST", "nope/add", {"name": "x"}, 422, "Input should be 'image_generation'"),
        ("POST", "clip/add", {"name": "x", "record_type": "blip"}, 422, "record_type"),
        ("POST", "image_generation", image_record("B", baseline="bogus"), 422, "baseline"),
        ("POST", "image_generation", {"name": "no baseline"}, 422, "baseline"),
        ("POST", "image_generation", image_record("S", style="weird"), 422, "style"),
        ("POST", "text_generation", text_record("A/b/c"), 422, "name"),
        ("POST", "text_generation", text_record("A/neg", parameters=-1), 422, "parameters"),
        ("POST", "text_generation", text_record("A/set", settings={"bogus": 1}), 422, "settings"),
        ("POST", "blip", {"name": ""}, 422, "name"),
        ("POST", "blip", {"name": "x" * 10_000}, 422, "name"),
        ("POST", "blip", {"name": "back\\slash"}, 422, "name"),
        ("POST", "blip", {"name": 5}, 422, "name"),
        ("POST", "blip", [1, 2], 422, ""),
        ("POST", "blip", {"name": "big", "size_on_disk_bytes": 2**70}, 422, "exceeded maximum size"),
    ],
)
async def test_bad_writes_are_clear_4xx_and_queue_nothing(
    refusing_writer: httpx.AsyncClient, method: str, path: str, body: Any, status: int, detail: str
) -> None:
    response = await refusing_writer.request(method, f"{V2}/{path}", json=body, headers=REQUESTOR)
    assert response.status_code == status, response.text
    assert detail in str(response.json()["detail"])
    assert (await refusing_writer.get(f"{QUEUE}/changes", headers=APPROVER)).json()["total"] == 0


async def test_malformed_and_huge_bodies(writer: httpx.AsyncClient) -> None:
    malformed = await writer.post(
        f"{V2}/blip", content=b'{"name": ', headers={**REQUESTOR, "content-type": "application/json"}
    )
    assert malformed.status_code == 422
    huge = await writer.post(f"{V2}/blip", json={"name": "x", "description": "y" * 2_000_000}, headers=REQUESTOR)
    assert huge.status_code == 413


async def test_v1_writes_are_503_on_a_v2_deployment(writer: httpx.AsyncClient) -> None:
    for method, path in (("POST", "clip"), ("PUT", "image_generation"), ("DELETE", "clip/model/ViT-L/14")):
        response = await writer.request(
            method, f"/api/model_references/v1/{path}", json={"name": "x"}, headers=REQUESTOR
        )
        assert response.status_code == 503, (method, path)
    legacy_queue = await writer.get("/api/model_references/v1/pending_queue/changes", headers=APPROVER)
    assert legacy_queue.status_code == 503
    assert (await writer.get("/api/replicate_mode")).json()["writable"] is True


async def test_audit_views_rebuild_the_queue_history(writer: httpx.AsyncClient) -> None:
    ids = [
        (await writer.post(f"{V2}/blip", json={"name": f"A{i}"}, headers=REQUESTOR)).json()["change_id"]
        for i in range(3)
    ]
    waiting = (await writer.post(f"{V2}/blip", json={"name": "Waiting"}, headers=REQUESTOR)).json()["change_id"]
    update = (await writer.get(f"{V2}/blip/model/BLIP")).json() | {"description": "now described"}
    ids.append((await writer.put(f"{V2}/blip/model/BLIP", json=update, headers=REQUESTOR)).json()["change_id"])
    await writer.post(
        f"{QUEUE}/batches",
        json={
            "batch_title": "first",
            "approved_ids": ids[:2] + ids[3:],
            "rejected_ids": [ids[2]],
            "reject_reason": "no",
        },
        headers=APPROVER,
    )
    await apply(writer, ids[0])  # splits the rest of batch 1 into batch 2
    assert (await writer.post(f"{QUEUE}/apply_batch/2", headers=APPROVER)).status_code == 200

    current = (await writer.get(f"{QUEUE}/audit/current", headers=APPROVER)).json()
    assert [c["change_id"] for c in current["pending_changes"]] == [waiting]
    assert current["domain"] == "v2"

    page = (await writer.get(f"{QUEUE}/audit/batches", params={"limit": 1}, headers=APPROVER)).json()
    assert [b["batch_id"] for b in page["batches"]] == [2]
    assert page["next_cursor"] == 2
    older = (await writer.get(f"{QUEUE}/audit/batches", params={"cursor": 2}, headers=APPROVER)).json()
    first = older["batches"][0]
    assert (first["batch_id"], first["approved_change_count"], first["rejected_change_count"]) == (1, 1, 1)
    assert first["applied_change_count"] == 1

    detail = (await writer.get(f"{QUEUE}/audit/batches/2", headers=APPROVER)).json()
    assert sorted(c["change_id"] for c in detail["changes"]) == sorted([ids[1], ids[3]])
    assert all(c["status"] == "applied" for c in detail["changes"])
    assert [e["action"] for e in detail["changes"][0]["events"]] == ["enqueue", "approve", "apply"]

    net = (await writer.get(f"{QUEUE}/audit/batches/2/net_changes", headers=APPROVER)).json()
    by_name = {c["model_name"]: c for c in net["model_changes"]}
    assert by_name["A1"]["net_operation"] == "added"
    assert by_name["BLIP"]["net_operation"] == "modified"  # imported records have a create event to replay
    assert by_name["BLIP"]["before_state"]["name"] == "BLIP"
    assert any(d["field_path"] == "description" for d in by_name["BLIP"]["field_diffs"])
    assert (net["models_added"], net["models_modified"]) == (1, 1)
    assert (await writer.get(f"{QUEUE}/audit/batches/99", headers=APPROVER)).status_code == 404
    assert (await writer.get(f"{QUEUE}/audit/current", headers=REQUESTOR)).status_code == 401


async def test_typed_write_routes_take_their_category_from_the_path_only(writer: httpx.AsyncClient) -> None:
    document = (await writer.get("/api/openapi.json")).json()
    create = document["paths"]["/model_references/v2/clip"]["post"]
    assert all(p["name"] != "category" for p in create.get("parameters", []))
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ClipModelRecord"
    }
    response = await writer.post(
        f"{V2}/clip", params={"category": "image_generation"}, json={"name": "Only CLIP"}, headers=REQUESTOR
    )
    assert response.status_code == 202
    assert response.json()["category"] == "clip"


async def test_a_failed_bulk_apply_stops_and_keeps_the_batch_together(writer: httpx.AsyncClient) -> None:
    first = (await writer.delete(f"{V2}/blip/model/BLIP", headers=REQUESTOR)).json()["change_id"]
    second = (await writer.delete(f"{V2}/blip/model/BLIP", headers=REQUESTOR)).json()["change_id"]
    third = (await writer.post(f"{V2}/blip", json={"name": "Later"}, headers=REQUESTOR)).json()["change_id"]
    await approve(writer, first, second, third)
    response = await writer.post(f"{QUEUE}/apply", json={"change_ids": [first, second, third]}, headers=APPROVER)
    assert response.status_code == 400
    body = response.json()
    assert [c["change_id"] for c in body["applied"]] == [first]
    assert (body["failed_change_id"], body["failed_error_type"]) == (second, "PendingChangePayloadError")
    assert "no longer exists" in body["failed_error"]
    assert body["batch_split_occurred"] is False  # the untried change was part of the request: no split
    remaining = (await writer.get(f"{QUEUE}/changes", params={"statuses": "approved"}, headers=APPROVER)).json()
    assert sorted(c["change_id"] for c in remaining["items"]) == [second, third]
    assert {c["batch_id"] for c in remaining["items"]} == {1}
    assert (await writer.get(f"{V2}/blip/model/Later")).status_code == 404


@pytest.fixture(scope="module")
async def any_engine_writer(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str, module_horde: FakeHorde
) -> Any:
    """A writable app that seeds itself into a fresh database of each engine (SQLite and PostgreSQL), shared
    by the module's tests of values no database can hold (each is refused with a 422 and writes nothing)."""
    from modelref.http.app import create_app

    settings = make_settings(
        tmp_path_factory.mktemp("any-engine"),
        database_url=module_database_url,
        ai_horde_url=module_horde.url,
        pending_queue={"requestor_ids": ["1001"], "approver_ids": ["2002"]},
    )
    async for client in running(create_app(settings)):
        yield client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", f"{V2}/clip/model/nul%00byte"),
        ("DELETE", f"{V2}/clip/model/back%5Cslash"),
        ("DELETE", f"{V2}/clip/model/" + "x" * 300),
        ("GET", f"{QUEUE}/changes/{2**40}"),
        ("GET", f"{QUEUE}/changes/{2**70}/diff"),
        ("POST", f"{QUEUE}/apply_batch/{2**40}"),
        ("GET", f"{QUEUE}/audit/batches/{2**40}"),
        ("GET", f"{QUEUE}/changes?batch_id={2**40}"),
        ("GET", f"{QUEUE}/diffs?change_ids={2**40}"),
    ],
)
async def test_values_no_database_can_hold_are_422_on_every_engine(
    any_engine_writer: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await any_engine_writer.request(method, path, headers=APPROVER)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", f"{QUEUE}/changes/1/apply", {"job_id": "nul\x00job"}),
        ("POST", f"{QUEUE}/apply_batch/1?job_id=nul%00job", None),
        ("POST", f"{QUEUE}/apply", {"change_ids": [1], "job_id": "nul\x00"}),
        ("POST", f"{QUEUE}/batches", {"batch_title": "t\x00", "approved_ids": [1]}),
        ("POST", f"{QUEUE}/batches", {"batch_title": "t", "rejected_ids": [1], "reject_reason": "r\x00"}),
        ("GET", f"{QUEUE}/changes?model_name=a%00b", None),
        ("GET", f"{QUEUE}/changes?requested_by=1%00", None),
        ("POST", f"{QUEUE}/purge", {"model_name": "a\x00"}),
        ("POST", f"{QUEUE}/purge", {"requested_by": ["\x00"]}),
    ],
)
async def test_free_text_no_database_can_hold_is_the_same_422_on_every_engine(
    any_engine_writer: httpx.AsyncClient, method: str, path: str, body: object
) -> None:
    response = await any_engine_writer.request(method, path, json=body, headers=APPROVER)
    assert response.status_code == 422, response.text
    assert "NUL" in response.text


async def test_implausible_keys_are_refused_without_asking_the_horde(
    writer: httpx.AsyncClient, horde: FakeHorde
) -> None:
    before = horde.calls
    for key in ("x" * 1000, "ключ", "tab\tkey"):
        response = await writer.get(f"{V2}/me/roles", headers=[(b"apikey", key.encode())])
        assert response.status_code == 401
    assert horde.calls == before
    assert (await writer.get("/api/heartbeat")).json()["ai_horde"]["consecutive_failures"] == 0


async def test_apply_without_change_ids_is_a_422_not_a_crash(writer: httpx.AsyncClient) -> None:
    json_null = {**APPROVER, "content-type": "application/json"}
    for response in (
        await writer.post(f"{QUEUE}/apply", headers=APPROVER),
        await writer.post(f"{QUEUE}/apply", params={"job_id": "j"}, headers=APPROVER),
        await writer.post(f"{QUEUE}/apply", content=b"null", headers=json_null),
    ):
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"][:2] == ["query", "change_ids"]


async def test_a_failed_apply_answers_its_outcome_and_the_error_envelope(writer: httpx.AsyncClient) -> None:
    response = await writer.post(
        f"{QUEUE}/apply", params={"change_ids": 99999, "allow_mixed_batch": "true"}, headers=APPROVER
    )
    assert response.status_code == 404
    body = response.json()
    assert body["detail"] == body["failed_error"] == "Change 99999 not found."
    assert (body["failed_change_id"], body["applied"]) == (99999, [])
    assert response.headers["x-error-code"] == "not_found"


async def test_a_backend_prefix_is_checked_after_the_key_and_the_deployment(
    writer: httpx.AsyncClient, legacy_writer: httpx.AsyncClient
) -> None:
    body = text_record("koboldcpp/Shiny-7B")
    assert (await writer.post(f"{V2}/text_generation", json=body, headers=STRANGER)).status_code == 401
    assert (await writer.post(f"{V2}/text_generation", json=body, headers={"apikey": "nobody"})).status_code == 401
    assert (await legacy_writer.post(f"{V2}/text_generation", json=body, headers=REQUESTOR)).status_code == 503
    refused = await writer.post(f"{V2}/text_generation", json=body, headers=REQUESTOR)
    assert refused.status_code == 400
    assert "backend prefix" in refused.json()["detail"]
