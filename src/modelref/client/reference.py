"""``ModelReference``: the library's entry point — typed records of every category, from a PRIMARY.

As explicit as an ``httpx.Client``: every argument is optional, and what is not given comes from the
same ``HORDE_MODEL_REFERENCE_*`` variables the service reads, read when the object is built (never at
import). Nothing is fetched until a category is asked for.

    from modelref import Category, ModelReference

    with ModelReference() as reference:
        models = reference.get_category(Category.IMAGE_GENERATION)
        sdxl = reference.query("image_generation", baseline="stable_diffusion_xl", sort_by="name")
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import platformdirs
from pydantic import ValidationError

from modelref.client.cache import DiskCache
from modelref.client.mirror import Mirror, Origins, Status
from modelref.client.remote import Copy
from modelref.client.sources import GithubLayout
from modelref.domain.categories import Category
from modelref.domain.inputs import shown
from modelref.domain.query import Hit, SearchIndex, SearchParams
from modelref.domain.records import RecordBase
from modelref.errors import InvalidQuery, NotFound, Unavailable

ENV = "HORDE_MODEL_REFERENCE_"
DEFAULT_PRIMARY = "https://models.aihorde.net/api"
DEFAULT_TTL = 60.0
DEFAULT_TIMEOUT = 10.0
DEFAULT_STARTUP_WAIT = 5.0


def _env(name: str) -> str | None:
    value = os.environ.get(ENV + name)
    return value if value is not None and value.strip() != "" else None


def _env_float(name: str, default: float) -> float:
    value = _env(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{ENV}{name}={shown(value)!r} is not a number of seconds") from None
    if not 0 <= number < 1e9:
        raise ValueError(f"{ENV}{name}={value} is out of range (0 to 1e9 seconds)")
    return number


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{ENV}{name}={shown(value)!r} is not a boolean (true or false)")


def _category(category: Category | str) -> Category:
    """The public edge: a Category or its name."""
    try:
        return Category(category)
    except ValueError:
        names = ", ".join(c.value for c in Category)
        raise NotFound(f"Model category '{shown(str(category))}' not found (known: {names})") from None


class ModelReference:
    """Typed records of every category, read from a PRIMARY with conditional requests and a disk copy.

    *base_url*: the PRIMARY's API (with ``/api``; ``HORDE_MODEL_REFERENCE_PRIMARY_API_URL``, default the
    public service); an empty string: no PRIMARY. *cache_dir*: where the last good copy lives
    (``..._CACHE_DIR``; default the user cache directory), shared safely by several processes. *ttl*:
    seconds a copy is used before the source is asked again (``..._CACHE_TTL_SECONDS``, 60). *offline*:
    never fetch, read the disk copy only (``..._OFFLINE``). *timeout*: seconds per request
    (``..._PRIMARY_API_TIMEOUT``, 10). *github*: fall back to the legacy GitHub files
    (``..._ENABLE_GITHUB_FALLBACK``, on), or where they are. *startup_wait*: with no copy anywhere, how
    long to keep trying the sources before giving up (``..._STARTUP_WAIT``, 5).
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        cache_dir: Path | str | None = None,
        ttl: float | None = None,
        offline: bool | None = None,
        timeout: float | None = None,
        github: bool | GithubLayout | None = None,
        startup_wait: float | None = None,
    ) -> None:
        primary = base_url if base_url is not None else (_env("PRIMARY_API_URL") or DEFAULT_PRIMARY)
        if github is None:
            github = _env_bool("ENABLE_GITHUB_FALLBACK", True)
        if github is True:
            template = _env("GITHUB__RAW_URL_TEMPLATE")
            github = GithubLayout(raw_url_template=template) if template else GithubLayout()
        directory = cache_dir if cache_dir is not None else _env("CACHE_DIR")
        self.cache_dir = Path(directory or platformdirs.user_cache_dir("modelref")).expanduser()
        self.ttl = ttl if ttl is not None else _env_float("CACHE_TTL_SECONDS", DEFAULT_TTL)
        self.startup_wait = (
            startup_wait if startup_wait is not None else _env_float("STARTUP_WAIT", DEFAULT_STARTUP_WAIT)
        )
        origins = Origins(
            primary_url=primary.rstrip("/") or None,
            github=github or None,
            timeout=timeout if timeout is not None else _env_float("PRIMARY_API_TIMEOUT", DEFAULT_TIMEOUT),
            offline=offline if offline is not None else _env_bool("OFFLINE", False),
        )
        self.mirror = Mirror(origins, DiskCache(self.cache_dir, origins.name))
        self._indexes: dict[Category, tuple[str, SearchIndex]] = {}

    @property
    def base_url(self) -> str | None:
        return self.mirror.origins.primary_url

    def close(self) -> None:
        self.mirror.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def get_category(self, category: Category | str) -> dict[str, RecordBase]:
        """Every record of *category*, by name (empty when the category holds none)."""
        return dict(self._copy(_category(category)).records)

    def get_model(self, category: Category | str, name: str) -> RecordBase:
        """One record; NotFound when *category* has no record called *name*."""
        parsed = _category(category)
        found = self._copy(parsed).records.get(name)
        if found is None:
            raise NotFound(f"Model '{shown(name)}' not found in category '{parsed.value}'")
        return found

    def query(
        self, category: Category | str, *, limit: int | None = None, offset: int = 0, **filters: Any
    ) -> list[RecordBase]:
        """The records of *category* matching the filters of ``/search`` (``baseline``, ``nsfw``,
        ``tags_any``, ``name_contains``, ``sort_by``, …), in its order; every match unless *limit* is given.
        An unknown filter or sort field raises InvalidQuery."""
        parsed = _category(category)
        copy = self._copy(parsed)
        try:
            params = SearchParams.model_validate(filters)
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            raise InvalidQuery(f"invalid query: {problems}") from None
        if (limit is not None and limit < 1) or offset < 0:
            raise InvalidQuery("limit must be at least 1 and offset at least 0")
        query = dataclasses.replace(params.to_query(), limit=limit or max(1, len(copy.records)), offset=offset)
        page = self._index(parsed).search(query, parsed)
        return [hit.record for hit in page.hits]

    def last_updated(self) -> dict[Category, float | None]:
        """When each category held last changed, as its source says (None: the source does not say)."""
        return {category: copy.last_updated for category, copy in self.mirror.copies.items()}

    def refresh(self, categories: Iterable[Category | str] | None = None) -> list[Category]:
        """Ask the sources for every category (or those given) now; return the ones that changed.

        One conditional request tells whether anything changed when every category is held; only the
        changed categories are fetched again.
        """
        wanted = list(Category) if categories is None else [_category(c) for c in categories]
        self.mirror.load_disk(wanted)
        held = [c for c in wanted if self.mirror.held(c) is not None]
        fetched = [c for c in wanted if c not in held]
        missing = self.mirror.fill(fetched, self.startup_wait)
        if missing:
            raise Unavailable(next(iter(missing.values())))
        return fetched + self.mirror.sync(held)

    def status(self) -> Mapping[Category, Status]:
        """Per category held: the source serving it, its age, its record count."""
        return self.mirror.status()

    def _copy(self, category: Category) -> Copy:
        return self.mirror.current(category, self.ttl, wait=self.startup_wait)

    def _index(self, category: Category) -> SearchIndex:
        copy = self._copy(category)
        cached = self._indexes.get(category)
        if cached is None or cached[0] != copy.tag:
            hits = [Hit.of(name, record, copy.documents[name]) for name, record in copy.records.items()]
            cached = self._indexes[category] = (copy.tag, SearchIndex(hits))
        return cached[1]
