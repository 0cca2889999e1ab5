"""The memo of made values: made once per key, bounded by count and weight, a failed make leaves nothing."""

from __future__ import annotations

import threading
import time

import pytest

from modelref.services.memo import Recent


def test_made_once_even_when_asked_by_many_threads() -> None:
    memo: Recent[str, int] = Recent(4)
    made: list[int] = []

    def make() -> int:
        time.sleep(0.05)
        made.append(1)
        return len(made)

    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(memo.get("k", make))) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert made == [1]
    assert results == [1] * 10


def test_bounded_by_count_and_weight_least_recently_used_first() -> None:
    memo: Recent[str, bytes] = Recent(3, len, budget=10)
    memo.get("a", lambda: b"aaaa")
    memo.get("b", lambda: b"bbbb")
    assert memo.peek("a") == b"aaaa"  # a use: "b" is now the least recently used
    memo.get("c", lambda: b"cccc")  # 12 bytes > 10: the least recently used goes
    assert memo.peek("b") is None
    assert memo.peek("a") == b"aaaa"
    assert memo.peek("c") == b"cccc"
    memo.get("huge", lambda: b"x" * 100)  # heavier than the budget alone: kept, alone
    assert memo.peek("huge") is not None
    assert memo.peek("a") is None


def test_a_failed_make_leaves_nothing_behind() -> None:
    memo: Recent[str, int] = Recent(4)

    def fail() -> int:
        raise ValueError("cannot")

    with pytest.raises(ValueError, match="cannot"):
        memo.get("k", fail)
    assert memo.peek("k") is None
    assert memo._making == {}
    assert memo.get("k", lambda: 7) == 7
