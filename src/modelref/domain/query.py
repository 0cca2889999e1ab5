"""The one query engine: filter, de-duplicate, sort and page records (API.md §4).

Serves the HTTP search routes and library users alike. Records are given as ``Hit`` rows: the stored
key, the typed record and its stored document (what a result shows).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from modelref.domain.categories import Category
from modelref.domain.records import RECORD_CLASSES, RecordBase
from modelref.domain.textnames import parse
from modelref.domain.vocab import TEXT_BACKENDS, backend_of
from modelref.errors import InvalidQuery

HORDE_SOURCE = "horde"
ANY_SOURCE = "any"
MAX_LIMIT = 500
MAX_OFFSET = 2**31 - 1
"""Past any real data; bigger numbers are refused (422) rather than carried around."""


@dataclass(frozen=True, slots=True)
class Hit:
    """A searchable record: its key, typed record, stored document and the facts filters test."""

    key: str
    record: RecordBase
    document: dict[str, Any]
    folded_name: str
    nsfw: bool | None
    baseline: str | None
    inpainting: bool | None
    tags: frozenset[str] | None
    backend: str | None
    quantized: bool

    @classmethod
    def of(cls, key: str, record: RecordBase, document: dict[str, Any]) -> Hit:
        tags = getattr(record, "tags", None)
        text = record.record_type is Category.TEXT_GENERATION
        return cls(
            key=key,
            record=record,
            document=document,
            folded_name=record.name.casefold(),
            nsfw=getattr(record, "nsfw", None),
            baseline=getattr(record, "baseline", None),
            inpainting=getattr(record, "inpainting", None),
            tags=None if tags is None else frozenset(tags),
            backend=backend_of(record.name) if text else None,
            quantized=text and parse(record.name).quant is not None,
        )


@dataclass(frozen=True, slots=True)
class SearchQuery:
    nsfw: bool | None = None
    baseline: str | None = None
    inpainting: bool | None = None
    tags_any: tuple[str, ...] = ()
    tags_all: tuple[str, ...] = ()
    tags_none: tuple[str, ...] = ()
    name_contains: str | None = None
    backend: str | None = None
    exclude_backend_variations: bool = False
    quantized: bool | None = None
    sort_by: str | None = None
    sort_desc: bool = False
    limit: int = 50
    offset: int = 0
    source: str = HORDE_SOURCE


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    offset: int = 0
    limit: int = 50

    @property
    def has_more(self) -> bool:
        return self.offset + self.limit < self.total


def record_fields(cls: type[RecordBase]) -> list[str]:
    """The field names a record type exposes on the wire (aliases where they differ)."""
    names = []
    for name, info in cls.model_fields.items():
        names.append(info.serialization_alias or name)
    return names


COMMON_FIELDS = record_fields(RecordBase)
_GENERIC_NAME = "GenericModelRecord"


@functools.cache
def _fields_for(category: Category | None) -> tuple[str, list[str], set[str]]:
    """(type name, wire field names, accepted names incl. attribute names) of a category or of all."""
    if category is None:
        return _GENERIC_NAME, COMMON_FIELDS, set(COMMON_FIELDS)
    cls = RECORD_CLASSES[category]
    wire = record_fields(cls)
    return cls.__name__, wire, set(wire) | set(cls.model_fields)


def _require(field_name: str, category: Category | None, what: str) -> None:
    type_name, wire, accepted = _fields_for(category)
    if field_name not in accepted:
        raise InvalidQuery(f"{what}: Field '{field_name}' does not exist on {type_name}. Valid fields: {sorted(wire)}")


def _wire_name(category: Category | None, name: str) -> str:
    if category is None:
        return name
    info = RECORD_CLASSES[category].model_fields.get(name)
    return (info.serialization_alias or name) if info else name


def validate(query: SearchQuery, category: Category | None) -> None:
    """Raise InvalidQuery for a filter or sort the category's record type cannot answer."""
    filter_fields = (
        ("nsfw", query.nsfw is not None),
        ("baseline", query.baseline is not None),
        ("inpainting", query.inpainting is not None),
        ("tags", bool(query.tags_any or query.tags_all or query.tags_none)),
    )
    if category is not None:
        for name, used in filter_fields:
            if used:
                _require(name, category, "Filter not supported for this category")
    if query.sort_by:
        _require(query.sort_by.split("__", 1)[0], category, "Invalid sort_by field")
    if category is Category.TEXT_GENERATION and query.backend is not None and query.backend not in TEXT_BACKENDS:
        raise InvalidQuery(f"Unknown backend '{query.backend}'. Valid backends: {list(TEXT_BACKENDS)}")
    if query.source not in (HORDE_SOURCE, ANY_SOURCE):
        raise InvalidQuery(
            f"Unknown source '{query.source}'. No provider is registered under that id; valid: horde, any"
        )


