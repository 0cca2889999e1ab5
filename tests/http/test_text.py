"""The text-generation toolkit's reads over HTTP, on the real data (API.md §14 X1–X7, X9, X20)."""

from __future__ import annotations

import time
from urllib.parse import quote

import httpx
import pytest

from modelref.domain.groups import size_sort_key
from tests.support import REAL_TEXT

pytestmark = pytest.mark.anyio
TEXT = "/api/model_references/v2/text_generation"


async def test_parse_name(client: httpx.AsyncClient) -> None:
    parsed = (await client.get(f"{TEXT}/parse_name", params={"name": "koboldcpp/Llama-3-8B-Instruct-Q4_K_M"})).json()
    assert parsed == {
        "base_name": "koboldcpp/Llama-3",
        "size": "8B",
        "variant": "Instruct",
        "quant": "Q4_K_M",
        "version": None,
        "extras": [],
        "original_name": "koboldcpp/Llama-3-8B-Instruct-Q4_K_M",
        "suggested_group": "Llama-3",
    }
    dated = (await client.get(f"{TEXT}/parse_name", params={"name": "CohereLabs/c4ai-command-r-08-2024"})).json()
    assert dated["extras"] == [{"value": "08-2024", "position": 3, "inferred_type": "DATE"}]
    for bad in ({}, {"name": ""}, {"name": "x" * 10_001}):
        assert (await client.get(f"{TEXT}/parse_name", params=bad)).status_code == 422
    started = time.monotonic()
    long = await client.get(f"{TEXT}/parse_name", params={"name": "-".join(["7B"] * 3000)[:10_000]})
    assert long.status_code == 200
    assert time.monotonic() - started < 5  # linear: a long name of many separators parses at once
    assert (await client.get(f"{TEXT}/parse_name", params={"name": "koboldcpp/"})).status_code == 200


async def test_compose_name(client: httpx.AsyncClient) -> None:
    body = {"author": "ReadyArt", "base_name": "Broken-Tutu", "size": "24B", "version": "v1.2"}
    assert (await client.post(f"{TEXT}/compose_name", json=body)).json() == {
        "composed_name": "ReadyArt/Broken-Tutu-24B-v1.2",
        "already_exists": False,
        "suggested_group": "Broken-Tutu",
    }
    existing = (
        await client.post(
            f"{TEXT}/compose_name", json={"author": "acrastt", "base_name": "Marx", "size": "3B", "version": "V3"}
        )
    ).json()
    assert existing["already_exists"] is True
    ordered = {
        "base_name": "Model",
        "size": "7B",
        "quant": "Q4",
        "separator": "_",
        "part_order": ["quant", "base", "bogus", "size"],
    }
    assert (await client.post(f"{TEXT}/compose_name", json=ordered)).json()["composed_name"] == "Q4_Model_7B"
    for bad in (
        {"base_name": "x"},
        {"size": "7B"},
        {"base_name": "", "size": "7B"},
        {"base_name": "x", "size": "7B", "bogus": 1},
    ):
        assert (await client.post(f"{TEXT}/compose_name", json=bad)).status_code == 422
    null_separator = {"base_name": "Model", "size": "7B", "quant": "Q4", "separator": None}
    assert (await client.post(f"{TEXT}/compose_name", json=null_separator)).json()["composed_name"] == "Model-7B-Q4"


async def test_a_part_order_that_names_no_given_part_is_refused(client: httpx.AsyncClient) -> None:
    for order, problem in (
        ([], "names none of the parts"),
        (["nope"], "names none of the parts"),
        (["variant", "nope"], "names only parts that are not given (variant)"),
    ):
        body = {"base_name": "Model", "size": "7B", "part_order": order}
        answer = await client.post(f"{TEXT}/compose_name", json=body)
        assert answer.status_code == 422, order
        message = answer.json()["detail"][0]["msg"]
        assert problem in message, message
        assert "base, size, variant, version, quant" in message  # the parts it may name
    given = {"base_name": "Model", "size": "7B", "variant": "Chat", "part_order": ["variant", "nope"]}
    assert (await client.post(f"{TEXT}/compose_name", json=given)).json()["composed_name"] == "Chat"


async def test_groups_and_baselines(client: httpx.AsyncClient) -> None:
    groups = (await client.get(f"{TEXT}/groups")).json()["groups"]
    assert len(groups) == 419  # DATA.md §17
    assert groups == sorted(groups)
    baselines = (await client.get(f"{TEXT}/distinct_baselines")).json()["baselines"]
    assert len(baselines) == 51
    assert baselines == sorted(baselines)


