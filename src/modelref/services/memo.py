"""A small memo for values made from immutable inputs (answers, analyses, indexes), shared by threads."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    """The most recently used values — at most *size* of them, weighing at most *budget* in all — each made
    once even when asked for by many threads at once."""

    def __init__(self, size: int, weigh: Callable[[V], int] = lambda _: 1, budget: int | None = None) -> None:
        self.size = size
        self.weigh = weigh
        self.budget = budget if budget is not None else size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()
        self._making: dict[K, threading.Lock] = {}

    def peek(self, key: K) -> V | None:
        """The value made for *key*, if any (counted as a use)."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def get(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            making = self._making.setdefault(key, threading.Lock())
        with making:
            try:
                with self._lock:
                    if key in self._items:
                        return self._items[key]
                value = make()
                with self._lock:
                    self._items[key] = value
                    self._weight += self.weigh(value)
                    while len(self._items) > self.size or (self._weight > self.budget and len(self._items) > 1):
                        self._weight -= self.weigh(self._items.popitem(last=False)[1])
                return value
            finally:
                with self._lock:
                    self._making.pop(key, None)
