"""Every read the service answers from the catalog's snapshots (API.md §3, §4, §6, §7 T1, §10, §12).

Categories arrive parsed: each route decides at its edge what an unknown name answers.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic

import orjson

from modelref.domain.categories import CATEGORY_INFO, SEARCH_ORDER, Category
from modelref.domain.deployment import Deployment
from modelref.domain.formats import Format
from modelref.domain.info import CategoryLastUpdatedResponse, CategoryMetadata, LastUpdatedResponse
from modelref.domain.inputs import shown
from modelref.domain.query import SearchIndex, SearchPage, SearchQuery
from modelref.domain.tags import catalog_tag, content_tag
from modelref.errors import EmptyCategory, NotFound, NotReplicated
from modelref.services.catalog import B, Catalog, Snapshot
from modelref.services.memo import Recent


@dataclass(frozen=True, slots=True)
class Body(Generic[B]):
    """A read's answer: the encoded body and when the data last changed (for Last-Modified)."""

    payload: B
    last_updated: float | None


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer made per request (a search, the poll of ``metadata/last_updated``): the body and a tag
    that changes when the answer can."""

    body: bytes
    etag: str


class Reads(Generic[B]):
    """The read side of the service: pre-built bodies, or NotFound."""

    def __init__(self, catalog: Catalog[B], deployment: Deployment) -> None:
        self.catalog = catalog
        self.deployment = deployment
        self._empty = catalog.encode(b"{}")
        self._across: tuple[Mapping[Category, Snapshot[B]], SearchIndex] | None = None
        self._polled: tuple[Mapping[Category, Snapshot[B]], Answer] | None = None
        self._statistics: Recent[tuple[Category, str, bool, int | None, int], Answer] = Recent(64)

    def _index_across(self, snapshots: Mapping[Category, Snapshot[B]]) -> SearchIndex:
        """One index over every category of this set of snapshots, in search order (made again when the
        catalog swaps in a new set; a few hundred microseconds)."""
        across = self._across
        if across is None or across[0] is not snapshots:
            hits = list(itertools.chain.from_iterable(snapshots[c].hits for c in SEARCH_ORDER))
            across = self._across = (snapshots, SearchIndex(hits))
        return across[1]

    def snapshot(self, category: Category) -> Snapshot[B]:
        """The category's snapshot; NotReplicated (503) on a REPLICA that has not received it yet."""
        snapshot = self.catalog.get(category)
        if not snapshot.received:
            raise NotReplicated(
                f"Model category '{category.value}' has not been received from the PRIMARY yet; try again shortly.",
                retry_after=5,
            )
        return snapshot

    def v2_category(self, category: Category) -> Body[B]:
        snapshot = self.snapshot(category)
        if not snapshot.hits:
            raise EmptyCategory(f"Model category '{category.value}' not found")
        return Body(snapshot.v2, snapshot.last_updated)

    def v2_record(self, category: Category, key: str) -> Body[B]:
        snapshot = self.snapshot(category)
        found = snapshot.records.get(key)
        if found is None:
            raise NotFound(f"Model '{shown(key)}' not found in category '{category.value}'")
        return Body(found, snapshot.last_updated)

    def document(self, category: Category, key: str) -> Mapping[str, Any]:
        """A record as stored (its v2 document), for a reader that needs its fields rather than its bytes."""
        snapshot = self.snapshot(category)
        if key not in snapshot.records:
            raise NotFound(f"Model '{shown(key)}' not found in category '{category.value}'")
        return next(hit.document for hit in snapshot.hits if hit.key == key)

    def v1_category(self, category: Category) -> Body[B]:
        """The legacy document of a category; lora and ti are always ``{}`` (managed elsewhere)."""
        if CATEGORY_INFO[category].managed_elsewhere:  # `{}` whatever a REPLICA has received
            return Body(self._empty, self.catalog.get(category).last_updated)
        snapshot = self.snapshot(category)
        if snapshot.v1 is None:
            raise NotFound(f"Model category '{category.value}' not found or is empty")
        if not snapshot.hits:
            raise EmptyCategory(f"Model category '{category.value}' not found or is empty")
        return Body(snapshot.v1, snapshot.last_updated)

    def v1_text(self, include_group: bool, *, build: bool = True) -> Body[B] | None:
        """The db.json document, with group summaries when asked (None: not built yet and *build* False)."""
        snapshot = self.snapshot(Category.TEXT_GENERATION)
        if snapshot.v1 is None or not snapshot.hits:
            raise EmptyCategory("Text generation models not found or empty")
        if not include_group:
            return Body(snapshot.v1, snapshot.last_updated)
        grouped = snapshot.v1_with_groups(build=build)
        return None if grouped is None else Body(grouped, snapshot.last_updated)

    def search_page(self, category: Category | None, query: SearchQuery) -> SearchPage:
        """One page of matching records of one category (or all when *category* is None)."""
        return self._search(self.catalog.snapshots, category, query)

    def _search(
        self, snapshots: Mapping[Category, Snapshot[B]], category: Category | None, query: SearchQuery
    ) -> SearchPage:
        for wanted in SEARCH_ORDER if category is None else (category,):
            self.snapshot(wanted)  # never a partial answer from a REPLICA still catching up
        if category is None:
            return self._index_across(snapshots).search(query, None)
        return snapshots[category].index.search(query, category)

    def search(self, category: Category | None, query: SearchQuery) -> Answer:
        """The SearchResponse for one category (or all when *category* is None)."""
        snapshots = self.catalog.snapshots  # one set for the whole answer: a refresh may swap in another
        page = self._search(snapshots, category, query)
        categories = SEARCH_ORDER if category is None else (category,)
        contents = tuple(snapshots[c].fingerprint for c in categories)
        results = b",".join(snapshots[h.record.record_type].records[h.key].body for h in page.hits)
        tail = orjson.dumps(
            {"total": page.total, "offset": page.offset, "limit": page.limit, "has_more": page.has_more}
        )
        # The answer is a pure function of the query and the categories' contents: tag it by those instead
        # of hashing the (large) body; every process holding the same data gives the same tag.
        etag = hashlib.blake2b(repr((category, contents, query)).encode(), digest_size=12).hexdigest()
        return Answer(b'{"results":[' + results + b"]," + tail[1:], etag)

    def metadata(self, api: Format, category: Category) -> CategoryMetadata:
        """A category's metadata, served under the canonical API of a PRIMARY (decision 6)."""
        self.deployment.require_metadata(api)
        return self._metadata(category)

    def _metadata(self, category: Category) -> CategoryMetadata:
        snapshot = self.catalog.get(category)
        return CategoryMetadata.of(
            category, snapshot.state, len(snapshot.hits), self.catalog.started_at, self.catalog.backend_name
        )

    def all_metadata(self, api: Format) -> dict[Category, CategoryMetadata]:
        self.deployment.require_metadata(api)
        return {c: self._metadata(c) for c in Category}

    def last_updated(self, api: Format) -> LastUpdatedResponse:
        """The latest change over all categories (REPLICAs poll this)."""
        self.deployment.require_metadata(api)
        return _latest(self.catalog.snapshots)

    def poll(self, api: Format) -> Answer:
        """``metadata/last_updated`` tagged by the catalog's content: a REPLICA that sends the tag of what it
        holds (``catalog_tag`` of its categories' v2 tags) as If-None-Match gets a 304 when nothing differs."""
        self.deployment.require_metadata(api)
        snapshots = self.catalog.snapshots  # one set for the body and the tag
        polled = self._polled
        if polled is None or polled[0] is not snapshots:  # made once per set of snapshots
            body = orjson.dumps(_latest(snapshots).model_dump())
            answer = Answer(body, catalog_tag(snapshots[c].fingerprint for c in Category if c in snapshots))
            polled = self._polled = (snapshots, answer)
        return polled[1]

    def category_last_updated(self, api: Format, category: Category) -> CategoryLastUpdatedResponse:
        return CategoryLastUpdatedResponse(category=category, last_updated=self.metadata(api, category).last_updated)

    def statistics(self, category: Category, grouped: bool, limit: int | None, offset: int) -> Answer:
        """A category's statistics, encoded once per version and parameters; a known category without records
        has zeros (as the existing service)."""
        snapshot = self.snapshot(category)
        key = (category, snapshot.fingerprint, grouped and category is Category.TEXT_GENERATION, limit, offset)

        def make() -> Answer:
            stats = snapshot.statistics(key[2]).model_copy(update={"limit": limit, "offset": offset})
            body = stats.model_dump_json().encode()
            return Answer(body, content_tag(body))

        return self._statistics.get(key, make)


def _latest(snapshots: Mapping[Category, Snapshot[B]]) -> LastUpdatedResponse:
    """The latest change over a set of snapshots."""
    stamps = [s.last_updated for s in snapshots.values() if s.last_updated is not None]
    return LastUpdatedResponse(last_updated=int(max(stamps)) if stamps else None)
