"""The AI-Horde client against a real HTTP stand-in: what counts against the AI-Horde, caches, bounded waits."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from modelref.errors import Unavailable
from modelref.services.breaker import BreakerState, CircuitBreaker
from modelref.services.horde import MAX_KEY_LENGTH, HordeClient, HordeUser, is_plausible_key
from tests.support import KEYS, Clock, FakeHorde

CLOSED = BreakerState(degraded=False, consecutive_failures=0, seconds_until_retry=None)
PRINTABLE_ASCII = "".join(chr(c) for c in range(0x21, 0x7F))


@pytest.fixture
def horde() -> Iterator[FakeHorde]:
    with FakeHorde(KEYS) as fake:
        yield fake


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(clock=clock)


@pytest.fixture
def make_client(horde: FakeHorde, breaker: CircuitBreaker, clock: Clock) -> Iterator[Callable[..., HordeClient]]:
    clients: list[HordeClient] = []

    def make(**options: object) -> HordeClient:
        client = HordeClient(horde.url, breaker, clock=clock, **options)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def _until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.01)


@contextlib.contextmanager
def _threads(horde: FakeHorde, workers: int) -> Iterator[ThreadPoolExecutor]:
    """Worker threads that a failed assertion does not leave hanging: the fake stops hanging before the join."""
    with ThreadPoolExecutor(workers) as pool:
        try:
            yield pool
        finally:
            if horde.mode == "hang":
                horde.mode = "up"


def _outcome(future: Future[HordeUser | None]) -> HordeUser | Unavailable | None:
    error = future.exception()
    if error is None:
        return future.result()
    assert isinstance(error, Unavailable), error
    return error


# Malformed keys


@pytest.mark.parametrize(
    ("key", "plausible"),
    [
        ("0123456789abcdef", True),
        (PRINTABLE_ASCII, True),
        ("x" * MAX_KEY_LENGTH, True),
        ("x" * (MAX_KEY_LENGTH + 1), False),
        ("", False),
        (" key", False),
        ("key ", False),
        ("a key", False),
        ("tab\tkey", False),
        ("key\n", False),
        ("nul\x00", False),
        ("del\x7f", False),
        ("ключ", False),
        ("caf\xe9", False),
    ],
)
def test_plausible_keys_are_short_printable_ascii_without_whitespace(key: str, plausible: bool) -> None:
    assert is_plausible_key(key) is plausible


def test_malformed_keys_are_invalid_before_anything_else(
    make_client: Callable[..., HordeClient], horde: FakeHorde, breaker: CircuitBreaker
) -> None:
    client = make_client()
    malformed = [" requestor-key", "requestor-key ", "requestor-key\t", "tab\tkey", "x" * 1000, "ключ", ""]
    for _ in range(3):
        for key in malformed:
            assert client.find_user(key) is None
    assert breaker.state() == CLOSED
    for _ in range(breaker.threshold):
        breaker.failure()
    for key in malformed:  # even with the breaker open: the caller's mistake, not "unavailable"
        assert client.find_user(key) is None
    assert horde.calls == 0


def test_every_plausible_key_can_be_sent(
    make_client: Callable[..., HordeClient], horde: FakeHorde, breaker: CircuitBreaker
) -> None:
    client = make_client()
    for key in (PRINTABLE_ASCII, "x" * MAX_KEY_LENGTH):
        assert client.find_user(key) is None
        assert horde.calls_by_key[key] == 1  # it went out and came back unknown: the header was sendable
    assert breaker.state() == CLOSED


# Unknown keys and rate limiting are answers, not failures


def test_unknown_keys_are_answers_and_remembered_briefly(
    make_client: Callable[..., HordeClient], horde: FakeHorde, breaker: CircuitBreaker, clock: Clock
) -> None:
    client = make_client(negative_ttl=30.0)
    for _ in range(breaker.threshold - 1):
        breaker.failure()
    assert client.find_user("unknown-key") is None
    assert breaker.state() == CLOSED  # an answer from a working AI-Horde
    clock.now += 29
    assert client.find_user("unknown-key") is None
    assert horde.calls_by_key["unknown-key"] == 1
    clock.now += 2
    assert client.find_user("unknown-key") is None
    assert horde.calls_by_key["unknown-key"] == 2


def test_a_username_without_an_id_is_an_unknown_key(breaker: CircuitBreaker) -> None:
    with FakeHorde({"no-id": "Nobody", "empty-id": "Nobody#"}) as fake:
        client = HordeClient(fake.url, breaker)
        try:
            for _ in range(breaker.threshold):
                assert client.find_user("no-id") is None
                assert client.find_user("empty-id") is None
        finally:
            client.close()
        assert fake.calls == 2
    assert breaker.state() == CLOSED


def test_a_stream_of_random_keys_costs_lookups_but_never_opens_the_breaker(
    make_client: Callable[..., HordeClient], horde: FakeHorde, breaker: CircuitBreaker
) -> None:
    client = make_client()
    keys = [f"random-{i}" for i in range(4 * breaker.threshold)]
    for key in keys:
        assert client.find_user(key) is None
    assert horde.calls == len(keys)
    assert breaker.state() == CLOSED
    assert client.find_user("requestor-key") == HordeUser("1001", "Req#1001")


def test_rate_limiting_is_unavailable_with_its_hint_and_not_a_failure(
    make_client: Callable[..., HordeClient], horde: FakeHorde, breaker: CircuitBreaker, clock: Clock
) -> None:
    client = make_client()
    horde.mode, horde.retry_after = "429", "7"
    for round_ in range(2 * breaker.threshold):
        with pytest.raises(Unavailable, match="rate limiting") as raised:
            client.find_user(f"key-{round_}")
        assert raised.value.retry_after == 7
        assert horde.calls == round_ + 1
        clock.now += 3
        with pytest.raises(Unavailable) as held:  # no call goes out before the hint has passed
            client.find_user(f"other-{round_}")
        assert held.value.retry_after == 4
        assert horde.calls == round_ + 1
        clock.now += 4
    assert not breaker.state().degraded
    assert breaker.state().consecutive_failures == 0
    horde.mode = "up"
    assert client.find_user("requestor-key") == HordeUser("1001", "Req#1001")


def test_a_rate_limited_probe_does_not_keep_the_breaker_open(
    make_client: Callable[..., HordeClient], horde: FakeHorde, breaker: CircuitBreaker, clock: Clock
) -> None:
    client = make_client()
    horde.mode = "down"
    for i in range(breaker.threshold):
        with pytest.raises(Unavailable):
            client.find_user(f"key-{i}")
    assert breaker.state().degraded
    clock.now += breaker.cooldown
    horde.mode = "429"
    with pytest.raises(Unavailable, match="rate limiting"):
        client.find_user("probe-key")  # the probe
    assert breaker.state().degraded
    clock.now += 10
    horde.mode = "up"
    assert client.find_user("requestor-key") == HordeUser("1001", "Req#1001")  # the next probe
    assert breaker.state() == CLOSED


def test_failures_still_open_the_breaker_which_answers_with_its_cooldown(
    make_client: Callable[..., HordeClient], horde: FakeHorde, breaker: CircuitBreaker, clock: Clock
) -> None:
    client = make_client()
    horde.mode = "down"
    for i in range(breaker.threshold):
        with pytest.raises(Unavailable, match="AI-Horde answered 500") as raised:
            client.find_user(f"key-{i}")
        assert raised.value.retry_after is not None
    assert breaker.state().degraded
    clock.now += 30
    with pytest.raises(Unavailable, match="failing") as raised:
        client.find_user("requestor-key")
    assert raised.value.retry_after == breaker.cooldown - 30
    assert horde.calls == breaker.threshold


# A hung AI-Horde


def test_a_timed_out_lookup_is_unavailable_with_a_hint(
    make_client: Callable[..., HordeClient], horde: FakeHorde, breaker: CircuitBreaker
) -> None:
    client = make_client(timeout=0.3)
    horde.mode = "hang"
    started = time.monotonic()
    with pytest.raises(Unavailable) as raised:
        client.find_user("requestor-key")
    assert time.monotonic() - started < 5  # the hung server would have kept it forever
    assert (raised.value.detail, raised.value.retry_after is not None) == ("Auth service timed out", True)
    assert breaker.state().consecutive_failures == 1
    horde.mode = "up"
    assert client.find_user("requestor-key") == HordeUser("1001", "Req#1001")  # a timeout is not cached


def test_lookups_beyond_the_bound_wait_briefly_then_give_up(
    make_client: Callable[..., HordeClient], horde: FakeHorde
) -> None:
    client = make_client(timeout=60.0, max_lookups=2, queue_wait=0.2)
    horde.mode = "hang"
    with _threads(horde, 3) as pool:
        held = [pool.submit(client.find_user, key) for key in ("requestor-key", "approver-key")]
        _until(lambda: horde.calls == 2)
        refused = pool.submit(client.find_user, "stranger-key").exception(timeout=5)  # not the hung server's 60 s
        assert isinstance(refused, Unavailable)
        assert "too many" in refused.detail
        assert refused.retry_after is not None
        assert horde.calls == 2
        horde.mode = "up"
        assert [f.result() for f in held] == [HordeUser("1001", "Req#1001"), HordeUser("2002", "App#2002")]
    assert client.find_user("stranger-key") == HordeUser("3003", "Nobody#3003")


def test_many_key_checks_against_a_hung_horde_hold_only_the_bounded_few(
    make_client: Callable[..., HordeClient], horde: FakeHorde
) -> None:
    client = make_client(timeout=60.0)  # defaults: 8 lookups at once, 0.5 s wait for a slot
    horde.mode = "hang"
    with _threads(horde, 45) as pool:
        futures = [pool.submit(client.find_user, f"key-{i}") for i in range(45)]
        _until(lambda: horde.calls == 8 and sum(f.done() for f in futures) == 45 - 8)  # well before the 60 s
        refused = [_outcome(f) for f in futures if f.done()]
        assert all(isinstance(o, Unavailable) and o.retry_after is not None for o in refused)
        held = [f for f in futures if not f.done()]
        horde.mode = "up"
        assert [f.result() for f in held] == [None] * 8  # the eight in flight get their answers


def test_concurrent_lookups_of_one_key_make_one_call(make_client: Callable[..., HordeClient], horde: FakeHorde) -> None:
    client = make_client(timeout=60.0, max_lookups=20)
    horde.mode = "hang"
    with _threads(horde, 10) as pool:
        futures = [pool.submit(client.find_user, "requestor-key") for _ in range(10)]
        _until(lambda: horde.calls >= 1)
        time.sleep(0.3)  # time for the others to ask too (and, were they not coalesced, to call)
        horde.mode = "up"
        assert [f.result() for f in futures] == [HordeUser("1001", "Req#1001")] * 10
    assert horde.calls_by_key["requestor-key"] == 1


def test_concurrent_lookups_of_one_key_share_its_error(
    make_client: Callable[..., HordeClient], horde: FakeHorde, breaker: CircuitBreaker
) -> None:
    client = make_client(timeout=60.0, max_lookups=20)
    horde.mode = "hang"
    with _threads(horde, 10) as pool:
        futures = [pool.submit(client.find_user, "requestor-key") for _ in range(10)]
        _until(lambda: horde.calls >= 1)
        time.sleep(0.3)
        horde.mode = "down"
        outcomes = [_outcome(f) for f in futures]
    assert all(isinstance(o, Unavailable) and "answered 500" in o.detail for o in outcomes)
    assert horde.calls_by_key["requestor-key"] == 1
    assert breaker.state().consecutive_failures == 1  # one failed call, however many waited for it


# The cache of valid keys


def test_valid_keys_are_remembered_for_the_ttl(
    make_client: Callable[..., HordeClient], horde: FakeHorde, clock: Clock
) -> None:
    client = make_client(ttl=60.0)
    assert client.find_user("requestor-key") == HordeUser("1001", "Req#1001")
    clock.now += 59
    horde.mode = "down"
    assert client.find_user("requestor-key") == HordeUser("1001", "Req#1001")
    assert horde.calls == 1
    clock.now += 2
    with pytest.raises(Unavailable):
        client.find_user("requestor-key")
    assert horde.calls == 2


def test_a_full_cache_drops_the_least_recently_used_key(
    make_client: Callable[..., HordeClient], horde: FakeHorde
) -> None:
    client = make_client(cache_size=2)
    for key in ("requestor-key", "approver-key", "requestor-key", "stranger-key"):
        assert client.find_user(key) is not None
    assert client.find_user("requestor-key") is not None  # used recently: kept
    assert client.find_user("approver-key") is not None  # least recently used: asked again
    assert dict(horde.calls_by_key) == {"requestor-key": 1, "approver-key": 2, "stranger-key": 1}


def test_unknown_keys_do_not_push_valid_keys_out(make_client: Callable[..., HordeClient], horde: FakeHorde) -> None:
    client = make_client(cache_size=2)
    assert client.find_user("requestor-key") is not None
    for i in range(10):
        assert client.find_user(f"random-{i}") is None
    assert client.find_user("requestor-key") is not None
    assert horde.calls_by_key["requestor-key"] == 1
