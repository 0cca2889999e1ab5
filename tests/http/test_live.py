"""Popular, with-stats and deletion risk over HTTP: the real data joined to a fake AI-Horde serving realistic
payloads, and what a caller sees when that AI-Horde is down or hangs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelref.domain.categories import Category
from modelref.http.app import create_app
from tests.support import KEYS, FakeHorde, make_settings, realistic_usage, reference_documents, running

pytestmark = pytest.mark.anyio
STATS = "/api/model_references/statistics"
V2 = "/api/model_references/v2"
PRESETS = ["deletion_candidates", "zero_usage", "no_workers", "missing_data", "host_issues", "critical", "low_usage"]


@pytest.fixture(scope="module")
def documents() -> dict[Category, dict[str, dict[str, Any]]]:
    return reference_documents()


@pytest.fixture(scope="module")
def live_horde(documents: dict[Category, dict[str, dict[str, Any]]]) -> Iterator[FakeHorde]:
    with FakeHorde(KEYS, usage=realistic_usage(documents)) as fake:
        yield fake


@pytest.fixture(scope="module")
async def live(seeded_database: Path, live_horde: FakeHorde) -> AsyncIterator[httpx.AsyncClient]:
    """One app on the real data, its AI-Horde the realistic fake (shared: the tests only read)."""
    async for c in running(create_app(make_settings(seeded_database, ai_horde_url=live_horde.url))):
        yield c


@pytest.fixture
def down_horde() -> Iterator[FakeHorde]:
    with FakeHorde(KEYS, usage=realistic_usage(reference_documents())) as fake:
        fake.usage_mode = "500"
        fake.delay = 30.0
        yield fake


@pytest.fixture
async def down(seeded_database: Path, down_horde: FakeHorde) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        seeded_database, ai_horde_url=down_horde.url, ai_horde_wait=0.5, ai_horde_attempts=1, ai_horde_backoff=0
    )
    async for c in running(create_app(settings)):
        yield c


def status_counts(horde: FakeHorde, kind: str) -> dict[str, int]:
    return {s["name"].lower(): s["count"] for s in horde.usage[kind].status}


async def test_popular_image_models_ranked_by_workers(
    live: httpx.AsyncClient, live_horde: FakeHorde, documents: dict[Category, dict[str, dict[str, Any]]]
) -> None:
    response = await live.get(f"{V2}/image_generation/popular", params={"limit": 15})
    assert response.status_code == 200
    ranked = response.json()
    counts = status_counts(live_horde, "image")
    names = list(documents[Category.IMAGE_GENERATION])
    expected = sorted(names, key=lambda n: counts.get(n.lower(), 0), reverse=True)[:15]  # stable, like the service
    assert [r["name"] for r in ranked] == expected
    assert [r["stats"]["worker_count"] for r in ranked] == [counts.get(n.lower(), 0) for n in expected]
    first = ranked[0]
    assert first["record"]["name"] == first["name"]
    assert first["record"]["config"] == documents[Category.IMAGE_GENERATION][first["name"]]["config"]
    assert all(v is not None for r in ranked for v in (*r["record"].values(), *r["stats"].values()))
    again = await live.get(
        f"{V2}/image_generation/popular", params={"limit": 15}, headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304


async def test_popular_text_models_match_every_name_the_ai_horde_uses(
    live: httpx.AsyncClient, live_horde: FakeHorde, documents: dict[Category, dict[str, dict[str, Any]]]
) -> None:
    response = await live.get(f"{V2}/text_generation/popular", params={"limit": 100, "sort_by": "worker_count"})
    ranked = {r["name"]: r["stats"] for r in response.json()}
    # the AI-Horde names of the fake: koboldcpp/<short> (some lower-cased), aphrodite/<name>, the bare name
    reported = status_counts(live_horde, "text")
    text = documents[Category.TEXT_GENERATION]
    for name in text:
        short = name.split("/", 1)[-1]
        under = [reported.get(v.lower(), 0) for v in (name, f"aphrodite/{name}", f"koboldcpp/{short}")]
        if name in ranked:
            assert ranked[name]["worker_count"] == max(under), name
        else:
            assert max(under) <= min(s["worker_count"] for s in ranked.values()), name
    # a model the AI-Horde names only in lower case (koboldcpp/ai21-jamba-…) is found: with-stats shows every model
    every = (await live.get("/api/model_references/statistics/text_generation/with-stats")).json()
    exact = {s["name"] for s in live_horde.usage["text"].status}
    lowered = [
        n
        for n in text
        if (short := n.split("/", 1)[-1]) != short.lower()
        and f"koboldcpp/{short}" not in exact
        and reported.get(f"koboldcpp/{short.lower()}", 0) > 0
    ]
    assert lowered
    for name in lowered:
        assert every[name]["worker_count"] == reported[f"koboldcpp/{name.split('/', 1)[-1].lower()}"], name


async def test_popular_with_workers_and_by_usage(live: httpx.AsyncClient, live_horde: FakeHorde) -> None:
    response = await live.get(f"{V2}/image_generation/popular", params={"include_workers": "true", "limit": 3})
    ranked = response.json()
    for result in ranked:
        workers = result["stats"]["worker_summaries"]
        assert len(workers) == result["stats"]["worker_count"]
        assert {"id", "name", "performance", "online", "trusted", "uptime"} <= set(next(iter(workers.values())))
    by_month = (await live.get(f"{V2}/text_generation/popular", params={"sort_by": "usage_month", "limit": 20})).json()
    months = [r["stats"].get("usage_stats", {}).get("month", 0) for r in by_month]
    assert months == sorted(months, reverse=True)
    assert months[0] > 0


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"limit": 0}, 422),
        ({"limit": 101}, 422),
        ({"sort_by": "bogus"}, 422),
        ({"bogus": "1"}, 422),
        ({"include_workers": "maybe"}, 422),
    ],
)
async def test_popular_refuses_bad_parameters(live: httpx.AsyncClient, query: dict[str, Any], status: int) -> None:
    assert (await live.get(f"{V2}/image_generation/popular", params=query)).status_code == status


async def test_popular_of_other_categories(live: httpx.AsyncClient) -> None:
    assert (await live.get(f"{V2}/clip/popular")).json() == []
    unknown = await live.get(f"{V2}/nope/popular")
    assert unknown.status_code == 422
    assert "Unknown category 'nope'" in unknown.json()["detail"]


async def test_with_stats_keeps_every_model_and_its_nulls(
    live: httpx.AsyncClient, documents: dict[Category, dict[str, dict[str, Any]]]
) -> None:
    response = await live.get(f"{STATS}/image_generation/with-stats")
    assert response.status_code == 200
    body = response.json()
    assert list(body) == list(documents[Category.IMAGE_GENERATION])
    dead = [s for s in body.values() if s["usage_stats"] is None and s["queued"] is None]
    assert dead
    assert all(s["worker_count"] == 0 for s in dead)
    text = (
        await live.get(
            f"{STATS}/text_generation/with-stats",
            params={"include_backend_variations": "true", "sort_by": "usage_month", "min_worker_count": 1},
        )
    ).json()
    assert text
    assert all(s["worker_count"] >= 1 for s in text.values())
    assert any(s["backend_variations"] for s in text.values())
    assert (await live.get(f"{STATS}/clip/with-stats")).status_code == 400
    assert (await live.get(f"{STATS}/image_generation/with-stats", params={"sort_by": "x" * 100})).status_code == 422
    assert (await live.get(f"{STATS}/nope/with-stats")).status_code == 422


async def test_deletion_risk_on_the_real_data(live: httpx.AsyncClient) -> None:
    image = (await live.get(f"{STATS}/image_generation/deletion-risk")).json()
    assert image["total_count"] == image["returned_count"] == image["summary"]["total_models"] == len(image["models"])
    months = [m["usage_month"] for m in image["models"]]
    assert months == sorted(months, reverse=True)
    # a model the AI-Horde reports nothing for: zero usage, no worker, critical (the existing service never says so)
    dead = [m for m in image["models"] if m["usage_total"] == 0 and m["worker_count"] == 0]
    assert dead
    assert all(m["is_critical"] and m["deletion_risk_flags"]["zero_usage_month"] for m in dead)
    grouped = (await live.get(f"{STATS}/text_generation/deletion-risk", params={"group_text_models": "true"})).json()
    ungrouped = (await live.get(f"{STATS}/text_generation/deletion-risk")).json()
    assert grouped["total_count"] == ungrouped["total_count"] == 719
    assert grouped["returned_count"] == 419  # the groups DATA.md §17 reports
    variations = (
        await live.get(f"{STATS}/text_generation/deletion-risk", params={"include_backend_variations": "true"})
    ).json()
    assert any(m["backend_variations"] for m in variations["models"])
    assert all(m["backend_variations"] is None for m in ungrouped["models"])


RULES = {
    "deletion_candidates": lambda m: m["at_risk"] or m["usage_percentage_of_category"] < 0.01 or m["worker_count"] == 0,
    "zero_usage": lambda m: m["usage_month"] == 0,
    "no_workers": lambda m: m["worker_count"] == 0,
    "missing_data": lambda m: (
        m["deletion_risk_flags"]["missing_description"] or m["deletion_risk_flags"]["missing_baseline"]
    ),
    "host_issues": lambda m: m["has_warning"],
    "critical": lambda m: m["is_critical"],
    "low_usage": lambda m: m["deletion_risk_flags"]["low_usage"],
}


@pytest.mark.parametrize("preset", PRESETS)
async def test_every_preset_keeps_exactly_its_models(live: httpx.AsyncClient, preset: str) -> None:
    kept_somewhere = False
    for category in ("image_generation", "text_generation"):
        everything = (await live.get(f"{STATS}/{category}/deletion-risk")).json()
        response = await live.get(f"{STATS}/{category}/deletion-risk", params={"preset": preset})
        assert response.status_code == 200
        body = response.json()
        assert body["total_count"] == everything["total_count"]
        assert body["returned_count"] == len(body["models"]) == body["summary"]["total_models"]
        expected = [m["name"] for m in everything["models"] if RULES[preset](m)]
        assert [m["name"] for m in body["models"]] == expected
        kept_somewhere = kept_somewhere or bool(expected)
    assert kept_somewhere  # the realistic data has candidates of every kind


async def test_deletion_risk_paging_and_bad_input(live: httpx.AsyncClient) -> None:
    page = (await live.get(f"{STATS}/image_generation/deletion-risk", params={"limit": 5, "offset": 10})).json()
    everything = (await live.get(f"{STATS}/image_generation/deletion-risk")).json()
    assert [m["name"] for m in page["models"]] == [m["name"] for m in everything["models"][10:15]]
    assert page["summary"] == everything["summary"]
    assert page["total_count"] == everything["total_count"]
    bogus = await live.get(f"{STATS}/image_generation/deletion-risk", params={"preset": "bogus"})
    assert bogus.status_code == 400
    assert bogus.json()["detail"] == ("Invalid preset: Unknown preset: 'bogus'. Valid presets: " + ", ".join(PRESETS))
    assert (await live.get(f"{STATS}/image_generation/deletion-risk", params={"preset": "x" * 5000})).status_code == 422
    huge = await live.get(f"{STATS}/image_generation/deletion-risk", params={"preset": "x" * 200})
    assert huge.status_code == 400
    assert len(huge.json()["detail"]) < 400
    other = await live.get(f"{STATS}/clip/deletion-risk")
    assert other.status_code == 400
    assert (
        other.json()["detail"]
        == "Deletion risk analysis is only supported for image_generation and text_generation categories"
    )
    for query in ({"limit": 0}, {"offset": -1}, {"limit": "NaN"}, {"limit": 10**40}, {"unknown": 1}):
        assert (await live.get(f"{STATS}/image_generation/deletion-risk", params=query)).status_code == 422


async def test_heartbeat_reports_the_age_of_the_usage_data(live: httpx.AsyncClient) -> None:
    await live.get(f"{V2}/text_generation/popular")
    ai_horde = (await live.get("/api/heartbeat")).json()["ai_horde"]
    assert ai_horde["degraded"] is False
    assert ai_horde["usage"]["text"]["age_seconds"] is not None
    assert ai_horde["usage"]["text"]["last_error"] is None


async def test_an_ai_horde_that_fails_gives_an_empty_popular_list_and_a_clear_503(
    down: httpx.AsyncClient, down_horde: FakeHorde
) -> None:
    response = await down.get(f"{V2}/image_generation/popular")
    assert response.status_code == 200
    assert response.json() == []
    for path in ("with-stats", "deletion-risk"):
        failed = await down.get(f"{STATS}/image_generation/{path}")
        assert failed.status_code == 503
        assert failed.json()["detail"].startswith("AI Horde API is currently unavailable (answered 500)")
        assert "Retry-After" in failed.headers
    heartbeat = (await down.get("/api/heartbeat")).json()["ai_horde"]
    assert heartbeat["consecutive_failures"] >= 2
    assert heartbeat["usage"]["image"] == {"age_seconds": None, "stale": True, "last_error": "answered 500"}
    for _ in range(5):
        await down.get(f"{V2}/text_generation/popular")
    heartbeat = (await down.get("/api/heartbeat")).json()["ai_horde"]
    assert heartbeat["degraded"] is True
    assert heartbeat["seconds_until_retry"] > 0
    calls = sum(down_horde.calls_by_path[p] for p in FakeHorde.USAGE_PATHS)
    assert (await down.get(f"{V2}/text_generation/popular")).json() == []
    assert sum(down_horde.calls_by_path[p] for p in FakeHorde.USAGE_PATHS) == calls  # open: nothing goes out
    assert (await down.get(f"{V2}/text_generation")).status_code == 200  # the reference itself is unaffected


async def test_a_hung_ai_horde_costs_popular_the_wait_only(down: httpx.AsyncClient, down_horde: FakeHorde) -> None:
    down_horde.usage_mode = "hang"
    started = time.monotonic()
    response = await down.get(f"{V2}/text_generation/popular")
    assert response.json() == []
    assert time.monotonic() - started < 10  # the AI-Horde never answered; the request did not wait for it
    assert (await down.get(f"{STATS}/text_generation/deletion-risk")).status_code == 503
    assert (await down.get(f"{V2}/text_generation/model/Gryphe/MythoMax-L2-13b")).status_code == 200


async def test_a_burst_of_requests_makes_one_call_per_answer(seeded_database: Path) -> None:
    with FakeHorde(KEYS, usage=realistic_usage(reference_documents())) as horde:
        horde.usage_mode = "slow"  # every request of the burst arrives while the first call is out
        horde.delay = 0.3
        async for client in running(create_app(make_settings(seeded_database, ai_horde_url=horde.url))):
            paths = [f"{V2}/text_generation/popular", f"{STATS}/text_generation/deletion-risk"]
            answers = await asyncio.gather(*(client.get(paths[i % 2]) for i in range(100)))
            assert {a.status_code for a in answers} == {200}
            assert answers[0].json()  # ranked, not the empty list of a failed wait
            assert len({a.headers["etag"] for a in answers}) == 2
            assert horde.calls_by_path[FakeHorde.STATUS_PATH] == 1
            assert horde.calls_by_path[FakeHorde.STATS_PATHS["text"]] == 1
            assert horde.calls_by_path[FakeHorde.STATS_PATHS["image"]] == 0


async def test_the_last_good_answer_is_served_and_reported_when_the_ai_horde_fails(seeded_database: Path) -> None:
    with FakeHorde(KEYS, usage=realistic_usage(reference_documents())) as horde:
        settings = make_settings(seeded_database, ai_horde_url=horde.url, ai_horde_cache_ttl=1, ai_horde_backoff=0)
        async for client in running(create_app(settings)):
            path = f"{STATS}/image_generation/deletion-risk"
            good = await client.get(path)
            assert good.status_code == 200
            horde.usage_mode = "500"
            await asyncio.sleep(1.1)  # older than the cache period
            for _ in range(50):  # served from the last good answer while the refresh fails behind it
                again = await client.get(path)
                assert again.status_code == 200
                assert again.headers["etag"] == good.headers["etag"]
                usage = (await client.get("/api/heartbeat")).json()["ai_horde"]["usage"]["image"]
                if usage["last_error"]:
                    break
                await asyncio.sleep(0.05)
            assert usage["last_error"] == "answered 500"
            assert usage["stale"] is True
            assert usage["age_seconds"] >= 1
