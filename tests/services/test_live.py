"""The live-usage service on a small store: the order of its checks (no AI-Horde call for a request that cannot
be answered), answers made once and tagged by their inputs, the usual answers made before anyone asks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from modelref.domain.categories import Category
from modelref.domain.deployment import Deployment
from modelref.domain.risk import DeletionRiskParams
from modelref.domain.usage import HordeKind, PopularParams, PopularSort, WithStatsParams
from modelref.errors import EmptyCategory, InvalidQuery, NoUsageData, Unavailable
from modelref.services.breaker import CircuitBreaker
from modelref.services.catalog import Catalog
from modelref.services.horde import HordeClient
from modelref.services.live import Live
from modelref.services.reads import Reads
from modelref.services.usage import LiveUsage
from modelref.storage.store import Store
from tests.factories import image_record, seed
from tests.support import KEYS, FakeHorde, FakeUsage

pytestmark = pytest.mark.anyio
IMAGE, TEXT = Category.IMAGE_GENERATION, Category.TEXT_GENERATION


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass(frozen=True, slots=True)
class Plain:
    """An encoder that keeps the body as it is."""

    body: bytes


def status(name: str, count: int) -> dict[str, Any]:
    return {"name": name, "count": count, "performance": 1.0, "queued": 0, "jobs": 0, "eta": 0, "type": "image"}


@pytest.fixture
def horde() -> Iterator[FakeHorde]:
    usage = {
        "image": FakeUsage(
            status=[status("Alpha", 1), status("beta", 7)],
            stats={"day": {"Gamma": 2}, "month": {"Gamma": 40, "Alpha": 5}, "total": {"Gamma": 400, "Alpha": 50}},
        )
    }
    with FakeHorde(KEYS, usage=usage) as fake:
        yield fake


@pytest.fixture
async def live(store: Store, horde: FakeHorde) -> AsyncIterator[Live]:
    seed(store, {IMAGE: [image_record("Alpha"), image_record("Beta"), image_record("Gamma", description="")]})
    catalog = Catalog(store, Plain)
    catalog.refresh()
    breaker = CircuitBreaker()
    client = HordeClient(horde.url, breaker, timeout=5.0)
    usage = LiveUsage(client, breaker, attempts=1, backoff=0.0)
    yield Live(Reads(catalog, Deployment()), usage)
    usage.close()
    client.close()


def usage_calls(horde: FakeHorde) -> int:
    return sum(horde.calls_by_path[p] for p in FakeHorde.USAGE_PATHS)


async def test_requests_that_cannot_be_answered_cost_no_ai_horde_call(live: Live, horde: FakeHorde) -> None:
    with pytest.raises(NoUsageData, match="only supported for image_generation and text_generation"):
        await live.deletion_risk(Category.CLIP, DeletionRiskParams())
    with pytest.raises(NoUsageData, match="does not support Horde statistics"):
        await live.with_stats(Category.CLIP, WithStatsParams())
    with pytest.raises(InvalidQuery, match="Valid presets: deletion_candidates, zero_usage"):
        await live.deletion_risk(IMAGE, DeletionRiskParams(preset="bogus"))
    with pytest.raises(EmptyCategory, match="'text_generation' not found or has no models"):
        await live.deletion_risk(TEXT, DeletionRiskParams())
    assert (await live.popular(Category.CLIP, PopularParams())).body == b"[]"
    assert usage_calls(horde) == 0


async def test_popular_ranks_and_tags_by_inputs(live: Live, horde: FakeHorde) -> None:
    by_workers = await live.popular(IMAGE, PopularParams())
    assert [r["name"] for r in orjson.loads(by_workers.body)] == ["Beta", "Alpha", "Gamma"]  # "beta": any case
    by_month = await live.popular(IMAGE, PopularParams(sort_by=PopularSort.USAGE_MONTH, limit=1))
    assert [r["name"] for r in orjson.loads(by_month.body)] == ["Gamma"]
    assert by_month.etag != by_workers.etag
    assert await live.popular(IMAGE, PopularParams()) is by_workers  # made once
    horde.usage["image"].status[0]["count"] = 9  # a change the service has not fetched yet: same answer
    assert (await live.popular(IMAGE, PopularParams())).etag == by_workers.etag


async def test_the_usual_answers_are_made_before_anyone_asks(live: Live, horde: FakeHorde) -> None:
    await live.popular(IMAGE, PopularParams())
    for _ in range(200):  # the warm-up runs on the refresh thread, after the answers arrived
        data = live.usage.held(HordeKind.IMAGE)
        snapshot = live.reads.snapshot(IMAGE)
        if data is not None:
            key, _ = live._risk(snapshot, data, DeletionRiskParams(), None)
            if live._answers.peek(key) is not None:
                break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the deletion-risk answer was never made")
    risk = orjson.loads((await live.deletion_risk(IMAGE, DeletionRiskParams())).body)
    assert [m["name"] for m in risk["models"]] == ["Gamma", "Alpha", "Beta"]
    gamma = risk["models"][0]
    assert gamma["deletion_risk_flags"]["missing_description"]
    assert gamma["deletion_risk_flags"]["no_active_workers"]
    beta = risk["models"][2]
    assert beta["is_critical"] is False  # unused, but a worker serves it


async def test_an_ai_horde_without_answers_is_a_503_that_says_why(live: Live, horde: FakeHorde) -> None:
    horde.usage_mode = "garbage"
    with pytest.raises(
        Unavailable, match=r"AI Horde API is currently unavailable \(answered something that is not JSON\)"
    ):
        await live.with_stats(IMAGE, WithStatsParams())
    assert (await live.popular(IMAGE, PopularParams())).body == b"[]"
