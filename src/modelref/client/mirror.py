"""The last good copy of every category, kept in step with its sources; shared by the library and REPLICAs.

Sources are tried in order — the PRIMARY's v2 API (conditional), its v1 API, the legacy GitHub files —
and then the copy on disk. A category is replaced only by a complete, valid copy, and a copy with
records is replaced by an empty one, or by one with less than half its records, only when two
consecutive fetches agree (a PRIMARY that suddenly answers empty must not make workers drop models).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import httpx

from modelref.client import remote
from modelref.client.cache import DiskCache
from modelref.client.remote import NOT_MODIFIED, Copy, Source, SourceFailed
from modelref.client.sources import GithubLayout
from modelref.domain.categories import Category
from modelref.domain.tags import catalog_tag
from modelref.errors import ModelRefError, Unavailable

log = logging.getLogger(__name__)

USER_AGENT = "modelref-client"
KEEPALIVE = 70.0
"""Seconds an idle connection to a source is kept: longer than the usual poll interval (60 s), shorter than
the service's keep-alive (75 s), so a REPLICA's poll reuses its connection and never races its closing."""


@dataclass(frozen=True, slots=True)
class Origins:
    """Where a mirror may fetch from."""

    primary_url: str | None
    """The PRIMARY's API base (with ``/api``); None: no PRIMARY."""
    github: GithubLayout | None
    """The legacy GitHub files; None: no GitHub fallback."""
    timeout: float = 10.0
    """Seconds for each request (connect, read, write, pool)."""
    offline: bool = False
    """Never fetch: the copy on disk only."""

    @property
    def name(self) -> str:
        """What a copy on disk is a copy of: the PRIMARY (its fallbacks serve the same reference), or
        without one the GitHub files."""
        if self.primary_url:
            return self.primary_url.rstrip("/")
        return "github:" + self.github.model_dump_json() if self.github else "none"


@dataclass(frozen=True, slots=True)
class Status:
    """What a mirror serves for one category, and how it stands with its sources."""

    source: Source
    """Where the copy served came from (``disk``: no source has answered since this process started)."""
    age: float
    """Seconds since a source last confirmed the copy."""
    count: int
    last_updated: float | None


