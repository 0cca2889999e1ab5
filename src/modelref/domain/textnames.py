"""The text-model name parser and the group key (DATA.md §9)."""

from __future__ import annotations

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
    """Find the first pattern that matches; return its leftmost match and *s* without it."""
    for pattern in patterns:
        match = pattern.search(s)
        if match:
            return match, s[: match.start()] + s[match.end() :]
    return None, s


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
    return ParsedName(
        original_name=name,
        base_name=base,
        size=size_match.group(1).upper() if size_match else None,
        variant=variant_match.group(1) if variant_match else None,
        quant=quant_match.group(1).upper() if quant_match else None,
        version=version_match.group(1) if version_match else None,
        normalized_name=_normalize(base),
        extras=tuple(extras),
    )


def base_name(name: str) -> str:
    """Return the group key of a text model name: no backend prefix, no organisation, parsed base.

    >>> base_name("koboldcpp/sophosympatheia/StrawberryLemonade-L3-70B-v1.2")
    'StrawberryLemonade-L3'
    """
    rest = strip_backend(name)
    if "/" in rest:
        rest = rest.split("/", 1)[1]
    return parse(rest).base_name
