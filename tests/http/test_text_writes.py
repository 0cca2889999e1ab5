"""The toolkit's record changes over HTTP: queued for review (202), applied like every other change."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.factories import text_record
from tests.support import APPROVER, REQUESTOR, STRANGER

pytestmark = pytest.mark.anyio
V2 = "/api/model_references/v2"
TEXT = f"{V2}/text_generation"
QUEUE = f"{V2}/pending_queue"


async def queued(client: httpx.AsyncClient) -> list[dict[str, object]]:
    response = await client.get(f"{QUEUE}/changes", headers=APPROVER)
    assert response.status_code == 200
    changes: list[dict[str, object]] = response.json()["items"]
    return changes


async def test_common_fields_queue_one_update_per_canonical_member(writer: httpx.AsyncClient) -> None:
    summary = (await writer.get(f"{TEXT}/groups/summary")).json()["groups"]
    group = next(g for g in summary if g["canonical_count"] >= 3 and "/" not in g["group_name"])
    name = group["group_name"]
    response = await writer.put(
        f"{TEXT}/group/{name}/common_fields", json={"style": "toolkit-test", "nsfw": True}, headers=REQUESTOR
    )
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["updated_count"] == group["canonical_count"] == len(answer["pending_change_ids"])
    changes = {c["change_id"]: c for c in await queued(writer)}
    for change_id in answer["pending_change_ids"]:
        change = changes[change_id]
        assert change["operation"] == "update"
        assert change["notes"] == f"Batch group update for '{name}'"
        assert change["request_metadata"] == {"route": "update_group_common_fields", "batch_id": answer["batch_id"]}
        payload = change["payload"]
        assert isinstance(payload, dict)
        assert (payload["style"], payload["nsfw"], payload["text_model_group"]) == ("toolkit-test", True, name)
    members = (await writer.get(f"{TEXT}/group/{name}")).json()["members"]
    assert all(m.get("style") != "toolkit-test" for m in members)  # queued, not applied
    by_query = await writer.put(
        f"{TEXT}/group/common_fields", params={"name": name}, json={"url": "https://x.example"}, headers=REQUESTOR
    )
    assert by_query.status_code == 202


async def test_common_fields_refusals(writer: httpx.AsyncClient) -> None:
    empty = await writer.put(f"{TEXT}/group/Marx/common_fields", json={}, headers=REQUESTOR)
    assert (empty.status_code, empty.json()["detail"]) == (400, "No fields to update. Provide at least one field.")
    missing = await writer.put(f"{TEXT}/group/nope/common_fields", json={"style": "x"}, headers=REQUESTOR)
    assert (missing.status_code, missing.json()["detail"]) == (404, "No models found in group 'nope'")
    assert (await writer.put(f"{TEXT}/group/Marx/common_fields", json={"style": "x"})).status_code == 401
    assert (
        await writer.put(f"{TEXT}/group/Marx/common_fields", json={"style": "x"}, headers=STRANGER)
    ).status_code == 401
    assert (
        await writer.put(f"{TEXT}/group/Marx/common_fields", json={"bogus": 1}, headers=REQUESTOR)
    ).status_code == 422
    assert (
        await writer.put(f"{TEXT}/group/Marx/common_fields", json={"nsfw": "maybe"}, headers=REQUESTOR)
    ).status_code == 422
    assert await queued(writer) == []


async def test_name_exception_set_applied_and_cleared(writer: httpx.AsyncClient) -> None:
    name = "acrastt/Marx-3B-V3"
    response = await writer.put(f"{TEXT}/{name}/name_exception", json={"reason": "keeps its V3"}, headers=REQUESTOR)
    assert response.status_code == 202, response.text
    change_id = response.json()["pending_change_id"]
    (change,) = await queued(writer)
    assert change["change_id"] == change_id
    assert change["notes"] == f"Name exception set for '{name}'"
    assert change["request_metadata"] == {"route": "set_name_exception"}
    batch = await writer.post(
        f"{QUEUE}/batches", json={"batch_title": "b", "approved_ids": [change_id]}, headers=APPROVER
    )
    assert batch.status_code == 200
    applied = await writer.post(f"{QUEUE}/changes/{change_id}/apply", json={}, headers=APPROVER)
    assert applied.status_code == 200, applied.text
    group = (await writer.get(f"{TEXT}/group/Marx")).json()
    assert group["exception_members"] == [{"name": name, "reason": "keeps its V3"}]
    cleared = await writer.put(f"{TEXT}/{name}/name_exception", json={"reason": None}, headers=REQUESTOR)
    assert cleared.status_code == 202
    payload = next(c for c in await queued(writer) if c["change_id"] == cleared.json()["pending_change_id"])["payload"]
    assert isinstance(payload, dict)
    assert "name_schema_exception" not in payload
    missing = await writer.put(f"{TEXT}/nobody/Nothing-7B/name_exception", json={"reason": "x"}, headers=REQUESTOR)
    assert (missing.status_code, missing.json()["detail"]) == (
        404,
        "Model 'nobody/Nothing-7B' not found in text_generation category",
    )
    assert (await writer.put(f"{TEXT}/{name}/name_exception", json={}, headers=REQUESTOR)).status_code == 422


async def test_notes_hold_the_whole_name(writer: httpx.AsyncClient) -> None:
    group = "Verylongname" * 8  # longer than an error message quotes
    name = f"LongOrg/{group}-7B"
    created = await writer.post(f"{V2}/text_generation", json=text_record(name), headers=REQUESTOR)
    assert created.status_code == 202, created.text
    change_id = created.json()["change_id"]
    await writer.post(f"{QUEUE}/batches", json={"batch_title": "b", "approved_ids": [change_id]}, headers=APPROVER)
    assert (await writer.post(f"{QUEUE}/changes/{change_id}/apply", json={}, headers=APPROVER)).status_code == 200
    fields = await writer.put(f"{TEXT}/group/{group}/common_fields", json={"style": "x"}, headers=REQUESTOR)
    assert fields.status_code == 202, fields.text
    exception = await writer.put(f"{TEXT}/{name}/name_exception", json={"reason": "x"}, headers=REQUESTOR)
    assert exception.status_code == 202, exception.text
    notes = {c["change_id"]: c["notes"] for c in await queued(writer)}
    assert notes[fields.json()["pending_change_ids"][0]] == f"Batch group update for '{group}'"
    assert notes[exception.json()["pending_change_id"]] == f"Name exception set for '{name}'"


ALIASES = f"{TEXT}/aliases"


async def test_aliases_are_kept_resolved_and_audited(writer: httpx.AsyncClient) -> None:
    assert (await writer.get(ALIASES)).json() == {"entries": []}
    missing = await writer.get(f"{ALIASES}/Llama-3")
    assert (missing.status_code, missing.json()["detail"]) == (404, "No alias entry for canonical group 'Llama-3'")
    put = await writer.put(f"{ALIASES}/Llama-3", json={"aliases": ["MetaLlama-3", "LLaMA3"]}, headers=REQUESTOR)
    assert put.status_code == 200, put.text
    assert put.json() == {"canonical": "Llama-3", "aliases": ["MetaLlama-3", "LLaMA3"]}
    assert (await writer.get(f"{ALIASES}/Llama-3")).json() == {
        "canonical": "Llama-3",
        "aliases": ["LLaMA3", "MetaLlama-3"],
    }
    parsed = (await writer.get(f"{TEXT}/parse_name", params={"name": "koboldcpp/MetaLlama-3-8B-Instruct"})).json()
    assert parsed["suggested_group"] == "Llama-3"  # through the alias
    added = await writer.post(f"{ALIASES}/Llama-3/add", json={"alias": "L3"}, headers=REQUESTOR)
    assert added.json()["aliases"] == ["L3", "LLaMA3", "MetaLlama-3"]
    again = await writer.post(f"{ALIASES}/Llama-3/add", json={"alias": "L3"}, headers=REQUESTOR)
    assert again.json() == added.json()  # idempotent
    slash = await writer.put(f"{ALIASES}/org/Group", json={"aliases": ["Other/Name"]}, headers=REQUESTOR)
    assert slash.status_code == 200
    assert (await writer.get(f"{ALIASES}/org/Group")).json()["aliases"] == ["Other/Name"]
    for alias in ("L3", "LLaMA3", "MetaLlama-3"):
        removed = await writer.post(f"{ALIASES}/Llama-3/remove", json={"alias": alias}, headers=REQUESTOR)
        assert removed.status_code == 200
    assert removed.json() == {"canonical": "Llama-3", "aliases": []}
    assert (await writer.get(f"{ALIASES}/Llama-3")).status_code == 404  # the last removal deleted the entry
    assert (await writer.delete(f"{ALIASES}/org/Group", headers=REQUESTOR)).status_code == 204
    assert (await writer.get(ALIASES)).json() == {"entries": []}
    none = await writer.put(f"{ALIASES}/Llama-3", json={"aliases": []}, headers=REQUESTOR)
    assert (none.status_code, none.json()) == (200, {"canonical": "Llama-3", "aliases": []})
    assert (await writer.get(f"{ALIASES}/Llama-3")).status_code == 404  # nothing made


GROUP_OF_ITS_OWN = "'{}' is a group of its own (text models are in it); it cannot be an alias of '{}'"


async def test_alias_conflicts_are_409_and_change_nothing(writer: httpx.AsyncClient) -> None:
    assert (await writer.put(f"{ALIASES}/A", json={"aliases": ["x", "y"]}, headers=REQUESTOR)).status_code == 200
    cases = [
        ("PUT", f"{ALIASES}/B", {"aliases": ["B"]}, "Canonical name 'B' cannot be its own alias"),
        ("PUT", f"{ALIASES}/B", {"aliases": ["x"]}, "Alias 'x' is already registered under canonical group 'A'"),
        ("POST", f"{ALIASES}/B/add", {"alias": "B"}, "Cannot alias 'B' to itself"),
        ("POST", f"{ALIASES}/x/add", {"alias": "z"}, "'x' is an alias of 'A'; give the aliases to 'A' instead"),
        ("POST", f"{ALIASES}/C/add", {"alias": "A"}, "'A' has aliases of its own; it cannot be an alias of 'C'"),
        ("PUT", f"{ALIASES}/C", {"aliases": ["z", "Marx"]}, GROUP_OF_ITS_OWN.format("Marx", "C")),
        ("POST", f"{ALIASES}/A/add", {"alias": "Meta-Llama-3"}, GROUP_OF_ITS_OWN.format("Meta-Llama-3", "A")),
    ]
    for method, path, body, detail in cases:
        answer = await writer.request(method, path, json=body, headers=REQUESTOR)
        assert (answer.status_code, answer.json()["detail"]) == (409, detail), path
    assert (await writer.get(ALIASES)).json() == {"entries": [{"canonical": "A", "aliases": ["x", "y"]}]}
    not_there = await writer.post(f"{ALIASES}/A/remove", json={"alias": "q"}, headers=REQUESTOR)
    assert (not_there.status_code, not_there.json()["detail"]) == (404, "Alias 'q' not found under canonical group 'A'")
    assert (await writer.delete(f"{ALIASES}/nope", headers=REQUESTOR)).status_code == 404
    assert (await writer.put(f"{ALIASES}/A", json={"aliases": ["x"]})).status_code == 401
    assert (await writer.put(f"{ALIASES}/A", json={"aliases": ["x"]}, headers=STRANGER)).status_code == 401
    for body in ({"aliases": [""]}, {"aliases": ["x" * 201]}, {"aliases": ["a\u0000b"]}, {"aliases": "x"}, {}):
        assert (await writer.put(f"{ALIASES}/A", json=body, headers=REQUESTOR)).status_code == 422, body


async def test_concurrent_claims_on_one_alias_leave_one_owner(writer: httpx.AsyncClient) -> None:
    answers = await asyncio.gather(
        *(writer.post(f"{ALIASES}/G{i}/add", json={"alias": "contested"}, headers=REQUESTOR) for i in range(8))
    )
    assert sorted(a.status_code for a in answers) == [200] + [409] * 7
    entries = (await writer.get(ALIASES)).json()["entries"]
    assert [e["aliases"] for e in entries] == [["contested"]]


FAMILIES = f"{TEXT}/families"


async def test_families_are_kept_and_shown_with_their_groups(writer: httpx.AsyncClient) -> None:
    assert (await writer.get(FAMILIES)).json() == {"families": []}
    put = await writer.put(f"{FAMILIES}/Marx family", json={"members": ["Marx", "Marx", "Other"]}, headers=REQUESTOR)
    assert put.status_code == 200, put.text
    assert put.json() == {"family_name": "Marx family", "members": ["Marx", "Other"]}
    assert (await writer.get(f"{TEXT}/group/Marx")).json()["related_family"] == put.json()
    summary = (await writer.get(f"{TEXT}/groups/summary")).json()
    marx = next(g for g in summary["groups"] if g["group_name"] == "Marx")
    assert marx["family_name"] == "Marx family"
    assert summary["groups_with_families"] == 1  # "Other" is no group of the data
    await writer.put(f"{ALIASES}/Marx", json={"aliases": ["Marxism"]}, headers=REQUESTOR)
    summary = (await writer.get(f"{TEXT}/groups/summary")).json()
    assert next(g for g in summary["groups"] if g["group_name"] == "Marx")["aliases"] == ["Marxism"]
    assert summary["groups_with_aliases"] == 1
    added = await writer.post(f"{FAMILIES}/Marx family/add", json={"group_name": "Third"}, headers=REQUESTOR)
    assert added.json()["members"] == ["Marx", "Other", "Third"]
    taken = await writer.put(f"{FAMILIES}/Rival", json={"members": ["Marx"]}, headers=REQUESTOR)
    assert (taken.status_code, taken.json()["detail"]) == (
        409,
        "Group 'Marx' already belongs to family 'Marx family'. Remove it from that family first.",
    )
    empty = await writer.put(f"{FAMILIES}/Rival", json={"members": []}, headers=REQUESTOR)
    assert (empty.status_code, empty.json()["detail"]) == (409, "A family must have at least one member group.")
    absent = await writer.post(f"{FAMILIES}/Nope/add", json={"group_name": "x"}, headers=REQUESTOR)
    assert (absent.status_code, absent.json()["detail"]) == (404, "Family 'Nope' does not exist.")
    not_member = await writer.post(f"{FAMILIES}/Marx family/remove", json={"group_name": "x"}, headers=REQUESTOR)
    assert (not_member.status_code, not_member.json()["detail"]) == (404, "Group 'x' not found in family 'Marx family'")
    for group in ("Marx", "Other", "Third"):
        removed = await writer.post(f"{FAMILIES}/Marx family/remove", json={"group_name": group}, headers=REQUESTOR)
        assert removed.status_code == 200
    assert removed.json() == {"family_name": "Marx family", "members": []}
    assert (await writer.get(f"{FAMILIES}/Marx family")).status_code == 404  # emptied: deleted
    assert (await writer.get(f"{TEXT}/group/Marx")).json()["related_family"] is None
    assert (await writer.put(f"{FAMILIES}/F", json={"members": ["a/b"]}, headers=REQUESTOR)).status_code == 200
    assert (await writer.get(f"{FAMILIES}/F")).json()["members"] == ["a/b"]
    assert (await writer.delete(f"{FAMILIES}/F", headers=REQUESTOR)).status_code == 204
    assert (await writer.delete(f"{FAMILIES}/F", headers=REQUESTOR)).status_code == 404
    assert (await writer.put(f"{FAMILIES}/F", json={"members": ["a"]})).status_code == 401
    detected = await writer.get(f"{FAMILIES}/detect")  # not taken for a family named "detect"
    assert detected.status_code == 200
    assert "suggestions" in detected.json()


async def test_concurrent_edits_of_one_family(writer: httpx.AsyncClient) -> None:
    await writer.put(f"{FAMILIES}/F", json={"members": ["base"]}, headers=REQUESTOR)
    answers = await asyncio.gather(
        *(writer.post(f"{FAMILIES}/F/add", json={"group_name": f"g{i}"}, headers=REQUESTOR) for i in range(8))
    )
    assert {a.status_code for a in answers} == {200}
    assert (await writer.get(f"{FAMILIES}/F")).json()["members"] == ["base"] + [
        f"g{i}" for i in range(8)
    ]  # no lost update


async def test_names_no_database_can_hold_are_refused(writer: httpx.AsyncClient) -> None:
    routes = [(ALIASES, {"aliases": ["y"]}), (FAMILIES, {"members": ["y"]})]
    for base, body in routes:
        for name in ("x" * 201, "a%00b"):
            answer = await writer.put(f"{base}/{name}", json=body, headers=REQUESTOR)
            assert answer.status_code == 422, (base, name)
            assert answer.json()["detail"][0]["loc"][0] == "path", answer.text  # the name, not the body
        control = await writer.put(f"{base}/{'x' * 200}", json=body, headers=REQUESTOR)
        assert control.status_code == 200, control.text  # the same body under a name that fits
    nul = await writer.put(f"{TEXT}/a%00b/name_exception", json={"reason": "x"}, headers=REQUESTOR)
    assert nul.status_code == 422, nul.text
    assert (await writer.get(ALIASES)).json() == {"entries": [{"canonical": "x" * 200, "aliases": ["y"]}]}


async def test_custom_naming_schemas_are_kept_shown_and_removed(writer: httpx.AsyncClient) -> None:
    schema = f"{TEXT}/group/Marx/name_schema"
    inferred = (await writer.get(schema)).json()
    assert inferred["is_custom"] is False
    put = await writer.put(schema, json={"separator": "_", "template": "{base}_{size}"}, headers=REQUESTOR)
    assert put.status_code == 200, put.text
    assert put.json() == {
        "group_name": "Marx",
        "name_schema": {
            "separator": "_",
            "part_order": ["base", "size", "variant", "version", "quant"],
            "author_included": True,
            "common_author": None,
            "template": "{base}_{size}",
            "extra_parts": [],
        },
        "is_custom": True,
    }
    merged = await writer.put(f"{TEXT}/group/name_schema?name=Marx", json={"author_included": False}, headers=REQUESTOR)
    assert merged.json()["name_schema"] == {**put.json()["name_schema"], "author_included": False}
    assert (await writer.get(schema)).json() == merged.json()
    group = (await writer.get(f"{TEXT}/group/Marx")).json()
    assert group["name_schema_is_custom"] is True
    assert group["name_format"] == merged.json()["name_schema"]
    summary = (await writer.get(f"{TEXT}/groups/summary")).json()
    assert [g["group_name"] for g in summary["groups"] if g["has_custom_schema"]] == ["Marx"]
    await writer.put(f"{ALIASES}/Marx", json={"aliases": ["Marxism"]}, headers=REQUESTOR)
    by_alias = (await writer.get(f"{TEXT}/group/name_schema", params={"name": "Marxism"})).json()
    assert (by_alias["group_name"], by_alias["is_custom"]) == ("Marxism", True)  # found under the canonical group
    tagged = await writer.get(f"{TEXT}/structure")
    assert tagged.json()["schemas"] == {"Marx": merged.json()["name_schema"]}
    assert tagged.json()["aliases"] == {"Marx": ["Marxism"]}
    again = await writer.get(f"{TEXT}/structure", headers={"if-none-match": tagged.headers["etag"]})
    assert again.status_code == 304
    assert (await writer.delete(f"{TEXT}/group/name_schema?name=Marx", headers=REQUESTOR)).status_code == 204
    gone = await writer.delete(schema, headers=REQUESTOR)
    assert (gone.status_code, gone.json()["detail"]) == (404, "No custom naming schema found for group 'Marx'")
    assert (await writer.get(schema)).json() == inferred
    assert (await writer.get(f"{TEXT}/structure", headers={"if-none-match": tagged.headers["etag"]})).status_code == 200
    fresh = await writer.put(f"{TEXT}/group/No such group/name_schema", json={}, headers=REQUESTOR)
    assert fresh.json()["name_schema"]["separator"] == "-"  # the group need not exist: the default schema
    assert (await writer.get(f"{TEXT}/group/No such group/name_schema")).json()["is_custom"] is True


async def test_naming_schema_refusals(writer: httpx.AsyncClient) -> None:
    schema = f"{TEXT}/group/Marx/name_schema"
    assert (await writer.put(schema, json={"separator": "_"})).status_code == 401
    assert (await writer.delete(schema)).status_code == 401
    assert (await writer.put(schema, json={"separator": "_"}, headers=STRANGER)).status_code == 401
    for body in ({"colour": "red"}, {"separator": "x" * 65}, {"part_order": ["base"] * 33}, {"template": "a\x00b"}):
        answer = await writer.put(schema, json=body, headers=REQUESTOR)
        assert answer.status_code == 422, body
    for path in (f"{TEXT}/group/{'x' * 201}/name_schema", f"{TEXT}/group/a%00b/name_schema"):
        assert (await writer.put(path, json={}, headers=REQUESTOR)).status_code == 422, path
    long_query = await writer.put(f"{TEXT}/group/name_schema", params={"name": "x" * 201}, json={}, headers=REQUESTOR)
    assert long_query.status_code == 422
    assert (await writer.get(f"{TEXT}/structure")).json()["schemas"] == {}
