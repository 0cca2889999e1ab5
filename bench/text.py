"""The text-generation toolkit on the real data: what each answer costs to make, and what a request costs.

    .venv/bin/python bench/text.py [--repeat 5] [--requests 50]

Part 0 — the pure domain functions over the 719 real text models (../shared/reference-data), in this process:
the first run (the parser's base-name memo emptied first) and the best of --repeat runs, in milliseconds:
health, summary, the group index and the group list made from it, every one of the groups' member answers,
every inferred schema, family detection, parse_name of every name. As the service (TextTools) makes them, a
group's answers are made from its members in the group index, built once beforehand (the "groups" row times
building it). The issue's bar: the health report under 100 ms.

Part 1 — requests through the whole app (FastAPI, the structure read from the SQLite database, encoding),
in this process over an ASGI transport (no sockets): the first request after start-up, then the median and
p95 of --requests requests. The service makes each answer once per version of the data and structure; the
first request pays for it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.support

from tests.support import make_settings, reference_documents, running

from modelref.domain.categories import Category
from modelref.domain.textgroups import (
    DetectFamiliesParams,
    GroupListResponse,
    detect_families,
    group_index,
    group_members,
    groups_health,
    groups_summary,
    inferred_schema,
    parse_name,
)
from modelref.domain.textnames import base_name
from modelref.http.app import create_app

TEXT = "/api/model_references/v2/text_generation"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.2f}"


def part_0(repeat: int) -> None:
    records = list(reference_documents()[Category.TEXT_GENERATION].items())
    index = group_index(records)
    print(f"Part 0 — domain functions over {len(records)} text models, {len(index)} groups (ms)")
    print(f"  {'answer':34} {'first':>8} {'best':>8}")
    rows: list[tuple[str, Callable[[], Any]]] = [
        ("groups/health", lambda: groups_health(records)),
        ("groups/summary", lambda: groups_summary(records)),
        ("groups (the index, then the list)", lambda: GroupListResponse(groups=list(group_index(records)))),
        (f"group/{{name}} x {len(index)}", lambda: [group_members(g, members) for g, members in index.items()]),
        (
            f"group/{{name}}/name_schema x {len(index)}",
            lambda: [inferred_schema(g, members) for g, members in index.items()],
        ),
        ("families/detect", lambda: detect_families(records, DetectFamiliesParams(), {})),
        (f"parse_name x {len(records)}", lambda: [parse_name(key) for key, _ in records]),
    ]
    for label, make in rows:
        base_name.cache_clear()
        start = time.perf_counter()
        make()
        first = time.perf_counter() - start
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            make()
            best = min(best, time.perf_counter() - start)
        print(f"  {label:34} {_ms(first)} {_ms(best)}")


async def part_1(requests: int) -> None:
    paths = [
        "groups/health",
        "groups/summary",
        "group/Qwen2.5",
        "group/Qwen2.5/name_schema",
        "parse_name?name=Qwen/Qwen2.5-7B-Instruct-AWQ",
        "families/detect",
        "structure",
    ]
    print(f"\nPart 1 — requests through the app, in process (ms; median and p95 of {requests})")
    print(f"  {'request':46} {'first':>8} {'median':>8} {'p95':>8}")
    with tempfile.TemporaryDirectory() as directory:
        async for client in running(create_app(make_settings(Path(directory)))):
            for path in paths:
                times = []
                for _ in range(requests + 1):
                    start = time.perf_counter()
                    answer = await client.get(f"{TEXT}/{path}")
                    times.append(time.perf_counter() - start)
                    assert answer.status_code == 200, (path, answer.status_code)
                first, rest = times[0], sorted(times[1:])
                p95 = rest[int(len(rest) * 0.95) - 1]
                print(f"  {path:46} {_ms(first)} {_ms(statistics.median(rest))} {_ms(p95)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each domain function after the first")
    parser.add_argument("--requests", type=int, default=50, help="requests per route after the first")
    args = parser.parse_args()
    part_0(args.repeat)
    asyncio.run(part_1(args.requests))


if __name__ == "__main__":
    main()