Filter = Callable[[list[Hit]], list[Hit]]
"""One condition applied to a list: a comprehension per condition, with no function call per record."""


def _filters(query: SearchQuery, category: Category | None) -> list[Filter]:
    """One pass per filter in use, built once per query (each pass sees what the previous ones kept)."""
    steps: list[Filter] = []
    nsfw, baseline, inpainting = query.nsfw, query.baseline, query.inpainting
    if nsfw is not None:
        steps.append(lambda hits: [h for h in hits if h.nsfw is nsfw])
    if baseline is not None:
        steps.append(lambda hits: [h for h in hits if h.baseline == baseline])
    if inpainting is not None:
        steps.append(lambda hits: [h for h in hits if h.inpainting is inpainting])
    any_of, all_of, none_of = frozenset(query.tags_any), frozenset(query.tags_all), frozenset(query.tags_none)
    if any_of:
        steps.append(lambda hits: [h for h in hits if h.tags is not None and not h.tags.isdisjoint(any_of)])
    if all_of:
        steps.append(lambda hits: [h for h in hits if h.tags is not None and h.tags >= all_of])
    if none_of:
        steps.append(lambda hits: [h for h in hits if h.tags is None or h.tags.isdisjoint(none_of)])
    if category is Category.TEXT_GENERATION:
        backend, quantized = query.backend, query.quantized
        if backend is not None:
            steps.append(lambda hits: [h for h in hits if h.backend == backend])
        if query.exclude_backend_variations:
            steps.append(lambda hits: [h for h in hits if h.backend is None])
        if quantized is not None:
            steps.append(lambda hits: [h for h in hits if h.quantized is quantized])
    return steps


def _sort_value(document: dict[str, Any], path: list[str]) -> Any:
    value: Any = document
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _sort_path(query: SearchQuery, category: Category | None) -> tuple[str, ...]:
    assert query.sort_by
    parts = query.sort_by.split("__")
    return (_wire_name(category, parts[0]), *parts[1:])


def sort_order(hits: Sequence[Hit], path: tuple[str, ...]) -> list[Hit]:
    """*hits* by the value at *path* ascending (stable), those without a value after the others.

    Raises InvalidQuery when the values cannot be compared.
    """
    present: list[tuple[Any, Hit]] = []
    missing: list[Hit] = []
    for hit in hits:
        value = _sort_value(hit.document, list(path))
        if value is None:
            missing.append(hit)
        else:
            present.append((value, hit))
    try:
        present.sort(key=lambda pair: pair[0])
    except TypeError:
        raise InvalidQuery(f"Invalid sort_by field: values of '{'__'.join(path)}' cannot be compared") from None
    return [hit for _, hit in present] + missing


def search(hits: Iterable[Hit], query: SearchQuery, category: Category | None = None) -> SearchPage:
    """Filter (all conditions ANDed), de-duplicate by name (first wins), sort, then page.

    *category* None means a cross-category search: only the fields every record has may be sorted on.
    """
    return SearchIndex(list(hits)).search(query, category)


