"""Text-model name parser: the reference size patterns run by `re` (before) against the linear scanner (after).

    .venv/bin/python bench/textnames.py [--cap 30]

Times `parse` on every real text model name (../shared/reference-data/legacy-text/db.json), then on adversarial
names of 1,000 and 10,000 characters. The "before" parser is the pre-scanner code, copied here; on adversarial
names it runs in a child process that is stopped after --cap seconds (a backtracking `re` cannot be interrupted).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from modelref.domain.textnames import ParsedName, parse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.support
from tests.support import reference_parse as parse_before

REAL_NAMES = Path(__file__).resolve().parents[2] / "shared" / "reference-data" / "legacy-text" / "db.json"

ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "digits, B": lambda n: "1" * (n - 1) + "B",
    "digits, letter": lambda n: "1" * (n - 1) + "a",
    "digits, x": lambda n: "1" * (n - 1) + "x",
    "digits . digits, letter": lambda n: "1" * (n // 2) + "." + "1" * (n // 2 - 2) + "a",
    "1.1.1.": lambda n: "1." * (n // 2),
    "v1.v1.v1.": lambda n: "v1." * (n // 3),
    "v1.1.1, letter": lambda n: "v" + "1." * (n // 2 - 1) + "1a",
    "12-12-12-": lambda n: "12-" * (n // 3),
    "1234-1234-": lambda n: "1234-" * (n // 5),
    "separators": lambda n: "-_ ." * (n // 4) + "-" * (n // 2),
}
PARSERS = {"before": parse_before, "after": parse}


def _seconds(parser: Callable[[str], ParsedName], name: str, repeat: int) -> float:
    """The best of *repeat* timings of one parse."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        parser(name)
        best = min(best, time.perf_counter() - start)
    return best


def _capped_seconds(which: str, shape: str, n: int, cap: float) -> float | None:
    """Time one parse in a child process; None when it had not finished after *cap* seconds."""
    command = [sys.executable, __file__, "--one", which, shape, str(n)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=cap, check=True)
    except subprocess.TimeoutExpired:
        return None
    return float(done.stdout)


def _format(seconds: float | None, cap: float) -> str:
    if seconds is None:
        return f"> {cap:.0f} s (stopped)"
    if seconds >= 1:
        return f"{seconds:.1f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def bench_real_names(repeat: int) -> None:
    names = list(json.loads(REAL_NAMES.read_bytes()))
    print(f"Real text model names: {len(names)} (best of {repeat} passes)")
    for which, parser in PARSERS.items():
        passes = []
        for _ in range(repeat):
            start = time.perf_counter()
            for name in names:
                parser(name)
            passes.append(time.perf_counter() - start)
        slowest = max(names, key=lambda name: _seconds(parser, name, 3))
        print(
            f"  {which:7} {min(passes) / len(names) * 1e6:6.1f} µs/name (median pass "
            f"{statistics.median(passes) * 1e3:.1f} ms), slowest name {_format(_seconds(parser, slowest, 5), 0)}"
        )


def bench_adversarial(cap: float) -> None:
    print(f"\nAdversarial names (before: in a child process, stopped after {cap:.0f} s)")
    print(f"  {'shape':26} {'length':>6}  {'before':>20}  {'after':>9}")
    for shape, make in ADVERSARIAL.items():
        for n in (1_000, 10_000):
            before = _capped_seconds("before", shape, n, cap)
            after = _seconds(parse, make(n), 5)
            print(f"  {shape:26} {n:>6}  {_format(before, cap):>20}  {_format(after, cap):>9}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cap", type=float, default=30.0, help="seconds before a 'before' parse is stopped")
    parser.add_argument("--repeat", type=int, default=20, help="passes over the real names")
    parser.add_argument("--one", nargs=3, metavar=("PARSER", "SHAPE", "LENGTH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        which, shape, n = args.one
        print(_seconds(PARSERS[which], ADVERSARIAL[shape](int(n)), 1))
        return
    bench_real_names(args.repeat)
    bench_adversarial(args.cap)


if __name__ == "__main__":
    main()
