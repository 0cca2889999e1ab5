from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import REAL_RECORDS

pytestmark = pytest.mark.anyio

V2 = "/api/model_references/v2"


async def _search(client: httpx.AsyncClient, category: str | None, **params: Any) -> httpx.Response:
    path = f"{V2}/{category}/search" if category else f"{V2}/search"
    return await client.get(path, params=params)


async def test_filters_are_anded_and_totals_counted(client: httpx.AsyncClient) -> None:
    body = (await _search(client, "image_generation", nsfw="false", baseline="stable_diffusion_xl", limit=10)).json()
    assert body["limit"] == 10
    assert body["offset"] == 0
    assert 0 < body["total"] < 49
    assert body["has_more"] == (body["total"] > 10)
    assert all(r["baseline"] == "stable_diffusion_xl" and r["nsfw"] is False for r in body["results"])


async def test_default_page_is_50_and_pages_follow_each_other(client: httpx.AsyncClient) -> None:
    first = (await _search(client, "image_generation", sort_by="name")).json()
    second = (await _search(client, "image_generation", sort_by="name", offset=50)).json()
    assert (first["total"], len(first["results"]), first["has_more"]) == (161, 50, True)
    names = [r["name"] for r in first["results"] + second["results"]]
    assert names == sorted(names)
    last = (await _search(client, "image_generation", offset=150, limit=50)).json()
    assert (len(last["results"]), last["has_more"]) == (11, False)


async def test_sort_desc_reverses_and_puts_missing_values_first(client: httpx.AsyncClient) -> None:
    body = (await _search(client, "image_generation", sort_by="size_on_disk_bytes", sort_desc="true", limit=2)).json()
    assert "size_on_disk_bytes" not in body["results"][0]  # the one record without a size
    ascending = (await _search(client, "image_generation", sort_by="size_on_disk_bytes", limit=500)).json()
    sizes = [r.get("size_on_disk_bytes") for r in ascending["results"]]
    assert sizes[-1] is None
    assert sizes[:-1] == sorted(sizes[:-1])


async def test_nested_sort_and_attribute_names(client: httpx.AsyncClient) -> None:
    assert (await _search(client, "clip", sort_by="metadata__created_at")).status_code == 200
    by_alias = (await _search(client, "text_generation", sort_by="parameters", limit=1, sort_desc="true")).json()
    by_attribute = (
        await _search(client, "text_generation", sort_by="parameters_count", limit=1, sort_desc="true")
    ).json()
    assert by_alias["results"] == by_attribute["results"]
    assert by_alias["results"][0]["parameters"] == 700_000_000_000


async def test_tag_filters(client: httpx.AsyncClient) -> None:
    anime = (await _search(client, "image_generation", tags_any="anime", limit=500)).json()
    assert anime["total"] == 27
    both = (await _search(client, "image_generation", tags_all=["anime", "hentai"], limit=500)).json()
    assert 0 < both["total"] < 27
    assert all({"anime", "hentai"} <= set(r["tags"]) for r in both["results"])
    none = (await _search(client, "image_generation", tags_none="anime", limit=500)).json()
    assert none["total"] == 161 - 27


async def test_text_specific_filters(client: httpx.AsyncClient) -> None:
    quantized = (await _search(client, "text_generation", quantized="true", limit=500)).json()
    assert quantized["total"] == 7
    assert (await _search(client, "text_generation", backend="koboldcpp")).json()["total"] == 0
    assert (await _search(client, "text_generation", exclude_backend_variations="true")).json()["total"] == 719
    bad = await _search(client, "text_generation", backend="vllm")
    assert bad.status_code == 400
    assert "Unknown backend 'vllm'" in bad.json()["detail"]


async def test_name_contains_is_case_insensitive(client: httpx.AsyncClient) -> None:
    body = (await _search(client, "text_generation", name_contains="QWEN2.5-coder", limit=500)).json()
    assert body["total"] >= 10
    assert all("qwen2.5-coder" in r["name"].lower() for r in body["results"])


async def test_unsupported_filters_and_sorts_are_400_naming_the_fields(client: httpx.AsyncClient) -> None:
    nsfw = await _search(client, "clip", nsfw="true")
    assert nsfw.status_code == 400
    assert "Field 'nsfw' does not exist on ClipModelRecord" in nsfw.json()["detail"]
    assert nsfw.headers["x-error-code"] == "invalid_query"
    sort = await _search(client, "image_generation", sort_by="bogus")
    assert sort.status_code == 400
    assert "Valid fields" in sort.json()["detail"]
    assert "baseline" in sort.json()["detail"]
    assert (await _search(client, None, sort_by="baseline")).status_code == 400
    assert (await _search(client, "clip", source="civitai")).status_code == 400


async def test_incomparable_sort_values_are_400(client: httpx.AsyncClient) -> None:
    response = await _search(client, "image_generation", sort_by="config")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"offset": -1}, "offset"), ({"nsfw": "perhaps"}, "nsfw")],
)
async def test_out_of_bounds_values_are_422_with_the_field(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    for category in ("image_generation", None):
        response = await _search(client, category, **params)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", field]


async def test_every_category_is_searchable(client: httpx.AsyncClient) -> None:
    for category in ("lora", "ti", "video_generation"):
        body = (await _search(client, category)).json()
        assert body == {"results": [], "total": 0, "offset": 0, "limit": 50, "has_more": False}
    unknown = await _search(client, "nope")
    assert unknown.status_code == 422
    assert unknown.json()["detail"].startswith("Unknown category 'nope'. Valid: ['image_generation',")


async def test_cross_category_search_deduplicates_by_name(client: httpx.AsyncClient) -> None:
    everything = (await _search(client, None, limit=500)).json()
    assert everything["total"] == REAL_RECORDS  # the real data has no name twice across categories
    order = list(dict.fromkeys(r["record_type"] for r in everything["results"]))
    assert order[:3] == ["blip", "clip", "codeformer"]  # the existing service's category order: same pages
    nsfw = (await _search(client, None, nsfw="true", limit=500)).json()
    assert {r["record_type"] for r in nsfw["results"]} == {"image_generation"}


@pytest.mark.parametrize(
    ("category", "parameter"),
    [(None, "baseline"), ("image_generation", "commercial_use"), ("image_generation", "license_id"), (None, "bogus")],
)
async def test_an_unknown_filter_is_refused_not_ignored(
    client: httpx.AsyncClient, category: str | None, parameter: str
) -> None:
    response = await _search(client, category, **{parameter: "x"})
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert (problem["type"], problem["loc"]) == ("extra_forbidden", ["query", parameter])


async def test_huge_offsets_are_refused_not_crashed(client: httpx.AsyncClient) -> None:
    for category in ("image_generation", None):
        assert (await _search(client, category, offset=2**64)).status_code == 422
    assert (await _search(client, "clip", offset=2**31 - 1)).json()["results"] == []
    assert (await client.get("/api/model_references/statistics/clip", params={"limit": 2**64})).status_code == 422
