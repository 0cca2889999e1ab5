"""The AI-Horde API client: who owns an API key, and the raw answers of the usage endpoints (DATA.md §15),
behind the circuit breaker (DATA.md §15.4). Every request carries the ``Client-Agent`` header the AI-Horde asks
clients to send.

Keys are never logged or kept: the caches and the table of lookups in flight are keyed by a SHA-256 of the key.

Only the AI-Horde failing counts against it (timeouts, connection errors, 5xx). A malformed key is never sent;
an unknown key (404, or 200 without a usable username) is an answer; a 429 is rate limiting, answered with
Unavailable and a retry hint, and no call goes out until that hint has passed.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from typing import Generic, TypeVar

import httpx

from modelref.errors import Unavailable
from modelref.services.breaker import CircuitBreaker

MAX_KEY_LENGTH = 256
CLIENT_AGENT = f"modelref:{version('modelref')}:https://github.com/Haidra-Org/horde-model-reference"
"""``name:version:contact``, as the AI-Horde asks every client to identify itself."""
_PLAUSIBLE_KEY = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}")

MAX_ANSWER_BYTES = 64 * 1024 * 1024
"""The largest usage answer taken from the AI-Horde (its workers list is a few megabytes)."""

RETRY_AFTER = 5.0
"""The retry hint (seconds) when nothing better is known: a timeout, a connection error, a 5xx, no free slot."""

TIMED_OUT = "Auth service timed out"
UNAVAILABLE = "Auth service unavailable"


def is_plausible_key(apikey: str) -> bool:
    """Whether *apikey* could be an AI-Horde key: 1 to 256 printable ASCII characters, no whitespace.

    Anything else (which the HTTP client might refuse to send at all) is the caller's mistake: it is an
    invalid key, never a question for the AI-Horde.
    """
    return _PLAUSIBLE_KEY.fullmatch(apikey) is not None


@dataclass(frozen=True, slots=True)
class HordeUser:
    user_id: str
    username: str


T = TypeVar("T")


class _Recent(Generic[T]):
    """At most *size* answers, each for *ttl* seconds; when full, the least recently used goes first."""

    def __init__(self, ttl: float, size: int) -> None:
        self.ttl = ttl
        self.size = size
        self._items: OrderedDict[str, tuple[float, T]] = OrderedDict()

    def get(self, digest: str, now: float) -> T | None:
        item = self._items.get(digest)
        if item is None:
            return None
        if now >= item[0]:
            del self._items[digest]
            return None
        self._items.move_to_end(digest)
        return item[1]

    def put(self, digest: str, value: T, now: float) -> None:
        self._items[digest] = (now + self.ttl, value)
        self._items.move_to_end(digest)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


class _Lookup:
    """One call to the AI-Horde in flight; callers asking about the same key meanwhile wait for its outcome."""

    __slots__ = ("done", "error", "user")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.user: HordeUser | None = None
        self.error: Unavailable | None = None


class HordeClient:
    """Resolve API keys through ``GET {base_url}v2/find_user``.

    Valid keys are remembered for *ttl* seconds, unknown keys for *negative_ttl* seconds (each cache holds at
    most *cache_size* keys). At most *max_lookups* calls go out at once; a lookup that finds no free slot
    within *queue_wait* seconds raises Unavailable. Concurrent lookups of one key make one call.
    """

    def __init__(
        self,
        base_url: str,
        breaker: CircuitBreaker,
        *,
        timeout: float = 10.0,
        ttl: float = 60.0,
        negative_ttl: float = 30.0,
        cache_size: int = 10_000,
        max_lookups: int = 8,
        queue_wait: float = 0.5,
        client_agent: str = CLIENT_AGENT,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.breaker = breaker
        self.timeout = timeout
        self.queue_wait = queue_wait
        self._clock = clock
        limits = httpx.Limits(max_connections=max_lookups, max_keepalive_connections=max_lookups)
        self._client = httpx.Client(
            timeout=timeout, transport=transport, limits=limits, headers={"Client-Agent": client_agent}
        )
        self._users: _Recent[HordeUser] = _Recent(ttl, cache_size)
        self._unknown: _Recent[bool] = _Recent(negative_ttl, cache_size)
        self._in_flight: dict[str, _Lookup] = {}
        self._held_until = 0.0  # after a 429: no call goes out before this (clock) time
        self._slots = threading.BoundedSemaphore(max_lookups)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def find_user(self, apikey: str) -> HordeUser | None:
        """The user owning *apikey*, or None when the key is malformed or the AI-Horde does not know it.

        Raises Unavailable (with ``retry_after``) when the AI-Horde cannot be asked now: a timeout, a
        connection error, a 5xx or a 429 answer, the circuit breaker is open, or too many lookups are in flight.
        """
        if not is_plausible_key(apikey):
            return None
        digest = hashlib.sha256(apikey.encode()).hexdigest()
        with self._lock:
            now = self._clock()
            user = self._users.get(digest, now)
            if user is not None:
                return user
            if self._unknown.get(digest, now):
                return None
            lookup = self._in_flight.get(digest)
            if lookup is None:
                if now < self._held_until:
                    raise Unavailable(f"{UNAVAILABLE} (AI-Horde is rate limiting)", _hint(self._held_until - now))
                lookup = self._in_flight[digest] = _Lookup()
                leading = True
            else:
                leading = False
        if not leading:
            return self._follow(lookup)
        try:
            lookup.user = self._lookup(apikey)
        except Unavailable as error:
            lookup.error = error
            raise
        except BaseException:
            lookup.error = Unavailable(UNAVAILABLE, RETRY_AFTER)
            raise
        finally:
            with self._lock:
                if lookup.error is None:
                    if lookup.user is None:
                        self._unknown.put(digest, True, self._clock())
                    else:
                        self._users.put(digest, lookup.user, self._clock())
                del self._in_flight[digest]
            lookup.done.set()
        return lookup.user

    def _follow(self, lookup: _Lookup) -> HordeUser | None:
        # The leading call ends within its slot wait plus one HTTP exchange (connect, send, read: each at most
        # `timeout`); a follower waits no longer than that even if the AI-Horde trickles bytes forever.
        if not lookup.done.wait(self.queue_wait + 3 * self.timeout):
            raise Unavailable(TIMED_OUT, RETRY_AFTER)
        if lookup.error is not None:
            raise Unavailable(lookup.error.detail, lookup.error.retry_after)  # a copy: one per raising thread
        return lookup.user

    def _lookup(self, apikey: str) -> HordeUser | None:
        if not self._slots.acquire(timeout=self.queue_wait):
            raise Unavailable(f"{UNAVAILABLE} (too many key checks waiting for the AI-Horde)", RETRY_AFTER)
        try:
            return self._ask(apikey)
        finally:
            self._slots.release()

    def _ask(self, apikey: str) -> HordeUser | None:
        if not self.breaker.allow():
            left = self.breaker.state().seconds_until_retry
            raise Unavailable(f"{UNAVAILABLE} (AI-Horde is failing; retrying later)", _hint(left or RETRY_AFTER))
        try:
            response = self._client.get(f"{self.base_url}v2/find_user", headers={"apikey": apikey})
        except httpx.TimeoutException:
            self.breaker.failure()
            raise Unavailable(TIMED_OUT, RETRY_AFTER) from None
        except httpx.HTTPError:
            self.breaker.failure()
            raise Unavailable(UNAVAILABLE, RETRY_AFTER) from None
        except BaseException:
            self.breaker.inconclusive()  # not the AI-Horde's doing; a probe must not stay pending forever
            raise
        if response.status_code == 429:
            self.breaker.inconclusive()
            wait = _retry_after(response, self.breaker.cooldown)
            with self._lock:
                self._held_until = max(self._held_until, self._clock() + wait)
            raise Unavailable(f"{UNAVAILABLE} (AI-Horde is rate limiting)", wait)
        if response.status_code >= 500:
            self.breaker.failure()
            raise Unavailable(f"{UNAVAILABLE} (AI-Horde answered {response.status_code})", RETRY_AFTER)
        self.breaker.success()
        return _user(response)

    def get(self, path: str, params: dict[str, str], *, max_bytes: int = MAX_ANSWER_BYTES) -> bytes:
        """The body of a 200 answer to ``GET {base_url}{path}``; HordeFailure for anything else.

        One exchange, no retry and no breaker bookkeeping: the caller decides what a failure counts as. The
        whole exchange takes at most three timeouts (an AI-Horde that trickles bytes is cut off) and the body
        at most *max_bytes*.
        """
        deadline = time.monotonic() + 3 * self.timeout
        try:
            with self._client.stream("GET", f"{self.base_url}{path}", params=params) as response:
                if response.status_code == 429:
                    raise HordeFailure("rate limited (429)", health=False, retry_after=_retry_after(response, 300.0))
                if response.status_code != 200:
                    # a 4xx says the request is wrong (the AI-Horde answered); a 5xx that it is failing
                    raise HordeFailure(f"answered {response.status_code}", health=response.status_code >= 500)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise HordeFailure(f"answered more than {max_bytes} bytes", health=False)
                    if time.monotonic() > deadline:
                        raise HordeFailure("timed out (the answer kept trickling)")
                return bytes(body)
        except httpx.TimeoutException:
            raise HordeFailure("timed out") from None
        except httpx.HTTPError as error:
            raise HordeFailure(f"{type(error).__name__}") from None


class HordeFailure(Exception):
    """A usage request to the AI-Horde got no usable answer. *health* False: the failure says nothing about
    the AI-Horde's health (it is rate limiting us, or answered what we cannot use): it does not count against
    the circuit breaker, and is not tried again at once."""

    def __init__(self, reason: str, *, health: bool = True, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.health = health
        self.retry_after = retry_after


def _user(response: httpx.Response) -> HordeUser | None:
    """The user in a ``find_user`` answer; None (an unknown key) for any other answer (API.md §1.4)."""
    if response.status_code != 200:
        return None
    try:
        username = response.json().get("username")
    except (ValueError, AttributeError):
        return None
    if not isinstance(username, str):
        return None
    _, hash_sign, user_id = username.rpartition("#")
    if not hash_sign or not user_id:
        return None
    return HordeUser(user_id=user_id, username=username)


def _retry_after(response: httpx.Response, limit: float) -> float:
    """The seconds a 429 asks us to wait (at least 1, at most *limit*); RETRY_AFTER if it does not say."""
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        seconds = RETRY_AFTER
    if not math.isfinite(seconds):
        seconds = RETRY_AFTER
    return _hint(min(max(seconds, 1.0), limit))


def _hint(seconds: float) -> float:
    """Whole seconds, at least one (``Retry-After`` takes an integer)."""
    return float(max(1, math.ceil(seconds)))
