"""The in-memory read model: per category an immutable snapshot of pre-encoded responses.

A read never serializes or validates: it picks a body from the current snapshot. Snapshots are rebuilt
(off the event loop) only when the category's version changes, and swapped whole. The catalog knows
neither where its data comes from (a ``CatalogSource``: the database on a PRIMARY, a PRIMARY over HTTP
on a REPLICA) nor how bodies are encoded for the wire: the HTTP layer hands in an encoder, which runs
here, when a snapshot is built.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import orjson
from pydantic import ValidationError

from modelref.domain.categories import CATEGORY_INFO, Category
from modelref.domain.groups import with_group_info
from modelref.domain.inputs import shown
from modelref.domain.legacy import describe_validation_error
from modelref.domain.query import Hit, SearchIndex
from modelref.domain.records import parse_record
from modelref.domain.render import legacy_file
from modelref.domain.statistics import CategoryStatistics, compute_statistics, group_text_documents
from modelref.domain.stored import CategoryData, CategoryState
from modelref.domain.tags import content_tag, v2_body
from modelref.errors import InvalidRecord, ModelRefError

log = logging.getLogger(__name__)

MAX_BACKOFF = 10.0
"""The longest wait between two tries while the source keeps failing (seconds)."""


class Encoded(Protocol):
    """What an encoder makes of a body: at least the body itself."""

    @property
    def body(self) -> bytes: ...


B = TypeVar("B", bound=Encoded)


@dataclass(slots=True)
class Snapshot(Generic[B]):
    """One category at one version: records, search facts and every response body already encoded (v1: the
    legacy repositories' file, byte for byte as ``modelref export --format legacy`` writes it)."""

    category: Category
    version: int
    fingerprint: str
    """The content tag of the category's v2 body (its ETag): equal in every process that holds it."""
    state: CategoryState | None
    hits: list[Hit]
    index: SearchIndex
    records: dict[str, B]
    v2: B
    v1: B | None
    encode: Callable[[bytes], B]
    received: bool = True
    """False on a REPLICA that has not received the category yet (reads answer 503, not 404)."""
    _v1_groups: B | None = None
    _statistics: dict[bool, CategoryStatistics] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def documents(self) -> list[tuple[str, Mapping[str, Any]]]:
        """Every record as ``(key, stored document)``, in the category's order: what the domain's analyses read."""
        return [(hit.key, hit.document) for hit in self.hits]

    @property
    def last_updated(self) -> float | None:
        return self.state.last_updated if self.state else None

    def v1_with_groups(self, *, build: bool = True) -> B | None:
        """The legacy text document with group summaries, built on first use (a route in the thread pool
        builds it; *build* False only returns it when it exists, for callers on the event loop)."""
        assert self.v1 is not None
        if self._v1_groups is not None or not build:
            return self._v1_groups
        with self._lock:
            if self._v1_groups is None:
                self._v1_groups = self.encode(orjson.dumps(with_group_info(orjson.loads(self.v1.body))))
            return self._v1_groups

    def statistics(self, grouped: bool) -> CategoryStatistics:
        """The category's statistics at this version (made when the snapshot is built; grouped: text only)."""
        grouped = grouped and self.category is Category.TEXT_GENERATION
        found = self._statistics.get(grouped)  # made with the snapshot: no lock (another build may hold it)
        if found is not None:
            return found
        with self._lock:
            found = self._statistics.get(grouped)
            if found is None:
                items = self.documents()
                documents = group_text_documents(items) if grouped else [d for _, d in items]
                # stamped with the data's time when known: every process holding this version gives the same bytes
                stamp = self.last_updated if self.last_updated is not None else time.time()
                found = compute_statistics(self.category, documents, int(stamp))
                self._statistics[grouped] = found
            return found


def build_snapshot(category: Category, data: CategoryData, encode: Callable[[bytes], B]) -> Snapshot[B]:
    """Parse, index and encode one category."""
    hits: list[Hit] = []
    bodies: dict[str, B] = {}
    parts: list[tuple[str, bytes]] = []
    for item in data.records:
        try:
            record = parse_record(category, item.document)
        except ValidationError as error:
            where = f"{category.value}/{shown(item.name)!r}"
            raise InvalidRecord(f"stored record {where} cannot be read: {describe_validation_error(error)}") from None
        hits.append(Hit.of(item.name, record, item.document))
        body = orjson.dumps(item.document)
        bodies[item.name] = encode(body)
        parts.append((item.name, body))
    v2 = v2_body(parts)
    v1 = None
    if CATEGORY_INFO[category].legacy_file is not None:
        v1 = encode(legacy_file(category, [(h.key, h.record) for h in hits]))
    snapshot = Snapshot(
        category=category,
        version=data.state.version if data.state else 0,
        fingerprint=content_tag(v2),
        state=data.state,
        hits=hits,
        index=SearchIndex(hits),
        records=bodies,
        v2=encode(v2),
        v1=v1,
        encode=encode,
        received=data.received,
    )
    for grouped in (False, True):  # off the request path, like every body
        snapshot.statistics(grouped)
    return snapshot


class CatalogSource(Protocol):
    """Where a catalog's data comes from."""

    @property
    def backend_name(self) -> str: ...

    def versions(self) -> dict[Category, int]: ...

    def load(self, category: Category) -> CategoryData: ...

    def wait_for_change(self, timeout: float, stop: threading.Event) -> None:
        """Return when the data may have changed, after *timeout* seconds, or soon after *stop* is set."""


class Catalog(Generic[B]):
    """The current snapshot of every category, kept in step with the source's versions."""

    def __init__(self, source: CatalogSource, encode: Callable[[bytes], B]) -> None:
        self.source = source
        self.encode = encode
        self.started_at = time.time()
        self._snapshots: Mapping[Category, Snapshot[B]] = {}
        self._refresh_lock = threading.Lock()
        self._hold_lock = threading.Lock()
        self._held = 0
        self._failing: set[Category] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def backend_name(self) -> str:
        return self.source.backend_name

    def get(self, category: Category) -> Snapshot[B]:
        return self._snapshots[category]

    @property
    def snapshots(self) -> Mapping[Category, Snapshot[B]]:
        return self._snapshots

    def refresh(self, only: set[Category] | None = None) -> list[Category]:
        """Rebuild the categories whose version changed (or every one on the first call); return them.

        A category that cannot be rebuilt keeps its last good snapshot (said once in the log) while the
        others move on; on the first call, when there is none yet, the error is raised.
        """
        with self._refresh_lock:
            versions = self.source.versions()
            current = dict(self._snapshots)
            changed = [
                c
                for c in Category
                if (only is None or c in only) and (c not in current or current[c].version != versions.get(c, 0))
            ]
            rebuilt = []
            for category in changed:
                try:
                    current[category] = build_snapshot(category, self.source.load(category), self.encode)
                except ModelRefError as error:
                    if category not in current:
                        raise
                    if category not in self._failing:
                        log.error("%s: serving the last good data: %s", category.value, error.detail)
                        self._failing.add(category)
                    continue
                if category in self._failing:
                    log.info("%s: reloaded again", category.value)
                    self._failing.discard(category)
                rebuilt.append(category)
            if rebuilt:
                self._snapshots = current  # one reference swap: readers see the old set or the new one
            return rebuilt

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold the background refresh while this process writes a burst. The writer refreshes what it
        touched afterwards; the background thread catches up with anything else on its next round (it
        compares versions, so a notification it skipped meanwhile is not lost)."""
        with self._hold_lock:
            self._held += 1
        try:
            yield
        finally:
            with self._hold_lock:
                self._held -= 1

    def start(self, interval: float = 0.5) -> None:
        """Follow the source in a background thread (never on the event loop)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._follow, args=(interval,), name="catalog-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _follow(self, interval: float) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self.source.wait_for_change(interval, self._stop)
                if self._stop.is_set():
                    return
                if self._held:
                    continue  # a write burst of this process is under way: compare versions next round
                changed = self.refresh()
                if changed:
                    log.info("reloaded %s", ", ".join(c.value for c in changed))
                if failures:
                    log.info("catalog source answers again; following it")
                failures = 0
            except Exception as error:  # keep serving the last good snapshots; try again, less and less often
                if not failures:
                    log.warning("catalog refresh failed, serving the last good data: %s", error)
                failures += 1
                self._stop.wait(min(MAX_BACKOFF, interval * 2**failures))
