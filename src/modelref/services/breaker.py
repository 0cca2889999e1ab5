"""A circuit breaker for calls to the AI-Horde API (DATA.md §15.4), reported by /heartbeat."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BreakerState:
    degraded: bool
    consecutive_failures: int
    seconds_until_retry: float | None


class CircuitBreaker:
    """Closed until *threshold* consecutive failures; then open for *cooldown* seconds; then one probe."""

    def __init__(
        self, threshold: int = 5, cooldown: float = 120.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """Whether a call may go out now (while open, only one probe after the cooldown)."""
        with self._lock:
            if self._opened_at is None:
                return True
            if self._clock() - self._opened_at >= self.cooldown and not self._probing:
                self._probing = True
                return True
            return False

    def success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._probing = False

    def inconclusive(self) -> None:
        """Record an answer that says nothing about the AI-Horde's health (e.g. a 429): count nothing.

        Ends a probe, so that the next call after the cooldown may probe again instead of finding the breaker
        waiting forever for a verdict.
        """
        with self._lock:
            self._probing = False

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._probing = False
            if self._failures >= self.threshold:
                self._opened_at = self._clock()

    def state(self) -> BreakerState:
        with self._lock:
            if self._opened_at is None:
                return BreakerState(False, self._failures, None)
            left = round(max(0.0, self.cooldown - (self._clock() - self._opened_at)), 1)
            return BreakerState(True, self._failures, left or None)
