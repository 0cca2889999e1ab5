"""Live usage from the AI-Horde, cached and refreshed off the request path (DATA.md §15.1, §15.4).

Each answer the service uses — a kind's model status, its usage counters, its workers — is one ``_Entry``: the
last good answer, when it came, and at most one refresh in flight. A refresh runs on this module's own threads
(never the service's worker threads, never the event loop), tries ``attempts`` times with exponential back-off
and counts once against the circuit breaker when every try failed.

A request never waits long: data younger than ``ttl`` is used as is; older data (up to ``max_age``) is used at
once while a refresh runs behind it; with no usable data a request waits for the refresh at most ``wait``
seconds after that refresh began, then answers with what it has (``None``). A burst of concurrent requests
makes at most one upstream call per answer and cache period.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import orjson
from pydantic import TypeAdapter, ValidationError

from modelref.domain.usage import HordeKind, HordeModelStatus, HordeStats, HordeUsage, HordeWorker, KindUsage, Whole
from modelref.services.breaker import CircuitBreaker
from modelref.services.horde import HordeClient, HordeFailure

log = logging.getLogger(__name__)


class Part(StrEnum):
    STATUS = "status"
    STATS = "stats"
    WORKERS = "workers"


_REQUESTS: Final[dict[tuple[HordeKind, Part], tuple[str, dict[str, str]]]] = {
    (HordeKind.IMAGE, Part.STATUS): ("v2/status/models", {"type": "image", "model_state": "known"}),
    (HordeKind.TEXT, Part.STATUS): ("v2/status/models", {"type": "text", "model_state": "known"}),
    (HordeKind.IMAGE, Part.STATS): ("v2/stats/img/models", {"model_state": "known"}),
    (HordeKind.TEXT, Part.STATS): ("v2/stats/text/models", {"model_state": "known"}),
    (HordeKind.IMAGE, Part.WORKERS): ("v2/workers", {"type": "image"}),
    (HordeKind.TEXT, Part.WORKERS): ("v2/workers", {"type": "text"}),
}
"""Where each answer comes from (DATA.md §15.1)."""

_STATUS: Final = TypeAdapter(HordeModelStatus)
_WORKER: Final = TypeAdapter(HordeWorker)
_COUNT: Final = TypeAdapter(Whole)


@dataclass(frozen=True, slots=True)
class LiveData:
    """One kind's usage as a request sees it: the payloads and a tag naming their content."""

    usage: HordeUsage
    tag: str


@dataclass(slots=True)
class _Entry:
    value: Any = None
    digest: str = ""
    fetched: float = 0.0
    """Clock time of the last good answer."""
    wall: float = 0.0
    refreshing: bool = False
    started: float = 0.0
    failed: float | None = None
    """Clock time the last refresh failed (None after a success)."""
    error: str | None = None
    waiters: list[Callable[[], None]] = field(default_factory=list)


