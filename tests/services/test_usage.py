"""Live usage against a real AI-Horde stand-in: one call per burst, stale data when it fails, bounded waits,
retries and the circuit breaker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from modelref.domain.usage import LARGEST, HordeKind
from modelref.services.breaker import CircuitBreaker
from modelref.services.horde import CLIENT_AGENT, HordeClient, HordeFailure
from modelref.services.usage import LiveUsage
from tests.support import KEYS, Clock, FakeHorde, FakeUsage

pytestmark = pytest.mark.anyio
STATUS = FakeHorde.STATUS_PATH
IMAGE_STATS = FakeHorde.STATS_PATHS["image"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def horde() -> Iterator[FakeHorde]:
    usage = {
        "image": FakeUsage(
            status=[
                {
                    "name": "Deliberate",
                    "count": 4,
                    "performance": 1.0,
                    "queued": 0,
                    "jobs": 1,
                    "eta": 3,
                    "type": "image",
                }
            ],
            stats={"day": {"Deliberate": 5}, "month": {"Deliberate": 50}, "total": {"Deliberate": 500}},
        ),
    }
    with FakeHorde(KEYS, usage=usage) as fake:
        fake.delay = 30.0
        yield fake


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(threshold=2, cooldown=60.0, clock=clock)


@pytest.fixture
async def usage(horde: FakeHorde, breaker: CircuitBreaker, clock: Clock) -> AsyncIterator[LiveUsage]:
    client = HordeClient(horde.url, breaker, timeout=5.0)
    live = LiveUsage(client, breaker, ttl=60.0, max_age=600.0, wait=2.0, attempts=1, backoff=0.0, clock=clock)
    yield live
    live.close()
    client.close()


async def settled(live: LiveUsage) -> None:
    """Wait until no refresh runs (the refreshes run on the usage pool's threads)."""
    for _ in range(500):
        if not any(e.refreshing for e in live._entries.values()):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("a refresh never finished")


async def test_a_burst_makes_one_call_per_answer(usage: LiveUsage, horde: FakeHorde) -> None:
    answers = await asyncio.gather(*(usage.get(HordeKind.IMAGE) for _ in range(100)))
    assert all(a is not None and a.usage.status[0].name == "Deliberate" for a in answers)
    assert {a.tag for a in answers if a is not None} == {answers[0].tag if answers[0] else ""}
    assert horde.calls_by_path[STATUS] == 1
    assert horde.calls_by_path[IMAGE_STATS] == 1
    assert FakeHorde.WORKERS_PATH not in horde.calls_by_path  # not asked for
    assert set(horde.agents) == {CLIENT_AGENT}


async def test_refreshed_after_the_cache_period_and_served_meanwhile(
    usage: LiveUsage, horde: FakeHorde, clock: Clock
) -> None:
    first = await usage.get(HordeKind.IMAGE)
    assert first is not None
    clock.now += 59
    cached = await usage.get(HordeKind.IMAGE)
    assert cached is not None
    assert cached.tag == first.tag
    assert usage.status()[HordeKind.IMAGE].age_seconds == 59
    assert horde.calls_by_path[STATUS] == 1
    horde.usage["image"].stats["month"]["Deliberate"] = 51
    clock.now += 2
    stale = await usage.get(HordeKind.IMAGE)  # answered at once from what is held; the refresh runs behind
    assert stale is not None
    assert stale.tag == first.tag
    await settled(usage)
    fresh = await usage.get(HordeKind.IMAGE)
    assert fresh is not None
    assert fresh.usage.stats.month["Deliberate"] == 51
    assert horde.calls_by_path[STATUS] == 2


async def test_the_last_good_answer_is_served_and_reported_when_the_ai_horde_fails(
    usage: LiveUsage, horde: FakeHorde, clock: Clock
) -> None:
    good = await usage.get(HordeKind.IMAGE)
    assert good is not None
    horde.usage_mode = "500"
    clock.now += 300
    again = await usage.get(HordeKind.IMAGE)
    await settled(usage)
    assert again is not None
    assert again.tag == good.tag
    report = usage.status()[HordeKind.IMAGE]
    assert report.stale
    assert report.age_seconds == 300
    assert report.last_error == "answered 500"
    clock.now += 301  # older than max_age: no longer served
    assert await usage.get(HordeKind.IMAGE) is None


@pytest.mark.parametrize("mode", ["500", "429", "garbage", "truncated", "drop", "wrong"])
async def test_a_failing_ai_horde_gives_no_data_and_a_reason(usage: LiveUsage, horde: FakeHorde, mode: str) -> None:
    horde.usage_mode = mode  # type: ignore[assignment]
    assert await usage.get(HordeKind.TEXT) is None
    await settled(usage)
    assert usage.status()[HordeKind.TEXT].last_error
    assert usage.status()[HordeKind.TEXT].age_seconds is None


async def test_a_hung_ai_horde_costs_a_request_the_wait_at_most(
    horde: FakeHorde, breaker: CircuitBreaker, clock: Clock
) -> None:
    horde.usage_mode = "hang"
    client = HordeClient(horde.url, breaker, timeout=20.0)
    live = LiveUsage(client, breaker, wait=0.3, attempts=1, clock=clock)
    try:
        started = time.monotonic()
        assert await live.get(HordeKind.IMAGE) is None
        assert time.monotonic() - started < 10  # the AI-Horde has not answered: the request did not wait for it
        clock.now += 1  # later requests while the same refresh hangs do not wait again
        started = time.monotonic()
        assert await live.get(HordeKind.IMAGE) is None
        assert horde.calls_by_path[STATUS] == 1
        horde.usage_mode = "up"
        await settled(live)
        assert await live.get(HordeKind.IMAGE) is not None  # the hung refresh got its answer in the end
    finally:
        live.close()
        client.close()


async def test_retries_count_once_against_the_breaker(horde: FakeHorde, breaker: CircuitBreaker, clock: Clock) -> None:
    horde.usage_mode = "500"
    client = HordeClient(horde.url, breaker, timeout=5.0)
    live = LiveUsage(client, breaker, attempts=3, backoff=0.01, clock=clock)
    try:
        assert await live.get(HordeKind.IMAGE) is None
        await settled(live)
        assert horde.calls_by_path[STATUS] == 3
        assert breaker.state().consecutive_failures == 2  # status and stats: one failed refresh each
        horde.usage_mode = "up"
        clock.now += 1
        assert breaker.state().degraded  # threshold 2
    finally:
        live.close()
        client.close()


async def test_the_breaker_opens_and_closes_again(
    usage: LiveUsage, horde: FakeHorde, breaker: CircuitBreaker, clock: Clock
) -> None:
    horde.usage_mode = "500"
    assert await usage.get(HordeKind.IMAGE) is None
    await settled(usage)
    assert breaker.state().degraded  # status and stats failed: threshold 2
    calls = horde.calls_by_path[STATUS] + horde.calls_by_path[IMAGE_STATS]
    assert await usage.get(HordeKind.IMAGE) is None  # open: no call goes out
    await settled(usage)
    assert horde.calls_by_path[STATUS] + horde.calls_by_path[IMAGE_STATS] == calls
    assert "circuit open" in (usage.status()[HordeKind.IMAGE].last_error or "")
    horde.usage_mode = "up"
    clock.now += 61  # the cooldown has passed: one probe goes out, and its success closes the breaker
    await usage.get(HordeKind.IMAGE)
    await settled(usage)
    assert horde.calls_by_path[STATUS] + horde.calls_by_path[IMAGE_STATS] == calls + 1
    assert not breaker.state().degraded
    assert breaker.state().consecutive_failures == 0
    assert await usage.get(HordeKind.IMAGE) is not None  # the other answer is asked for again


async def test_workers_are_fetched_only_when_asked_and_missing_workers_do_not_fail(
    usage: LiveUsage, horde: FakeHorde
) -> None:
    horde.usage["image"].workers = [
        {
            "id": "w1",
            "name": "one",
            "models": ["Deliberate"],
            "performance": "1 mps",
            "online": True,
            "trusted": False,
            "uptime": 5,
        }
    ]
    found = await usage.get(HordeKind.IMAGE, workers=True)
    assert found is not None
    assert found.usage.workers is not None
    assert found.usage.workers[0].id == "w1"
    horde.usage_failing = {FakeHorde.WORKERS_PATH}
    horde.usage_mode = "500"
    text = await usage.get(HordeKind.TEXT, workers=True)
    assert text is not None
    assert text.usage.workers is None


async def test_after_a_failed_refresh_the_next_waits_for_the_back_off(
    horde: FakeHorde, breaker: CircuitBreaker, clock: Clock
) -> None:
    horde.usage_mode = "429"  # not a failure of the AI-Horde's health: the breaker never stops these calls
    client = HordeClient(horde.url, breaker, timeout=5.0)
    live = LiveUsage(client, breaker, attempts=1, backoff=1.0, clock=clock)  # the pause: 1 s × 2¹
    try:
        assert await live.get(HordeKind.IMAGE) is None
        await settled(live)
        assert horde.calls_by_path[STATUS] == 1
        clock.now += 1.5
        assert await live.get(HordeKind.IMAGE) is None
        await settled(live)
        assert horde.calls_by_path[STATUS] == 1  # still pausing: no call
        clock.now += 1
        horde.usage_mode = "up"
        assert await live.get(HordeKind.IMAGE) is not None
        assert horde.calls_by_path[STATUS] == 2
        assert not breaker.state().consecutive_failures
    finally:
        live.close()
        client.close()


async def test_odd_entries_are_left_out_and_the_rest_kept(usage: LiveUsage, horde: FakeHorde) -> None:
    horde.usage["image"].status = [
        {"name": "Deliberate", "count": 4},
        {"name": None, "count": 3},  # no name
        {"name": "Odd", "count": "many"},
        "not an object",  # type: ignore[list-item]
        {"name": "Huge", "count": 10**30},
    ]
    horde.usage["image"].stats = {"day": {"Deliberate": "x", "Huge": 1}, "month": {"Deliberate": 7}, "total": []}  # type: ignore[dict-item]
    found = await usage.get(HordeKind.IMAGE)
    assert found is not None
    assert [(s.name, s.count) for s in found.usage.status] == [("Deliberate", 4), ("Huge", LARGEST)]
    assert found.usage.stats.day == {"Huge": 1}
    assert found.usage.stats.month == {"Deliberate": 7}
    assert found.usage.stats.total == {}


async def test_an_answer_that_cannot_be_used_is_not_tried_again_nor_held_against_the_ai_horde(
    usage: LiveUsage, horde: FakeHorde, breaker: CircuitBreaker
) -> None:
    horde.usage_mode = "wrong"
    retrying = LiveUsage(usage.client, breaker, attempts=3, backoff=0.0)
    try:
        assert await retrying.get(HordeKind.IMAGE) is None
        await settled(retrying)
        assert horde.calls_by_path[STATUS] == 1  # not retried: the same answer again
        assert breaker.state().consecutive_failures == 0
        assert "unexpected shape" in (retrying.status()[HordeKind.IMAGE].last_error or "")
    finally:
        retrying.close()


async def test_a_404_is_the_request_s_fault_not_the_ai_horde_s(horde: FakeHorde, breaker: CircuitBreaker) -> None:
    client = HordeClient(horde.url + "nowhere/", breaker, timeout=5.0)  # every path answers 404
    try:
        with pytest.raises(HordeFailure, match="answered 404") as failure:
            client.get("v2/status/models", {"type": "image"})
        assert failure.value.health is False
        with pytest.raises(HordeFailure, match="more than 10 bytes"):
            HordeClient(horde.url, breaker).get("v2/status/models", {"type": "image"}, max_bytes=10)
    finally:
        client.close()