class Mirror:
    """Per category the last good copy, the time a source last confirmed it, and the shrink guard."""

    def __init__(self, origins: Origins, cache: DiskCache | None, *, clock: Callable[[], float] = time.time) -> None:
        self.origins = origins
        self.cache = cache
        self.clock = clock
        self._http: httpx.Client | None = None
        self._copies: dict[Category, Copy] = {}
        self._confirmed: dict[Category, float] = {}
        self._serving: dict[Category, Source] = {}
        self._suspect: dict[Category, str] = {}
        self._asked: dict[Category, float] = {}
        """When the sources were last asked about each category (whatever they answered)."""
        self._lock = threading.RLock()
        self.last_error: str | None = None
        self.last_error_at: float | None = None

    @property
    def http(self) -> httpx.Client:
        """The HTTP client, made on first use (its TLS setup costs tens of milliseconds: an offline reader
        or a start from disk never pays it)."""
        if self._http is None:
            self._http = httpx.Client(
                timeout=httpx.Timeout(self.origins.timeout),
                # A poller asks once a minute: keep its connection that long (the service keeps it 75 s).
                limits=httpx.Limits(keepalive_expiry=KEEPALIVE),
                follow_redirects=True,
                headers={"User-Agent": USER_AGENT},
            )
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    # -- what is held ---------------------------------------------------------------------------------

    def held(self, category: Category) -> Copy | None:
        return self._copies.get(category)

    @property
    def copies(self) -> Mapping[Category, Copy]:
        return self._copies

    def age(self, category: Category) -> float | None:
        """Seconds since a source last confirmed the held copy (None: nothing held)."""
        confirmed = self._confirmed.get(category)
        return None if confirmed is None else max(0.0, self.clock() - confirmed)

    def status(self) -> dict[Category, Status]:
        """Per category held: its source, age and size (safe to call while another thread syncs)."""
        copies, serving = dict(self._copies), dict(self._serving)
        return {
            category: Status(
                serving.get(category, Source.DISK), self.age(category) or 0.0, len(copy.records), copy.last_updated
            )
            for category, copy in copies.items()
        }

    # -- getting copies -------------------------------------------------------------------------------

    def current(self, category: Category, max_age: float, wait: float = 0.0) -> Copy:
        """The category; the sources are asked again when they were last asked *max_age* seconds ago or
        more (whatever they answered then: a source that is down is not asked on every call), unless a
        copy on disk that another process fetched is fresher. With nothing held, sources are tried for up
        to *wait* seconds before Unavailable is raised."""
        with self._lock:
            asked = self._asked.get(category)
            if category in self._copies and asked is not None and self.clock() - asked < max_age:
                return self._copies[category]
            if self._fresh_on_disk(category, max_age):
                return self._copies[category]
            self.load_disk([category])  # the disk copy first, however old: the guard and If-None-Match need it
            if category in self._copies:
                self.update(category)
            elif missing := self.fill([category], wait):
                raise Unavailable(missing[category])
            return self._copies[category]

    def load_disk(self, categories: Iterable[Category] = Category) -> list[Category]:
        """Hold the copy on disk of each category that holds nothing yet; return those loaded."""
        loaded = []
        with self._lock:
            for category in categories:
                if category in self._copies or self.cache is None:
                    continue
                copy = self.cache.read(category)
                if copy is not None:
                    self._hold(copy, Source.DISK, self.clock() - (self.cache.age(category) or 0.0))
                    loaded.append(category)
        return loaded

    def update(self, category: Category, *, skip: dict[Source, str] | None = None) -> bool:
        """Ask the sources for *category* once; return whether the copy held changed.

        When every source fails, the copy held (or else the one on disk) is kept; with none at all,
        Unavailable is raised. An authoritative answer (a 4xx with an ``X-Error-Code``) is raised as its
        typed error. Sources in *skip* are not asked, and a source that does not answer at all is added to
        it (a round over several categories asks an unreachable PRIMARY once, not once per category).
        """
        with self._lock:
            failures: list[str] = []
            try:
                changed = self._fetch(category, failures, {} if skip is None else skip)
            finally:
                self._asked[category] = self.clock()  # an authoritative error is an answer too
            if changed is not None:
                return changed
            if category in self._copies:
                if not self.origins.offline:  # offline, the copy held is all there is by design
                    self._failed(f"{category.value}: {'; '.join(failures)}")
                return False
            if self.load_disk([category]):
                if not self.origins.offline:
                    self._failed(f"{category.value}: {'; '.join(failures)}")
                    log.warning("%s: no source answered; serving the copy on disk", category.value)
                return True
            self.last_error = f"{category.value}: {'; '.join(failures)}"  # raised, not logged
            self.last_error_at = self.clock()
            where = f" and there is no copy in {self.cache.directory}" if self.cache else ""
            if self.origins.offline:
                raise Unavailable(f"{category.value}: offline{where}")
            raise Unavailable(f"{category.value}: no source answered ({'; '.join(failures)}){where}")

    def fill(self, categories: Iterable[Category], wait: float) -> dict[Category, str]:
        """Hold a copy of each of *categories*: from disk, else from the sources, which are tried in rounds
        for up to *wait* seconds in all (offline: once). Returns those still held nowhere, with why."""
        wanted = list(categories)
        self.load_disk(wanted)
        deadline = self.clock() + wait
        delay = 0.25
        while True:
            missing: dict[Category, str] = {}
            skip: dict[Source, str] = {}
            for category in [c for c in wanted if c not in self._copies]:
                try:
                    self.update(category, skip=skip)
                except Unavailable as error:
                    missing[category] = error.detail
            if not missing or self.origins.offline or self.clock() + delay > deadline:
                return missing
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def sync(self, categories: Iterable[Category] = Category) -> list[Category]:
        """Bring every category in step (one conditional poll first when the PRIMARY can answer it);
        return those that changed. A category whose sources all fail keeps its copy (said in the log)."""
        wanted = list(categories)
        if not wanted:
            return []
        with self._lock:
            if self._poll_says_unchanged():
                now = self.clock()
                for category in wanted:
                    self._asked[category] = now
                    self._confirm(category, now)
                return []
            changed = []
            skip: dict[Source, str] = {}
            for category in wanted:
                try:
                    if self.update(category, skip=skip):
                        changed.append(category)
                except ModelRefError as error:
                    self._failed(error.detail)  # the detail names the category
            return changed

    # -- inside ---------------------------------------------------------------------------------------

    def _fresh_on_disk(self, category: Category, max_age: float) -> bool:
        """Take the copy on disk when a source confirmed it within *max_age* (another process fetched it)."""
        if self.cache is None:
            return False
        disk_age = self.cache.age(category)
        held_age = self.age(category)
        if disk_age is None or disk_age >= max_age or (held_age is not None and held_age <= disk_age):
            return False
        copy = self.cache.read(category)
        if copy is None:
            return False
        held = self._copies.get(category)
        when = self.clock() - disk_age  # as fresh as the other process's answer: the file is left as it is
        self._asked[category] = when
        if held is not None and held.tag == copy.tag:
            self._confirmed[category] = when
            return True
        self._hold(copy, copy.source, when, write=False)
        return True

    def _poll_says_unchanged(self) -> bool:
        origins = self.origins
        if origins.offline or origins.primary_url is None or self._suspect:
            return False
        copies = self._copies
        if len(copies) != len(Category) or any(self._serving.get(c) is not Source.PRIMARY for c in Category):
            return False
        tag = catalog_tag(copies[c].tag for c in Category)
        return not remote.poll(self.http, origins.primary_url, tag)

    def _attempts(self, category: Category) -> list[tuple[Source, Callable[[str | None], Copy | str]]]:
        origins = self.origins
        if origins.offline:
            return []
        attempts: list[tuple[Source, Callable[[str | None], Copy | str]]] = []
        if origins.primary_url is not None:
            base = origins.primary_url.rstrip("/")
            attempts.append((Source.PRIMARY, lambda tag: remote.fetch_v2(self.http, base, category, tag)))
            if remote.has_legacy_source(category):
                attempts.append((Source.PRIMARY_V1, lambda tag: remote.fetch_v1(self.http, base, category, tag)))
        if origins.github is not None and remote.has_legacy_source(category):
            layout = origins.github
            attempts.append((Source.GITHUB, lambda tag: remote.fetch_github(self.http, layout, category, tag)))
        return attempts

    def _fetch(self, category: Category, failures: list[str], skip: dict[Source, str]) -> bool | None:
        """Try each source in order: whether the copy held changed, or None when no source answered (each
        failure is added to *failures*)."""
        held = self._copies.get(category)
        for source, attempt in self._attempts(category):
            if source in skip:
                failures.append(skip[source])
                continue
            tag = held.source_tag if held is not None and held.source is source else None
            try:
                answer = attempt(tag)
            except SourceFailed as error:
                failures.append(str(error))
                if error.unreachable:  # the PRIMARY's v1 API is the same server as its v2 API
                    for down in (Source.PRIMARY, Source.PRIMARY_V1) if source is Source.PRIMARY else (source,):
                        skip[down] = f"{down.value} did not answer ({error})"
                continue
            if answer == NOT_MODIFIED:
                assert held is not None
                self._suspect.pop(category, None)
                self._serving[category] = source
                self._confirm(category, self.clock())
                return False
            assert isinstance(answer, Copy)
            return self._accept(answer, held)
        if not failures:
            failures.append("offline" if self.origins.offline else "no source is configured")
        return None

    def _accept(self, copy: Copy, held: Copy | None) -> bool:
        """Hold *copy* unless the shrink guard holds it back; return whether the copy held changed."""
        category = copy.category
        now = self.clock()
        if held is not None and held.tag == copy.tag:
            self._suspect.pop(category, None)
            if held.source is not copy.source or held.source_tag != copy.source_tag:
                self._hold(copy, copy.source, now)
            else:
                self._serving[category] = copy.source
                self._confirm(category, now)
            return False
        before, after = (len(held.records) if held else 0), len(copy.records)
        if before and (after == 0 or after * 2 < before):
            if self._suspect.get(category) != copy.tag:
                self._suspect[category] = copy.tag
                log.warning(
                    "%s: %s answers %d records where %d are held; keeping them until the next fetch agrees",
                    category.value,
                    copy.source.value,
                    after,
                    before,
                )
                return False
            log.warning(
                "%s: %s answered %d records (was %d) twice in a row; replacing",
                category.value,
                copy.source.value,
                after,
                before,
            )
        self._suspect.pop(category, None)
        self._hold(copy, copy.source, now)
        return True

    def _hold(self, copy: Copy, serving: Source, confirmed: float, *, write: bool = True) -> None:
        self._serving[copy.category] = serving
        self._confirmed[copy.category] = confirmed
        self._copies[copy.category] = copy  # last: a reader that sees the copy sees its facts
        if write and serving is not Source.DISK and self.cache is not None:
            self.cache.write(copy)

    def _confirm(self, category: Category, when: float) -> None:
        """A source confirmed the copy held at *when* (the copy on disk says so too, for other processes)."""
        if category in self._copies:
            self._confirmed[category] = when
            if self.cache is not None and self._serving.get(category) is not Source.DISK:
                self.cache.confirm(category, when)

    def _failed(self, message: str) -> None:
        if message != self.last_error:
            log.warning("%s", message)
        self.last_error = message
        self.last_error_at = self.clock()
