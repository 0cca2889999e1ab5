"""Text-model groups: naming-schema inference and group summaries (DATA.md §9.4, §9.6)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from modelref.domain.textnames import ParsedName, base_name, parse

_PARTS = ("size", "variant", "version", "quant")
_UNIT_IN_BILLIONS = {"B": Decimal(1), "M": Decimal("0.001"), "K": Decimal("0.000001")}
_MIXTURE_SIZE = re.compile(r"(\d+)X(\d+)([BMK])")
_PLAIN_SIZE = re.compile(r"(\d+)(?:\.(\d*))?([BMK])(\d*)")


def size_sort_key(size: str) -> tuple[Decimal, str]:
    """Order parsed sizes by the parameter count they stand for, ties by text (API.md X5).

    ``8X7B`` counts as 56B and ``350M`` as 0.35B. Digits after the unit are decimals: ``7B1`` is 7.1B, as in
    bloom-7b1. A size that does not read as one number (``1.5B2``) counts as 0. Decimal, not float: a size may
    have thousands of digits.

    >>> sorted(["123B", "9B", "8X7B", "350M", "12B"], key=size_sort_key)
    ['350M', '9B', '12B', '8X7B', '123B']
    """
    value = Decimal(0)
    if mixture := _MIXTURE_SIZE.fullmatch(size):
        experts, each, unit = mixture.groups()
        value = Decimal(experts) * Decimal(each) * _UNIT_IN_BILLIONS[unit]
    elif (plain := _PLAIN_SIZE.fullmatch(size)) and not (plain[2] and plain[4]):
        whole, decimals, unit, trailing = plain.groups()
        value = Decimal(f"{whole}.{decimals or trailing}") * _UNIT_IN_BILLIONS[unit]
    return value, size


def _part_values(parsed: ParsedName) -> list[tuple[str, str]]:
    values = [("base", parsed.base_name)]
    values += [(part, value) for part in _PARTS if (value := getattr(parsed, part))]
    values += [(f"extra:{extra.inferred_type.value}", extra.value) for extra in parsed.extras]
    return values


def infer_name_format(names: Sequence[str]) -> dict[str, Any]:
    """Infer a group's naming schema from its member names (DATA.md §9.4)."""
    if not names:
        return {
            "separator": "-",
            "part_order": ["base", "size", "variant", "version", "quant"],
            "author_included": False,
            "common_author": None,
            "template": "{base}-{size}",
            "extra_parts": [],
        }
    authors = [name.split("/", 1)[0] for name in names if "/" in name]
    distinct_authors = list(dict.fromkeys(authors))
    bare = [name.split("/", 1)[1] if "/" in name else name for name in names]
    parsed = [parse(name) for name in bare]

    underscores = dashes = 0
    for name, p in zip(bare, parsed, strict=True):
        text = name
        if p.quant:
            start = text.lower().find(p.quant.lower())
            if start >= 0:
                text = text[:start] + text[start + len(p.quant) :]
        underscores += text.count("_")
        dashes += text.count("-")
    separator = "_" if underscores > dashes else "-"

    def richness(p: ParsedName) -> int:
        return sum(1 for part in _PARTS if getattr(p, part)) + len(p.extras)

    best = max(range(len(parsed)), key=lambda i: (richness(parsed[i]), -i))
    lowered = bare[best].lower()
    found = [(lowered.find(value.lower()), part) for part, value in _part_values(parsed[best])]
    part_order = [part for position, part in sorted(found, key=lambda pair: pair[0]) if position >= 0]
    extra_parts = list(dict.fromkeys(extra.inferred_type.value for p in parsed for extra in p.extras))
    author_included = bool(authors)
    template = ("{author}/" if author_included else "") + separator.join(f"{{{part}}}" for part in part_order)
    return {
        "separator": separator,
        "part_order": part_order,
        "author_included": author_included,
        "common_author": distinct_authors[0] if len(distinct_authors) == 1 else None,
        "template": template,
        "extra_parts": extra_parts,
    }


def group_summary(entries: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Summarize one group's entries (key → legacy entry), duplicates included (DATA.md §9.6)."""
    parsed = [parse(key) for key in entries]
    baselines = {b for e in entries.values() if (b := e.get("baseline"))}
    name_format = infer_name_format(list(entries))
    del name_format["extra_parts"]
    return {
        "member_count": len(entries),
        "available_sizes": sorted({p.size for p in parsed if p.size}, key=size_sort_key),
        "available_quants": sorted({p.quant for p in parsed if p.quant}),
        "common_baseline": next(iter(baselines)) if len(baselines) == 1 else None,
        "any_nsfw": any(bool(e.get("nsfw")) for e in entries.values()),
        "any_has_description": any(bool(str(e.get("description") or "").strip()) for e in entries.values()),
        "merged_tags": sorted({t for e in entries.values() for t in (e.get("tags") or ())}),
        "name_format": name_format,
    }


def with_group_info(db: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The legacy text document with ``text_model_group`` and its summary added to every entry."""
    groups: dict[str, dict[str, Mapping[str, Any]]] = {}
    for key, entry in db.items():
        groups.setdefault(base_name(key), {})[key] = entry
    summaries = {group: group_summary(members) for group, members in groups.items()}
    result = {}
    for key, entry in db.items():
        group = base_name(key)
        result[key] = {**entry, "text_model_group": group, "text_model_group_summary": summaries[group]}
    return result