class SearchIndex:
    """Records to search, with what is worth computing once per set of records: whether any name occurs
    twice, and the order by each field someone sorted on (built on first use)."""

    def __init__(self, hits: Sequence[Hit]) -> None:
        self.hits = hits
        self.unique_names = len({hit.record.name for hit in hits}) == len(hits)
        self._orders: dict[tuple[str, ...], list[Hit] | InvalidQuery] = {}
        self._lock = threading.Lock()
        # Every folded name in one string, NUL between them (a name never holds NUL): a substring search
        # runs once over the whole string instead of once per record.
        self._names = "\x00".join(hit.folded_name for hit in hits)
        self._starts = list(itertools.accumulate((len(hit.folded_name) + 1 for hit in hits[:-1]), initial=0))

    def _named(self, needle: str) -> list[Hit]:
        """The records whose folded name contains *needle*, in order."""
        if not needle:
            return list(self.hits)
        if "\x00" in needle:
            return []
        found: list[Hit] = []
        position = self._names.find(needle)
        while position != -1:
            index = bisect.bisect_right(self._starts, position) - 1
            found.append(self.hits[index])
            following = self._starts[index + 1] if index + 1 < len(self._starts) else len(self._names)
            position = self._names.find(needle, following)
        return found

    def _ordered(self, path: tuple[str, ...]) -> list[Hit]:
        found = self._orders.get(path)
        if found is None:
            with self._lock:
                found = self._orders.get(path)
                if found is None:
                    try:
                        found = sort_order(self.hits, path)
                    except InvalidQuery as error:
                        found = error
                    if len(self._orders) < 64:  # sort paths are few; a flood of odd ones is not kept
                        self._orders[path] = found
        if isinstance(found, InvalidQuery):
            raise found
        return found

    def search(self, query: SearchQuery, category: Category | None = None) -> SearchPage:
        validate(query, category)
        needle = query.name_contains
        matched = list(self.hits) if needle is None else self._named(needle.casefold())
        for step in _filters(query, category):
            matched = step(matched)
        if not self.unique_names:
            seen: set[str] = set()
            kept: list[Hit] = []
            for hit in matched:
                if hit.record.name not in seen:
                    seen.add(hit.record.name)
                    kept.append(hit)
            matched = kept
        if query.sort_by:
            ordered = self._ordered(_sort_path(query, category))
            if len(matched) == len(self.hits):
                matched = list(ordered)  # nothing filtered out
            else:
                chosen = {id(hit) for hit in matched}
                matched = [hit for hit in ordered if id(hit) in chosen]
            if query.sort_desc:
                matched.reverse()
        page = matched[query.offset : query.offset + query.limit]
        return SearchPage(page, len(matched), query.offset, query.limit)


class CrossSearchParams(BaseModel):
    """The parameters of the cross-category search. An unknown parameter is refused (422), never ignored:
    a filter that silently does nothing returns results that look like a match."""

    model_config = ConfigDict(extra="forbid")

    nsfw: bool | None = None
    name_contains: str | None = None
    tags_any: list[str] = Field(default_factory=list)
    tags_all: list[str] = Field(default_factory=list)
    tags_none: list[str] = Field(default_factory=list)
    sort_by: str | None = None
    sort_desc: bool = False
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)

    def to_query(self) -> SearchQuery:
        fields = self.model_dump()
        for name in ("tags_any", "tags_all", "tags_none"):
            fields[name] = tuple(fields[name])
        return SearchQuery(**fields)


class SearchParams(CrossSearchParams):
    """The parameters of a per-category search."""

    baseline: str | None = None
    inpainting: bool | None = None
    backend: str | None = None
    exclude_backend_variations: bool = False
    quantized: bool | None = None
    source: str = HORDE_SOURCE


class SearchResponse(BaseModel):
    """One page of search results: records as stored, in result order."""

    results: list[dict[str, Any]]
    total: int
    offset: int
    limit: int
    has_more: bool
