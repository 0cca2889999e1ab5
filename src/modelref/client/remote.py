"""Fetch one category from a source over HTTP: the PRIMARY's v2 or v1 API, or the legacy GitHub files.

Every answer is sorted into one of three kinds: a complete, valid copy (or "not modified"); an
authoritative error, raised as the project's typed exception (the service's ``X-Error-Code`` maps back
to its class); or a transient failure (``SourceFailed``: connect error, timeout, 5xx, a truncated or
invalid body), which sends the caller on to the next source.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, TypeVar

import httpx
import orjson
from pydantic import BaseModel, ValidationError

from modelref.client.sources import GithubLayout
from modelref.domain.bundle import read_bundle
from modelref.domain.categories import CATEGORY_INFO, Category
from modelref.domain.inputs import shown
from modelref.domain.legacy import describe_validation_error
from modelref.domain.records import RecordBase, parse_record
from modelref.domain.tags import bare_tag, content_tag, v2_body
from modelref.domain.textstructure import (
    GroupAliasListResponse,
    GroupFamilyListResponse,
    TextStructure,
    TextStructureDocument,
)
from modelref.errors import EmptyCategory, InvalidRecord, InvalidSource, error_class

V2 = "/model_references/v2"
V1 = "/model_references/v1"
M = TypeVar("M", bound=BaseModel)


class Source(StrEnum):
    """Where a copy of a category came from, best first."""

    PRIMARY = "primary"
    """The PRIMARY's v2 API."""
    PRIMARY_V1 = "primary-v1"
    """The PRIMARY's v1 (legacy) API, converted."""
    GITHUB = "github"
    """The legacy GitHub repositories' raw files, converted."""
    DISK = "disk"
    """The last good copy on disk."""


class SourceFailed(Exception):
    """A source could not give a usable answer now; try the next one. ``unreachable``: it did not answer at
    all (connect error, timeout, a dropped connection), so asking it about another category now is futile."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


@dataclass(frozen=True, slots=True)
class Copy:
    """One complete, valid copy of a category: its records as the v2 API serves them."""

    category: Category
    documents: dict[str, dict[str, Any]]
    """Name → v2 document, in the source's order."""
    records: dict[str, RecordBase]
    body: bytes
    """The v2 body the service serves for these documents (byte for byte)."""
    tag: str
    """The body's content tag: the PRIMARY's ETag for it."""
    source: Source
    source_tag: str | None
    """The ETag the source gave (sent back as If-None-Match to the same source)."""
    last_updated: float | None
    """When the data last changed, as the source says (``Last-Modified``)."""

    @classmethod
    def of(
        cls,
        category: Category,
        documents: dict[str, dict[str, Any]],
        source: Source,
        *,
        source_tag: str | None = None,
        last_updated: float | None = None,
    ) -> Copy:
        """Validate *documents* as records of *category* (all of them, or InvalidRecord)."""
        records: dict[str, RecordBase] = {}
        parts: list[tuple[str, bytes]] = []
        for name, document in documents.items():
            if not isinstance(document, dict):
                raise InvalidRecord(f"{category.value}/{shown(name)!r}: a record must be a JSON object")
            try:
                records[name] = parse_record(category, document)
            except ValidationError as error:
                raise InvalidRecord(f"{category.value}/{shown(name)!r}: {describe_validation_error(error)}") from None
            parts.append((name, orjson.dumps(document)))
        body = v2_body(parts)
        return cls(category, documents, records, body, content_tag(body), source, source_tag, last_updated)


NOT_MODIFIED = "not-modified"
"""What a conditional fetch returns when the source confirms the copy held."""


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _raise_authoritative(response: httpx.Response, what: str) -> None:
    """Raise the typed error a 4xx with an ``X-Error-Code`` stands for (other answers are left to the caller)."""
    code = response.headers.get("x-error-code")
    if code is None or not 400 <= response.status_code < 500:
        return
    kind = error_class(code)
    if kind is None:
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    message = detail if isinstance(detail, str) else f"{what}: HTTP {response.status_code} ({code})"
    raise kind(message)


def _get(client: httpx.Client, url: str, etag: str | None) -> httpx.Response:
    headers = {"If-None-Match": f'"{etag}"'} if etag else {}
    try:
        response = client.get(url, headers=headers)
    except httpx.HTTPError as error:  # connect error, timeout, a connection dropped mid-body
        raise SourceFailed(f"{url}: {type(error).__name__}: {error}", unreachable=True) from None
    if response.status_code >= 500:
        raise SourceFailed(f"{url}: HTTP {response.status_code}")
    return response


