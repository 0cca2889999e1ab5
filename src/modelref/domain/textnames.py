"""The text-model name parser and the group key (DATA.md §9)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from enum import StrEnum

from modelref.domain.vocab import strip_backend


class ExtraPartType(StrEnum):
    DATE = "DATE"
    DESCRIPTOR = "DESCRIPTOR"
    LEADING_VERSION = "LEADING_VERSION"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class ExtraPart:
    value: str
    position: int
    inferred_type: ExtraPartType


@dataclass(frozen=True, slots=True)
class ParsedName:
    original_name: str
    base_name: str
    size: str | None = None
    variant: str | None = None
    quant: str | None = None
    version: str | None = None
    normalized_name: str = ""
    extras: tuple[ExtraPart, ...] = field(default_factory=tuple)

    @property
    def is_quantized(self) -> bool:
        return self.quant is not None


_I = re.IGNORECASE
# These run as DATA.md §9.1 writes them, in linear time: a version match starts at a `v` and reads only digits and
# dots, which hold no other `v`; quants, variants and dates have a bounded width; the leading version is anchored.
# The size patterns are the exception (see `_find_size`).
_LEADING_VERSION = re.compile(r"^(\d+\.\d+(?:\.\d+)?)[_\-]")
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

# The size patterns of DATA.md §9.1, `(?<![a-zA-Z])(\d+\.?\d*[BMK]\d*)(?![a-zA-Z])` and then
# `(?<![a-zA-Z])(\d+x\d+[BMK])(?![a-zA-Z])` (case-insensitive), stay the reference, but `re` backtracks through
# every split of a run of digits between `\d+` and `\d*`, from every start in the run: cubic, seconds for a name of
# 1,000 digits and a letter. `_find_size` gives the same answers in linear time.
#
# Their single characters are matched with the patterns' own classes, not str methods: under IGNORECASE, `re` also
# folds İ ı ſ and the Kelvin sign K into [a-zA-Z], and K into [BMK]; `\d` is any Unicode decimal digit. At the end
# of the string `match` finds nothing, just as a look-ahead there sees no letter.
_DIGITS = re.compile(r"\d+")
_LETTER = re.compile(r"[a-zA-Z]", _I)
_UNIT = re.compile(r"[BMK]", _I)
_TIMES = re.compile(r"x", _I)


def _digits_end(s: str, i: int) -> int:
    """Where the run of digits starting at *i* ends (*i* itself when there is none)."""
    run = _DIGITS.match(s, i)
    return run.end() if run else i


def _plain_size_end(s: str, number_end: int) -> int | None:
    r"""End of a match of `\d+\.?\d*[BMK]\d*(?![a-zA-Z])` whose `\d+` stops at *number_end*, else None."""
    unit = number_end
    if s.startswith(".", unit):
        # Giving decimals back would put a digit where the unit must be, and giving the dot back would put the dot.
        unit = _digits_end(s, unit + 1)
    if not _UNIT.match(s, unit):
        return None
    end = _digits_end(s, unit + 1)
    if not _LETTER.match(s, end):
        return end
    # A letter follows: `re` gives back one trailing digit, if there is one, so that a digit follows instead.
    return end - 1 if end > unit + 1 else None


def _moe_size_end(s: str, number_end: int) -> int | None:
    r"""End of a match of `\d+x\d+[BMK](?![a-zA-Z])` whose first `\d+` stops at *number_end*, else None."""
    if not _TIMES.match(s, number_end):
        return None
    unit = _digits_end(s, number_end + 1)
    if unit == number_end + 1 or not _UNIT.match(s, unit) or _LETTER.match(s, unit + 1):
        return None
    return unit + 1


def _find_size(s: str) -> tuple[int, int] | None:
    r"""Span of the leftmost match of the first size pattern that matches in *s* (see the note above `_DIGITS`).

    A digit is never `.`, `x` or a unit, so a `\d+` that stops before the end of its run of digits leaves a digit
    where the pattern needs something else: only the whole run can be followed by a size. Every start inside one
    run therefore meets the same end of it and the same outcome. So each maximal run is examined once per pattern,
    from the leftmost start the look-behind allows: its first digit, or its second (preceded by a digit) when a
    letter precedes the first.
    """
    for size_end in (_plain_size_end, _moe_size_end):
        for run in _DIGITS.finditer(s):
            start, number_end = run.span()
            if start and _LETTER.match(s, start - 1):
                if number_end - start == 1:
                    continue
                start += 1
            if (end := size_end(s, number_end)) is not None:
                return start, end
    return None


def _first_match(patterns: tuple[re.Pattern[str], ...], s: str) -> tuple[int, int] | None:
    r"""Span of the leftmost match of the first pattern that matches anywhere in *s*.

    The whole match is the pattern's group: around it are only look-arounds and `\b`, which take no characters.
    """
    for pattern in patterns:
        if match := pattern.search(s):
            return match.span()
    return None


def _cut(s: str, span: tuple[int, int] | None) -> tuple[str | None, str]:
    """The text at *span* and *s* without it (None and *s* when there is no span)."""
    if span is None:
        return None, s
    start, end = span
    return s[start:end], s[:start] + s[end:]


def _normalize(name: str) -> str:
    lowered = re.sub(r"[-. ]", "_", name.lower())
    return re.sub(r"_+", "_", lowered).strip("_")


def parse(name: str) -> ParsedName:
    """Split a text model name into base, size, variant, quant, version and extras.

    >>> parse("Llama-3-8B-Instruct-Q4_K_M").base_name
    'Llama-3'
    """
    s = name
    extras: list[ExtraPart] = []
    leading = _LEADING_VERSION.match(s)
    if leading:
        extras.append(ExtraPart(leading.group(1), 0, ExtraPartType.LEADING_VERSION))
        s = s[leading.end() :]

    size, s = _cut(s, _find_size(s))
    version, s = _cut(s, _first_match(_VERSION, s))
    quant, s = _cut(s, _first_match(_QUANT, s))
    variant, s = _cut(s, _first_match(_VARIANT, s))
    if date := _first_match(_DATE, s):
        start, end = date
        position = sum(1 for ch in name[:start] if ch in _SEPARATORS)
        extras.append(ExtraPart(s[start:end], position, ExtraPartType.DATE))
        s = s[:start] + s[end:]

    for sep in _SEPARATORS:
        while sep * 2 in s:
            s = s.replace(sep * 2, sep)
    base = s.strip(_SEPARATORS) or name
    return ParsedName(
        original_name=name,
        base_name=base,
        size=size.upper() if size else None,
        variant=variant,
        quant=quant.upper() if quant else None,
        version=version,
        normalized_name=_normalize(base),
        extras=tuple(extras),
    )


@functools.lru_cache(maxsize=16_384)
def base_name(name: str) -> str:
    """Return the group key of a text model name: no backend prefix, no organisation, parsed base.

    Remembered for the most recent names: joins, groupings and statistics ask for the same names again and again.

    >>> base_name("koboldcpp/sophosympatheia/StrawberryLemonade-L3-70B-v1.2")
    'StrawberryLemonade-L3'
    """
    rest = strip_backend(name)
    if "/" in rest:
        rest = rest.split("/", 1)[1]
    return parse(rest).base_name
