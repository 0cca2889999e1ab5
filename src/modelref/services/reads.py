"""Every read the service answers, from the catalog's snapshots (API.md §3, §4, §6, §7 T1, §10, §12)."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from modelref.domain.categories import CATEGORY_INFO, Category, parse_category
from modelref.domain.query import Hit, SearchQuery, search
from modelref.errors import NotFound
from modelref.services.catalog import Blob, Catalog, Snapshot

METADATA_SCHEMA_VERSION = "1.0.0"
_SHOWN_NAME = 80


def shown(name: str) -> str:
    """A name as echoed in an error: never more than a short prefix."""
    return name if len(name) <= _SHOWN_NAME else name[:_SHOWN_NAME] + "…"


def category_or_404(name: str) -> Category:
    category = parse_category(name)
    if category is None:
        valid = ", ".join(c.value for c in Category)
        raise NotFound(f"Model category '{shown(name)}' not found. Valid categories: {valid}")
    return category


_V1_ALIASES = {"stable_diffusion": Category.IMAGE_GENERATION, "db": Category.TEXT_GENERATION}


def v1_category_or_404(name: str) -> Category:
    """A v1 category spelling: any category name, ``stable_diffusion``, ``db``, with or without ``.json``."""
    stem = name.removesuffix(".json")
    category = _V1_ALIASES.get(stem) or parse_category(stem)
    if category is None:
        raise NotFound(f"Invalid model category: '{shown(name)}' is not a valid MODEL_REFERENCE_CATEGORY")
    return category


@dataclass(frozen=True, slots=True)
class Body:
    """A read's answer: the bytes and the time the data last changed (for Last-Modified)."""

    blob: Blob
    last_updated: float | None


class Reads:
    """The read side of the service: every method returns pre-built bytes or raises NotFound."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def _snapshot(self, category: Category) -> Snapshot:
        return self.catalog.get(category)

    def v2_category(self, name: str) -> Body:
        category = category_or_404(name)
        snapshot = self._snapshot(category)
        if not snapshot.hits:
            raise NotFound(f"Model category '{category.value}' not found")
        return Body(snapshot.v2, snapshot.last_updated)

    def v2_record(self, category_name: str, key: str) -> Body:
        category = category_or_404(category_name)
        snapshot = self._snapshot(category)
        blob = snapshot.record_blobs.get(key)
        if blob is None:
            raise NotFound(f"Model '{shown(key)}' not found in category '{category.value}'")
        return Body(blob, snapshot.last_updated)

    def v1_category(self, name: str) -> Body:
        category = v1_category_or_404(name)
        info = CATEGORY_INFO[category]
        snapshot = self._snapshot(category)
        if info.managed_elsewhere:
            return Body(_EMPTY_OBJECT, snapshot.last_updated)
        if snapshot.v1 is None or not snapshot.hits:
            raise NotFound(f"Model category '{category.value}' not found or is empty")
        return Body(snapshot.v1, snapshot.last_updated)

    def v1_text(self, include_group: bool) -> Body:
        snapshot = self._snapshot(Category.TEXT_GENERATION)
        if snapshot.v1 is None or not snapshot.hits:
            raise NotFound("Text generation models not found or empty")
        return Body(snapshot.v1_with_groups() if include_group else snapshot.v1, snapshot.last_updated)

    def search(self, category_name: str | None, query: SearchQuery) -> Blob:
        """The SearchResponse for one category (or all when *category_name* is None), as bytes."""
        snapshots = self.catalog.snapshots
        if category_name is None:
            category = None
            hits: Iterable[Hit] = itertools.chain.from_iterable(snapshots[c].hits for c in Category)
        else:
            category = category_or_404(category_name)
            hits = snapshots[category].hits
        page = search(hits, query, category)
        results = b",".join(snapshots[h.record.record_type].record_blobs[h.key].body for h in page.hits)
        tail = orjson.dumps(
            {"total": page.total, "offset": page.offset, "limit": page.limit, "has_more": page.has_more}
        )
        # The answer is a pure function of the query and the snapshots' versions: tag it by those
        # instead of hashing the (large) body.
        versions = [snapshots[c].version for c in Category] if category is None else [snapshots[category].version]
        etag = hashlib.blake2b(repr((category, versions, query)).encode(), digest_size=12).hexdigest()
        return Blob(b'{"results":[' + results + b"]," + tail[1:], etag)

    def metadata(self, category: Category) -> dict[str, Any]:
        """CategoryMetadata (API.md §16.9) for one category."""
        snapshot = self._snapshot(category)
        state = snapshot.state
        started = int(self.catalog.started_at)
        if state is None:
            return {
                "category": category.value,
                "last_updated": started,
                "last_operation_type": None,
                "last_operation_model": None,
                "total_creates": 0,
                "total_updates": 0,
                "total_deletes": 0,
                "total_models": len(snapshot.hits),
                "initialization_time": started,
                "last_successful_operation": None,
                "error_count": 0,
                "metadata_schema_version": METADATA_SCHEMA_VERSION,
                "backend_type": self.catalog.backend_name,
            }
        return {
            "category": category.value,
            "last_updated": int(state.last_updated),
            "last_operation_type": state.last_operation_type,
            "last_operation_model": state.last_operation_model,
            "total_creates": state.total_creates,
            "total_updates": state.total_updates,
            "total_deletes": state.total_deletes,
            "total_models": len(snapshot.hits),
            "initialization_time": int(state.initialized_at),
            "last_successful_operation": int(state.last_updated),
            "error_count": state.error_count,
            "metadata_schema_version": METADATA_SCHEMA_VERSION,
            "backend_type": self.catalog.backend_name,
        }

    def all_metadata(self) -> Mapping[str, dict[str, Any]]:
        return {c.value: self.metadata(c) for c in Category}

    def last_updated(self) -> int | None:
        stamps = [s.last_updated for s in self.catalog.snapshots.values() if s.last_updated is not None]
        return int(max(stamps)) if stamps else None

    def statistics(self, name: str, grouped: bool, limit: int | None, offset: int) -> dict[str, Any]:
        category = category_or_404(name)
        snapshot = self._snapshot(category)
        if not snapshot.hits:
            raise NotFound(f"Category '{category.value}' not found or has no models")
        stats = snapshot.statistics(grouped and category is Category.TEXT_GENERATION)
        return {**stats, "limit": limit, "offset": offset}


_EMPTY_OBJECT = Blob(b"{}")