def _json_object(response: httpx.Response, url: str) -> dict[str, Any]:
    try:
        document = orjson.loads(response.content)
    except orjson.JSONDecodeError as error:
        raise SourceFailed(f"{url}: not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise SourceFailed(f"{url}: not a JSON object of records")
    return document


def _etag(response: httpx.Response) -> str | None:
    value: str | None = response.headers.get("etag")
    if not value:
        return None
    return bare_tag(value)


def _primary_answer(
    client: httpx.Client, url: str, category: Category, source: Source, etag: str | None
) -> httpx.Response | Copy | str:
    """A PRIMARY's answer about a category: NOT_MODIFIED, an empty copy (404 ``category_empty``), or its 200
    response to read; an authoritative error is raised, any other answer is a failed source."""
    response = _get(client, url, etag)
    if response.status_code == 304 and etag:
        return NOT_MODIFIED
    if response.status_code == 404 and response.headers.get("x-error-code") == EmptyCategory.code:
        return Copy.of(category, {}, source, last_updated=_http_date(response.headers.get("last-modified")))
    _raise_authoritative(response, url)
    if response.status_code != 200:
        raise SourceFailed(f"{url}: HTTP {response.status_code}")
    return response


def fetch_v2(client: httpx.Client, base_url: str, category: Category, etag: str | None) -> Copy | str:
    """The PRIMARY's v2 category (NOT_MODIFIED when *etag* still holds)."""
    url = f"{base_url}{V2}/{category.value}"
    response = _primary_answer(client, url, category, Source.PRIMARY, etag)
    if not isinstance(response, httpx.Response):
        return response
    documents = _json_object(response, url)
    try:
        return Copy.of(
            category,
            documents,
            Source.PRIMARY,
            source_tag=_etag(response),
            last_updated=_http_date(response.headers.get("last-modified")),
        )
    except InvalidRecord as error:
        raise SourceFailed(f"{url}: {error.detail}") from None


def has_legacy_source(category: Category) -> bool:
    """Whether the legacy files (v1, GitHub) hold this category (LoRAs and TIs are managed elsewhere)."""
    info = CATEGORY_INFO[category]
    return info.legacy_file is not None and not info.managed_elsewhere


def _converted(category: Category, file_name: str, data: bytes, source: Source, url: str, tag: str | None) -> Copy:
    try:
        bundle = read_bundle({file_name: data})
        pairs = bundle.categories.get(category, [])
        return Copy.of(category, {key: record.to_document() for key, record in pairs}, source, source_tag=tag)
    except (InvalidSource, InvalidRecord) as error:
        raise SourceFailed(f"{url}: {error.detail}") from None


def fetch_v1(client: httpx.Client, base_url: str, category: Category, etag: str | None) -> Copy | str:
    """The PRIMARY's v1 category, converted to v2 records."""
    url = f"{base_url}{V1}/{category.value}"
    response = _primary_answer(client, url, category, Source.PRIMARY_V1, etag)
    if not isinstance(response, httpx.Response):
        return response
    file_name = "db.json" if category is Category.TEXT_GENERATION else CATEGORY_INFO[category].legacy_file
    assert file_name is not None
    return _converted(category, file_name, response.content, Source.PRIMARY_V1, url, _etag(response))


def fetch_github(client: httpx.Client, layout: GithubLayout, category: Category, etag: str | None) -> Copy | str:
    """The legacy repository's raw file of a category (text: ``models.csv``), converted to v2 records."""
    file_name = "models.csv" if category is Category.TEXT_GENERATION else CATEGORY_INFO[category].legacy_file
    assert file_name is not None
    url = layout.urls()[file_name]
    response = _get(client, url, etag)
    if response.status_code == 304 and etag:
        return NOT_MODIFIED
    if response.status_code != 200:
        raise SourceFailed(f"{url}: HTTP {response.status_code}")
    return _converted(category, file_name, response.content, Source.GITHUB, url, _etag(response))


def poll(client: httpx.Client, base_url: str, catalog_tag: str) -> bool:
    """Whether the PRIMARY's catalog differs from the one tagged *catalog_tag* (one conditional request on
    ``metadata/last_updated``; True when the PRIMARY cannot say, so the caller checks each category)."""
    url = f"{base_url}{V2}/metadata/last_updated"
    try:
        response = client.get(url, headers={"If-None-Match": f'"{catalog_tag}"'})
    except httpx.HTTPError:
        return True
    return response.status_code != 304


def fetch_structure(client: httpx.Client, base_url: str, etag: str | None) -> tuple[TextStructure, str | None] | str:
    """The PRIMARY's text-group structure (aliases, families, custom naming schemas) and its tag, or
    NOT_MODIFIED when *etag* still holds. A PRIMARY without the structure route (the existing service)
    gives its alias and family lists instead (it has no route listing its naming schemas). An answer that is
    not a whole structure keeping the rules of DATA.md §16 is a failed source: the structure held stays."""
    url = f"{base_url}{V2}/text_generation/structure"
    response = _get(client, url, etag)
    if response.status_code == 304 and etag:
        return NOT_MODIFIED
    if response.status_code == 200:
        return _validated(TextStructureDocument, response, url).structure(), _etag(response)
    if response.status_code not in (404, 405, 422):
        raise SourceFailed(f"{url}: HTTP {response.status_code}")
    aliases_url, families_url = f"{base_url}{V2}/text_generation/aliases", f"{base_url}{V2}/text_generation/families"
    aliases = _validated(GroupAliasListResponse, _ok(_get(client, aliases_url, None), aliases_url), aliases_url)
    families = _validated(GroupFamilyListResponse, _ok(_get(client, families_url, None), families_url), families_url)
    by_canonical = {entry.canonical: entry.aliases for entry in aliases.entries}
    by_family = {family.family_name: family.members for family in families.families}
    if len(by_canonical) < len(aliases.entries) or len(by_family) < len(families.families):
        raise SourceFailed(f"{aliases_url}, {families_url}: an entry is listed twice")
    try:
        document = TextStructureDocument(aliases=by_canonical, families=by_family, schemas={})
    except ValidationError as error:
        raise SourceFailed(f"{aliases_url}, {families_url}: {_first_problem(error)}") from None
    return document.structure(), None


def _ok(response: httpx.Response, url: str) -> httpx.Response:
    if response.status_code != 200:
        raise SourceFailed(f"{url}: HTTP {response.status_code}")
    return response


def _validated(model: type[M], response: httpx.Response, url: str) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as error:
        raise SourceFailed(f"{url}: not the documented answer ({_first_problem(error)})") from None


def _first_problem(error: ValidationError) -> str:
    """The first problem and how many there are (a large wrong answer has thousands)."""
    first = error.errors()[0]
    where = ".".join(shown(str(p)) for p in first["loc"]) or "the answer"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"
