"""A REPLICA's catalog source: the PRIMARY (and its fallbacks) through a ``Mirror``, polled on an interval.

It has the shape of the service's catalog source (``versions``, ``load``, ``wait_for_change``), so a
REPLICA builds the same snapshots as the PRIMARY from the same documents: the same bytes and the same
ETags for the same data.
"""

from __future__ import annotations

import logging
import threading
import time

from modelref.client import remote
from modelref.client.mirror import Mirror
from modelref.client.remote import Source, SourceFailed
from modelref.domain.categories import Category
from modelref.domain.info import ReplicaCategoryStatus, ReplicaStatus
from modelref.domain.stored import CategoryData, CategoryState, StoredRecord
from modelref.domain.textstructure import TextStructure
from modelref.errors import NotReplicated, Unavailable

log = logging.getLogger(__name__)


RANK = (Source.PRIMARY, Source.PRIMARY_V1, Source.GITHUB, Source.DISK)
"""Sources from the best to the weakest."""


class Replica:
    """Follows the sources through *mirror*, polling every *interval* seconds."""

    backend_name = "replica"

    def __init__(self, mirror: Mirror, interval: float) -> None:
        self.mirror = mirror
        self.interval = interval
        self._versions: dict[Category, int] = {}
        self._tags: dict[Category, tuple[str, float | None]] = {}
        self._received_at: dict[Category, float] = {}
        self._next_poll = 0.0
        self._last_poll: float | None = None
        self._structure: tuple[TextStructure, str | None] | None = None
        """The PRIMARY's text-group structure and its tag (None: not received yet)."""
        self._structure_at: float | None = None
        """When the structure held was last received or confirmed (None: never)."""
        self._lock = threading.Lock()

    def start(self, wait: float) -> None:
        """Hold every category: from disk at once (then asked again), else from the sources, tried for up to
        *wait* seconds; the text groups' structure likewise. With nothing from anywhere, raise Unavailable (the
        service does not start)."""
        deadline = time.monotonic() + wait
        loaded = self.mirror.load_disk()
        if loaded:
            log.info("starting from the copy on disk (%d categories)", len(loaded))
        self._load_structure_from_disk()
        self.poll()
        missing = self.mirror.fill(Category, wait)
        self._note()
        if len(missing) == len(Category):
            where = self.mirror.origins.primary_url or "the GitHub files"
            cache = f" and there is no copy in {self.mirror.cache.directory}" if self.mirror.cache else ""
            raise Unavailable(
                f"no source answered within {wait:g} s{cache} (last error: {self.mirror.last_error}); "
                f"check that {where} answers, or HORDE_MODEL_REFERENCE_PRIMARY_API_URL"
            )
        self._await_structure(deadline)
        if missing:
            log.warning("started without %s: reads of them answer 503 until a source answers", ", ".join(missing))

    def poll(self) -> list[Category]:
        """Sync with the sources now; return the categories whose content changed."""
        with self._lock:
            started = self.mirror.clock()
            self.mirror.sync()
            if not self._primary_silent_since(started):  # a PRIMARY that is down costs one timeout, not two
                self._sync_structure()
            self._last_poll = time.time()
            self._next_poll = time.monotonic() + self.interval
            return self._note()

    def _note(self) -> list[Category]:
        """Give a new version to each category whose copy changed (content, or when it last changed)."""
        changed = []
        for category, copy in dict(self.mirror.copies).items():
            seen = (copy.tag, copy.last_updated)  # the same content from another source: a new Last-Modified
            if self._tags.get(category) != seen:
                self._tags[category] = seen
                self._versions[category] = self._versions.get(category, 0) + 1
                self._received_at[category] = time.time()
                changed.append(category)
        return changed

    def _load_structure_from_disk(self) -> None:
        """Hold the structure on disk, as of its file's mtime (when the PRIMARY last sent or confirmed it)."""
        cache = self.mirror.cache
        if cache is None or (held := cache.read_structure()) is None:
            return
        self._structure = held
        try:
            self._structure_at = cache.structure_path.stat().st_mtime
        except OSError:
            self._structure_at = None

    def _primary_silent_since(self, started: float) -> bool:
        """Whether the PRIMARY confirmed no category since *started* (the mirror's clock): it did not answer the
        mirror's sync at all, or nothing it said could be used. The mirror notes per category what last
        confirmed the copy and when, not why a source failed."""
        if self.mirror.origins.primary_url is None:
            return False
        held = self.mirror.status()
        elapsed = self.mirror.clock() - started  # after status(): an age measured then is no larger
        return not any(s.source in (Source.PRIMARY, Source.PRIMARY_V1) and s.age <= elapsed for s in held.values())

    def _await_structure(self, deadline: float) -> None:
        """Ask for the structure until it arrives or *deadline* (``time.monotonic()``) passes, as the mirror's
        ``fill`` does for the categories: a PRIMARY up a moment late does not leave the toolkit at 503 for a
        whole interval."""
        delay = 0.25
        while self._structure is None and not self.mirror.origins.offline and time.monotonic() + delay <= deadline:
            time.sleep(delay)
            with self._lock:
                self._sync_structure()
            delay = min(delay * 2, 5.0)

    def _sync_structure(self) -> None:
        """Bring the text-group structure in step with the PRIMARY (one conditional request); a failure keeps
        the structure held (said in the log). Without a PRIMARY there is none to follow: it is empty."""
        origins = self.mirror.origins
        if origins.primary_url is None:
            self._structure = (TextStructure(), None)
            return
        if origins.offline:
            return
        held = self._structure
        try:
            got = remote.fetch_structure(self.mirror.http, origins.primary_url, None if held is None else held[1])
        except SourceFailed as error:
            log.warning("the text-group structure was not received: %s", error)
            return
        self._structure_at = time.time()
        if not isinstance(got, tuple):  # NOT_MODIFIED: the structure held is the PRIMARY's
            if self.mirror.cache is not None:  # its file's mtime is its age after a restart
                self.mirror.cache.confirm_structure(self._structure_at)
            return
        if held is None or held[0] != got[0]:
            log.info(
                "received the text-group structure (%d aliased groups, %d families, %d naming schemas)",
                len(got[0].aliases),
                len(got[0].families),
                len(got[0].schemas),
            )
        self._structure = got
        if self.mirror.cache is not None:
            self.mirror.cache.write_structure(*got)

    def structure(self) -> TextStructure:
        """The PRIMARY's aliases, families and custom naming schemas, as last received."""
        held = self._structure
        if held is None:
            raise NotReplicated(
                "This REPLICA has not received the text groups' aliases, families and naming schemas from its "
                "PRIMARY yet; try again shortly.",
                retry_after=self.interval,
            )
        return held[0]

    # -- the catalog source ---------------------------------------------------------------------------

    def versions(self) -> dict[Category, int]:
        return dict(self._versions)

    def load(self, category: Category) -> CategoryData:
        copy = self.mirror.held(category)
        if copy is None:
            return CategoryData(state=None, received=False)
        received = self._received_at.get(category, time.time())
        state = CategoryState(
            version=self._versions.get(category, 0),
            last_updated=copy.last_updated if copy.last_updated is not None else received,
            initialized_at=received,
            count=len(copy.documents),
        )
        return CategoryData(state, [StoredRecord(name, document) for name, document in copy.documents.items()])

    def wait_for_change(self, timeout: float, stop: threading.Event | None = None) -> None:
        """Wait until the next poll is due (at most *timeout*, or until *stop* is set), then poll."""
        remaining = self._next_poll - time.monotonic()
        if remaining > 0:
            if stop is None:
                time.sleep(min(timeout, remaining))
            else:
                stop.wait(min(timeout, remaining))
            return
        changed = self.poll()
        if changed:
            log.info("received %s", ", ".join(c.value for c in changed))

    def status(self) -> ReplicaStatus:
        """For ``/api/heartbeat``: the source in use, the age of the data, the last error."""
        now = time.time()
        held = self.mirror.status()
        sources = {status.source for status in held.values()}
        error_at = self.mirror.last_error_at
        return ReplicaStatus(
            primary_api_url=self.mirror.origins.primary_url,
            source=max(sources, key=RANK.index).value if sources else "none",
            data_age_seconds=round(max(s.age for s in held.values()), 3) if held else None,
            last_poll_age_seconds=None if self._last_poll is None else round(now - self._last_poll, 3),
            last_error=self.mirror.last_error,
            last_error_age_seconds=None if error_at is None else round(now - error_at, 3),
            structure_age_seconds=None if self._structure_at is None else round(max(0.0, now - self._structure_at), 3),
            missing=[c for c in Category if c not in held],
            categories={
                category: ReplicaCategoryStatus(source=s.source.value, age_seconds=round(s.age, 3), records=s.count)
                for category, s in held.items()
            },
        )

    def close(self) -> None:
        self.mirror.close()
