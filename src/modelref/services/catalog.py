"""The in-memory read model: per category an immutable snapshot of pre-serialized responses.

A read never serializes or validates: it picks bytes from the current snapshot. Snapshots are rebuilt
(off the event loop) only when the category's version changes, and swapped whole.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import brotli
import orjson

from modelref.domain.categories import CATEGORY_INFO, Category
from modelref.domain.groups import with_group_info
from modelref.domain.query import Hit
from modelref.domain.records import parse_record
from modelref.domain.render import legacy_document
from modelref.domain.statistics import compute_statistics, group_text_documents
from modelref.storage.store import CategoryState, Store, StoredRecord

log = logging.getLogger(__name__)

COMPRESS_MIN_BYTES = 1024


class Blob:
    """A response body with its strong ETag; compressed forms are made once, on first request."""

    __slots__ = ("_encoded", "body", "etag")

    def __init__(self, body: bytes, etag: str | None = None) -> None:
        self.body = body
        self.etag = etag or hashlib.blake2b(body, digest_size=12).hexdigest()
        self._encoded: dict[str, bytes] = {}

    @classmethod
    def of(cls, value: Any) -> Blob:
        return cls(orjson.dumps(value))

    def precompress(self) -> Blob:
        """Make both compressed forms now (for large bodies, off the event loop)."""
        if len(self.body) >= COMPRESS_MIN_BYTES:
            self.encoded("gzip")
            self.encoded("br")
        return self

    def encoded(self, encoding: str) -> bytes:
        """The body compressed with ``gzip`` or ``br``."""
        data = self._encoded.get(encoding)
        if data is None:
            if encoding == "br":
                data = brotli.compress(self.body, quality=5)
            else:
                data = gzip.compress(self.body, compresslevel=6, mtime=0)
            self._encoded[encoding] = data
        return data


@dataclass(slots=True)
class Snapshot:
    """One category at one version: records, indexes and every response body already serialized."""

    category: Category
    version: int
    state: CategoryState | None
    hits: list[Hit]
    by_key: dict[str, Hit]
    record_blobs: dict[str, Blob]
    v2: Blob
    v1: Blob | None
    built_at: float
    _lazy: dict[str, Blob] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def last_updated(self) -> float | None:
        return self.state.last_updated if self.state else None

    def lazy(self, name: str, build: Callable[[], Any]) -> Blob:
        """A body derived from this snapshot, built on first use and kept until the snapshot is replaced."""
        blob = self._lazy.get(name)
        if blob is None:
            with self._lock:
                blob = self._lazy.get(name)
                if blob is None:
                    blob = Blob.of(build()).precompress()
                    self._lazy[name] = blob
        return blob

    def v1_with_groups(self) -> Blob:
        assert self.v1 is not None
        return self.lazy("v1-groups", lambda: with_group_info(orjson.loads(self.v1.body)))  # type: ignore[union-attr]

    def statistics(self, grouped: bool) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            items = [(hit.key, hit.document) for hit in self.hits]
            documents = group_text_documents(items) if grouped else [d for _, d in items]
            return compute_statistics(self.category, documents, int(time.time()))

        return orjson.loads(self.lazy(f"statistics-{grouped}", build).body)  # type: ignore[no-any-return]


def build_snapshot(category: Category, state: CategoryState | None, stored: list[StoredRecord]) -> Snapshot:
    """Parse, index and serialize one category."""
    hits: list[Hit] = []
    record_blobs: dict[str, Blob] = {}
    parts: list[bytes] = []
    for item in stored:
        record = parse_record(category, item.document)
        hits.append(Hit.of(item.name, record, item.document))
        body = orjson.dumps(item.document)
        record_blobs[item.name] = Blob(body)
        parts.append(orjson.dumps(item.name) + b":" + body)
    v1 = None
    if CATEGORY_INFO[category].legacy_file is not None:
        v1 = Blob.of(legacy_document(category, [(h.key, h.record) for h in hits])).precompress()
    return Snapshot(
        category=category,
        version=state.version if state else 0,
        state=state,
        hits=hits,
        by_key={h.key: h for h in hits},
        record_blobs=record_blobs,
        v2=Blob(b"{" + b",".join(parts) + b"}").precompress(),
        v1=v1,
        built_at=time.time(),
    )


class CatalogSource(Protocol):
    """Where a catalog's data comes from (the store on a PRIMARY)."""

    def versions(self) -> dict[Category, int]: ...

    def load_state(self, category: Category) -> tuple[CategoryState | None, list[StoredRecord]]: ...

    def wait_for_change(self, timeout: float) -> None: ...


class Catalog:
    """The current snapshot of every category, kept in step with the source's versions."""

    def __init__(self, source: CatalogSource, backend_name: str = "database") -> None:
        self.source = source
        self.backend_name = backend_name
        self.started_at = time.time()
        self._snapshots: Mapping[Category, Snapshot] = {}
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def get(self, category: Category) -> Snapshot:
        return self._snapshots[category]

    @property
    def snapshots(self) -> Mapping[Category, Snapshot]:
        return self._snapshots

    def refresh(self, only: Category | None = None) -> list[Category]:
        """Rebuild the categories whose version changed (or every one on the first call); return them."""
        with self._refresh_lock:
            versions = self.source.versions()
            current = dict(self._snapshots)
            changed = [
                c
                for c in Category
                if (only is None or c is only) and (c not in current or current[c].version != versions.get(c, 0))
            ]
            for category in changed:
                state, stored = self.source.load_state(category)
                current[category] = build_snapshot(category, state, stored)
            if changed:
                self._snapshots = current  # one reference swap: readers see the old set or the new one
            return changed

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
        while not self._stop.is_set():
            try:
                self.source.wait_for_change(interval)
                if self._stop.is_set():
                    return
                changed = self.refresh()
                if changed:
                    log.info("reloaded %s", ", ".join(c.value for c in changed))
            except Exception:  # keep serving the last good snapshots; try again next round
                log.exception("catalog refresh failed")
                self._stop.wait(interval)


def store_catalog(store: Store) -> Catalog:
    """A catalog that follows a PRIMARY's store."""
    backend = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(store.dialect, store.dialect)
    return Catalog(store, backend)