async def test_every_group_answers_by_path_and_by_query(client: httpx.AsyncClient) -> None:
    groups = (await client.get(f"{TEXT}/groups")).json()["groups"]
    members = 0
    for name in groups:
        by_path = await client.get(f"{TEXT}/group/{quote(name, safe='/')}")
        assert by_path.status_code == 200, name
        body = by_path.json()
        assert body["group_name"] == name
        members += len(body["members"])
        if "/" in name or name == groups[0]:
            assert (await client.get(f"{TEXT}/group", params={"name": name})).json() == body
    assert members == REAL_TEXT


async def test_a_group(client: httpx.AsyncClient) -> None:
    marx = (await client.get(f"{TEXT}/group/Marx")).json()
    assert [m["name"] for m in marx["members"]] == ["acrastt/Marx-3B-V3"]
    member = marx["members"][0]
    assert member["parsed"]["size"] == "3B"
    assert member["is_backend_duplicate"] is False
    assert member["backend_prefix"] is None
    assert marx["common_fields"]["baseline"] == "StableLM-3B-4E1T"
    assert marx["available_versions"] == ["V3"]
    assert marx["name_format"]["common_author"] == "acrastt"
    assert marx["canonical_count"] == 1
    assert marx["name_schema_is_custom"] is False
    for path in (
        f"group/{'x' * 10_001}",
        "group/a%00b",
        f"group/{'x' * 10_001}/name_schema",
        "group/a%00b/name_schema",
    ):
        assert (await client.get(f"{TEXT}/{path}")).status_code == 422, path[:40]
    for path in ("group", "group/name_schema"):
        for name in ("x" * 10_001, "a\x00b"):
            assert (await client.get(f"{TEXT}/{path}", params={"name": name})).status_code == 422, path
    assert (await client.get(f"{TEXT}/group/{'x' * 10_000}")).status_code == 404  # the longest name: looked for
    missing = await client.get(f"{TEXT}/group/nope-nothing")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "No models found in group 'nope-nothing'"
    assert (await client.get(f"{TEXT}/group/marx")).status_code == 404  # case counts
    summary = (await client.get(f"{TEXT}/groups/summary")).json()["groups"]
    widest = max(summary, key=lambda g: len(g["available_sizes"]))
    group = (await client.get(f"{TEXT}/group/{quote(widest['group_name'], safe='/')}")).json()
    assert len(group["available_sizes"]) >= 3
    assert group["available_sizes"] == widest["available_sizes"]
    assert group["available_sizes"] == sorted(group["available_sizes"], key=size_sort_key)  # by size, not text
    assert (
        group["available_sizes"] != sorted(group["available_sizes"])
        or len(set(map(len, group["available_sizes"]))) == 1
    )


async def test_health_and_summary(client: httpx.AsyncClient) -> None:
    health = (await client.get(f"{TEXT}/groups/health")).json()
    assert health["total_groups_checked"] == 419
    names = [i["group_name"] for i in health["issues"]]
    assert names == sorted(names)
    assert health["issue_counts_by_type"]["singleton_group"] == sum(
        1 for i in health["issues"] if i["issue_type"] == "singleton_group"
    )
    assert all(
        i["severity"] == ("info" if i["issue_type"] == "missing_description" else "warning") for i in health["issues"]
    )
    summary = (await client.get(f"{TEXT}/groups/summary")).json()
    assert summary["total_groups"] == 419
    assert summary["total_models"] == REAL_TEXT
    assert summary["groups_with_issues"] == health["groups_with_issues"]
    assert [g["group_name"] for g in summary["groups"]] == (await client.get(f"{TEXT}/groups")).json()["groups"]


async def test_name_schema_and_families(client: httpx.AsyncClient) -> None:
    schema = (await client.get(f"{TEXT}/group/Marx/name_schema")).json()
    assert schema["is_custom"] is False
    assert schema["name_schema"]["extra_parts"] == []
    assert schema == (await client.get(f"{TEXT}/group/name_schema", params={"name": "Marx"})).json()
    assert (await client.get(f"{TEXT}/group/nope/name_schema")).status_code == 404
    detected = (
        await client.get(f"{TEXT}/families/detect", params={"min_prefix_length": 5, "min_family_size": 3})
    ).json()
    by_name = {f["family_name"]: f["members"] for f in detected["suggestions"]}
    assert "GPT-Neo" in by_name
    assert len(by_name["GPT-Neo"]) == 8  # DATA.md §9.8, observed
    assert detected["groups_in_families"] + detected["standalone_groups"] == detected["total_groups_analyzed"]
    for bad in ({"min_prefix_length": 1}, {"min_family_size": 51}, {"bogus": 1}):
        assert (await client.get(f"{TEXT}/families/detect", params=bad)).status_code == 422
