"""Text-model name parser: the reference size patterns run by `re` (before) against the linear scanner (after).

    .venv/bin/python bench/textnames.py [--cap 30]

Times `parse` on every real text model name (../shared/reference-data/legacy-text/db.json), then on adversarial
names of 1,000 and 10,000 characters. The "before" parser is the pre-scanner code, copied here; on adversarial
names it runs in a child process that is stopped after --cap seconds (a backtracking `re` cannot be interrupted).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from modelref.domain.textnames import ExtraPart, ExtraPartType, ParsedName, parse

REAL_NAMES = Path(__file__).resolve().parents[2] / "shared" / "reference-data" / "legacy-text" / "db.json"

# The parser before the scanner: DATA.md §9.1's patterns as they were run.
_I = re.IGNORECASE
_LEADING_VERSION = re.compile(r"^(\d+\.\d+(?:\.\d+)?)[_\-]")
_SIZE = (
    re.compile(r"(?<![a-zA-Z])(\d+\.?\d*[BMK]\d*)(?![a-zA-Z])", _I),
    re.compile(r"(?<![a-zA-Z])(\d+x\d+[BMK])(?![a-zA-Z])", _I),
)
_VERSION = (
    re.compile(r"(?<![a-zA-Z0-9])([vV]\d+(?:\.\d+)+)(?![a-zA-Z0-9])", _I),
    re.compile(r"(?<![a-zA-Z0-9])([vV]\d+)(?![a-zA-Z0-9.])", _I),
)
_QUANT = (
    re.compile(r"\b(Q[2-8]_K(?:_[SMLH])?)\b", _I),
    re.compile(r"\b(Q[2-8]_[01])\b", _I),
    re.compile(r"\b(Q[2-8])\b", _I),
    re.compile(r"\b(GGUF|GGML|GPTQ|AWQ|EXL2)\b", _I),
    re.compile(r"\b(fp16|fp32|int8|int4)\b", _I),
)
_VARIANT = (
    re.compile(r"\b(Instruct|Chat|Code|Base|Uncensored|Finetune|FT)\b", _I),
    re.compile(r"\b(Thinking|Reasoning)\b", _I),
    re.compile(r"\b(turbo|preview|latest)\b", _I),
)
_DATE = (
    re.compile(r"(?<![a-zA-Z0-9])(\d{2}-\d{4})(?![a-zA-Z0-9])"),
    re.compile(r"(?<![a-zA-Z0-9])(\d{4}-\d{2})(?![a-zA-Z0-9])"),
    re.compile(r"(?<![a-zA-Z0-9])(\d{4})(?![a-zA-Z0-9])"),
)
_SEPARATORS = "-_ ."


def _take(patterns: tuple[re.Pattern[str], ...], s: str) -> tuple[re.Match[str] | None, str]:
    for pattern in patterns:
        match = pattern.search(s)
        if match:
            return match, s[: match.start()] + s[match.end() :]
    return None, s


def parse_before(name: str) -> ParsedName:
    s = name
    extras: list[ExtraPart] = []
    leading = _LEADING_VERSION.match(s)
    if leading:
        extras.append(ExtraPart(leading.group(1), 0, ExtraPartType.LEADING_VERSION))
        s = s[leading.end() :]
    size_match, s = _take(_SIZE, s)
    version_match, s = _take(_VERSION, s)
    quant_match, s = _take(_QUANT, s)
    variant_match, s = _take(_VARIANT, s)
    for pattern in _DATE:
        date = pattern.search(s)
        if date:
            position = sum(1 for ch in name[: date.start()] if ch in _SEPARATORS)
            extras.append(ExtraPart(date.group(1), position, ExtraPartType.DATE))
            s = s[: date.start()] + s[date.end() :]
            break
    for sep in _SEPARATORS:
        while sep * 2 in s:
            s = s.replace(sep * 2, sep)
    base = s.strip(_SEPARATORS) or name
    lowered = re.sub(r"[-. ]", "_", base.lower())
    return ParsedName(
        original_name=name,
        base_name=base,
        size=size_match.group(1).upper() if size_match else None,
        variant=variant_match.group(1) if variant_match else None,
        quant=quant_match.group(1).upper() if quant_match else None,
        version=version_match.group(1) if version_match else None,
        normalized_name=re.sub(r"_+", "_", lowered).strip("_"),
        extras=tuple(extras),
    )


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