class LiveUsage:
    """The AI-Horde's usage answers, cached for *ttl* seconds and served up to *max_age* seconds old."""

    def __init__(
        self,
        client: HordeClient,
        breaker: CircuitBreaker,
        *,
        ttl: float = 60.0,
        max_age: float = 6 * 3600.0,
        wait: float = 2.0,
        attempts: int = 3,
        backoff: float = 1.0,
        max_backoff: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.breaker = breaker
        self.ttl = ttl
        self.max_age = max_age
        self.wait = wait
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._clock = clock
        self._entries = {key: _Entry() for key in _REQUESTS}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._pause = min(max_backoff, backoff * 2**attempts)
        """After a failed refresh, how long until the next may start: the back-off goes on."""
        self._listeners: list[Callable[[HordeKind], None]] = []
        self._changed: set[HordeKind] = set()
        """Kinds whose status or usage changed since the listeners were last called."""
        self._pool = ThreadPoolExecutor(max_workers=len(_REQUESTS), thread_name_prefix="ai-horde-usage")

    def on_refresh(self, listener: Callable[[HordeKind], None]) -> None:
        """Call *listener* (on a refresh thread) when a kind's answers changed (status, usage or workers) and
        no refresh of its status or usage is still running."""
        self._listeners.append(listener)

    def close(self) -> None:
        with self._lock:  # no refresh is submitted after this
            self._closing.set()
            self._pool.shutdown(wait=False, cancel_futures=True)

    async def get(self, kind: HordeKind, *, workers: bool = False) -> LiveData | None:
        """The kind's status and usage (and workers, when asked and to be had); None when no answer younger
        than ``max_age`` can be had within the wait."""
        parts = (Part.STATUS, Part.STATS, Part.WORKERS) if workers else (Part.STATUS, Part.STATS)
        await self._ready([(kind, p) for p in parts])
        return self.held(kind, workers=workers)

    def held(self, kind: HordeKind, *, workers: bool = False) -> LiveData | None:
        """What is held of the kind now, without asking the AI-Horde (None: no status or usage younger than
        ``max_age``)."""
        parts = (Part.STATUS, Part.STATS, Part.WORKERS) if workers else (Part.STATUS, Part.STATS)
        now = self._clock()
        with self._lock:  # one consistent copy: a refresh may replace an entry's value and digest meanwhile
            found = {
                p: (e.value, e.digest, e.wall)
                for p in parts
                if (e := self._entries[kind, p]).value is not None and now - e.fetched < self.max_age
            }
        if Part.STATUS not in found or Part.STATS not in found:
            return None
        used = [found[p] for p in parts if p in found]
        usage = HordeUsage(
            status=found[Part.STATUS][0],
            stats=found[Part.STATS][0],
            workers=found[Part.WORKERS][0] if Part.WORKERS in found else None,
            observed_at=int(min(u[2] for u in used)),
        )
        tag = hashlib.blake2b("/".join(u[1] for u in used).encode(), digest_size=12).hexdigest()
        return LiveData(usage, tag)

    async def _ready(self, keys: list[tuple[HordeKind, Part]]) -> None:
        """Start the refreshes these answers need; wait (at most ``wait`` seconds after each refresh began)
        for those with no usable answer."""
        loop = asyncio.get_running_loop()
        waits: list[asyncio.Future[None]] = []
        deadline = 0.0
        with self._lock:
            now = self._clock()
            for key in keys:
                entry = self._entries[key]
                if entry.value is not None and now - entry.fetched < self.ttl:
                    continue
                pausing = entry.failed is not None and now - entry.failed < self._pause
                if not entry.refreshing and not pausing and not self._closing.is_set():
                    entry.refreshing, entry.started = True, now
                    self._pool.submit(self._refresh, key)
                if entry.value is not None and now - entry.fetched < self.max_age:
                    continue  # served stale while the refresh runs
                left = entry.started + self.wait - now
                if entry.refreshing and left > 0:
                    done: asyncio.Future[None] = loop.create_future()
                    entry.waiters.append(_waker(loop, done))
                    waits.append(done)
                    deadline = max(deadline, left)
        if waits:
            await asyncio.wait(waits, timeout=deadline)

    def _refresh(self, key: tuple[HordeKind, Part]) -> None:
        """Fetch one answer (with retries), keep it when good, wake whoever waits for it."""
        entry = self._entries[key]
        try:
            body, value = self._fetch(key)
        except HordeFailure as failure:
            level = logging.DEBUG if isinstance(failure, CircuitOpen) else logging.WARNING
            log.log(level, "AI-Horde %s %s: %s", key[0].value, key[1].value, failure.reason)
            with self._lock:
                entry.error, entry.failed = failure.reason, self._clock()
        except BaseException as error:  # never leave an entry refreshing forever
            log.exception("AI-Horde %s %s: unexpected error", key[0].value, key[1].value)
            with self._lock:
                entry.error, entry.failed = type(error).__name__, self._clock()
        else:
            digest = hashlib.blake2b(body, digest_size=12).hexdigest()
            with self._lock:
                if digest != entry.digest:
                    self._changed.add(key[0])
                entry.value, entry.digest = value, digest
                entry.fetched, entry.wall = self._clock(), time.time()
                entry.error, entry.failed = None, None
        finally:
            with self._lock:
                entry.refreshing = False
                waiters, entry.waiters = entry.waiters, []
                parts = [self._entries[key[0], p] for p in (Part.STATUS, Part.STATS)]
                changed = key[0] in self._changed and not any(e.refreshing for e in parts)
                if changed:
                    self._changed.discard(key[0])
            for wake in waiters:
                wake()
        if changed:
            for listener in self._listeners:
                try:
                    listener(key[0])
                except Exception:
                    log.exception("after the AI-Horde's %s usage changed", key[0].value)

    def _fetch(self, key: tuple[HordeKind, Part]) -> tuple[bytes, Any]:
        """One answer, parsed; HordeFailure when every try failed (counted once against the breaker)."""
        if not self.breaker.allow():
            left = self.breaker.state().seconds_until_retry
            raise CircuitOpen(f"circuit open; next try in {left or 0:.0f} s", health=False)
        path, params = _REQUESTS[key]
        failure = HordeFailure("not tried")
        for attempt in range(self.attempts):
            if attempt:
                delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
                if failure.retry_after is not None:
                    delay = max(delay, min(failure.retry_after, self.max_backoff))
                if self._closing.wait(delay):
                    break
            try:
                body = self.client.get(path, params)
                value = _parse(key[1], body)
            except HordeFailure as error:
                failure = error
                if error.health or error.retry_after is not None:
                    continue  # a failing AI-Horde, or a rate limit: worth another try after the back-off
                break  # an answer we cannot use: the same again on a retry
            except BaseException:
                self.breaker.inconclusive()
                raise
            self.breaker.success()
            return body, value
        if failure.health:
            self.breaker.failure()
        else:
            self.breaker.inconclusive()
        raise failure

    def status(self) -> dict[HordeKind, KindUsage]:
        """Per kind, the age of the status and usage data and the last refresh error."""
        now = self._clock()
        report = {}
        with self._lock:
            for kind in HordeKind:
                entries = [self._entries[kind, p] for p in (Part.STATUS, Part.STATS)]
                held = all(e.value is not None for e in entries)
                age = max(now - e.fetched for e in entries) if held else None
                errors = [e.error for e in entries if e.error]
                report[kind] = KindUsage(
                    age_seconds=round(age, 1) if age is not None else None,
                    stale=age is None or age >= self.ttl,
                    last_error=errors[0] if errors else None,
                )
        return report


class CircuitOpen(HordeFailure):
    """No refresh went out: the circuit breaker is open."""


def _parse(part: Part, body: bytes) -> Any:
    """An answer's payload. Entries that do not fit (a status without a name, a count that is not a number)
    are left out, so that one odd entry does not cost the rest; HordeFailure when the answer as a whole is not
    the JSON the endpoint documents."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise HordeFailure("answered something that is not JSON", health=False) from None
    if part is Part.STATS:
        if not isinstance(data, dict) or not any(isinstance(data.get(p), dict) for p in ("day", "month", "total")):
            raise HordeFailure("answered JSON of an unexpected shape (no usage counters)", health=False)
        periods: dict[str, dict[str, Any]] = {}
        for period in ("day", "month", "total"):
            counts = data.get(period)
            periods[period] = _fitting(_COUNT, counts) if isinstance(counts, dict) else {}
        return HordeStats.model_validate(periods)
    if not isinstance(data, list):
        raise HordeFailure("answered JSON of an unexpected shape (not a list)", health=False)
    entry = _STATUS if part is Part.STATUS else _WORKER
    kept = tuple(_fitting_items(entry, data))
    if data and not kept:
        raise HordeFailure(f"answered JSON of an unexpected shape (no usable {part.value} entry)", health=False)
    return kept


def _fitting(adapter: TypeAdapter[Any], counts: dict[Any, Any]) -> dict[str, Any]:
    """The entries of a ``{name: count}`` object whose count fits (names are always strings in JSON)."""
    kept = {}
    for name, count in counts.items():
        try:
            kept[name] = adapter.validate_python(count)
        except ValidationError:
            continue
    return kept


def _fitting_items(adapter: TypeAdapter[Any], items: list[Any]) -> Iterator[Any]:
    for item in items:
        try:
            yield adapter.validate_python(item)
        except ValidationError:
            continue


def _waker(loop: asyncio.AbstractEventLoop, done: asyncio.Future[None]) -> Callable[[], None]:
    """A callable, safe from any thread, that completes *done* on its loop (unless the loop has gone)."""

    def settle() -> None:
        if not done.done():
            done.set_result(None)

    def wake() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(settle)

    return wake
