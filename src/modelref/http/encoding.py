"""Response bodies for the wire: strong ETags, gzip and brotli, and conditional answers.

``encode`` is handed to the catalog, which runs it when a snapshot is built (off the event loop), so a
read only picks bytes. ``render`` answers a request with a body: 200 or 304, HEAD, Last-Modified,
Cache-Control and the content encoding the client accepts. Pure functions over header values, shared
by the fast path and the FastAPI routes.
"""

from __future__ import annotations

import functools
import gzip
from email.utils import formatdate, parsedate_to_datetime

import brotli

from modelref.domain.tags import ENCODING_SUFFIXES, bare_tag, content_tag

COMPRESS_MIN_BYTES = 1024
"""Smaller bodies are sent as they are: compressing them saves less than it costs."""
CACHE_CONTROL = b"public, no-cache"
"""Caches may keep a copy but revalidate every time: with the ETag that costs a 304."""
JSON = b"application/json"
_SUFFIX = ENCODING_SUFFIXES


def _compress(body: bytes, encoding: str, *, fast: bool = False) -> bytes:
    if encoding == "br":
        return brotli.compress(body, quality=1 if fast else 5)  # type: ignore[no-any-return]
    return gzip.compress(body, compresslevel=1 if fast else 6, mtime=0)


class Blob:
    """A response body with its strong ETag and, for larger bodies, its compressed forms.

    A body made per request (a search answer) is compressed when a client asks, cheaply: that runs on the
    event loop. Bodies that live in a snapshot are compressed well, once, when the snapshot is built.
    """

    __slots__ = ("_encoded", "body", "etag")

    def __init__(self, body: bytes, etag: str, encoded: dict[str, bytes] | None = None) -> None:
        self.body = body
        self.etag = etag
        self._encoded = encoded if encoded is not None else {}

    def encoded(self, encoding: str) -> bytes:
        """The body compressed with ``gzip`` or ``br`` (made now, quickly, if it was not made in advance)."""
        data = self._encoded.get(encoding)
        if data is None:
            data = self._encoded[encoding] = _compress(self.body, encoding, fast=True)
        return data


def encode(body: bytes) -> Blob:
    """A body ready to serve: tagged by its content, compressed now when it is large enough to gain."""
    etag = content_tag(body)
    encodings = {e: _compress(body, e) for e in _SUFFIX} if len(body) >= COMPRESS_MIN_BYTES else {}
    return Blob(body, etag, encodings)


def _accepted_encoding(accept_encoding: str) -> str | None:
    offered: dict[str, float] = {}
    for part in accept_encoding.split(","):
        token, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        offered[token.strip().lower()] = quality
    for encoding in ("br", "gzip"):
        if offered.get(encoding, offered.get("*", 0.0)) > 0:
            return encoding
    return None


def _etag_matches(if_none_match: str, etag: str) -> bool:
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*":
            return True
        if bare_tag(tag) == etag:
            return True
    return False


@functools.lru_cache(maxsize=256)
def _http_date(timestamp: float) -> bytes:
    return formatdate(timestamp, usegmt=True).encode()


@functools.lru_cache(maxsize=64)
def _accepted_cached(accept_encoding: str) -> str | None:
    return _accepted_encoding(accept_encoding)


def _not_modified_since(if_modified_since: str, last_modified: float) -> bool:
    try:
        since = parsedate_to_datetime(if_modified_since).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    return int(last_modified) <= since


def render(
    blob: Blob,
    *,
    head: bool = False,
    accept_encoding: str = "",
    if_none_match: str | None = None,
    if_modified_since: str | None = None,
    last_modified: float | None = None,
    vary: bytes = b"Accept-Encoding",
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) for serving *blob* to a request with these headers."""
    encoding = _accepted_cached(accept_encoding) if accept_encoding and len(blob.body) >= COMPRESS_MIN_BYTES else None
    etag = f'"{blob.etag}{_SUFFIX[encoding] if encoding else ""}"'
    headers = [(b"etag", etag.encode()), (b"cache-control", CACHE_CONTROL), (b"vary", vary)]
    if last_modified is not None:
        headers.append((b"last-modified", _http_date(last_modified)))
    not_modified = (
        _etag_matches(if_none_match, blob.etag)
        if if_none_match is not None
        else (
            if_modified_since is not None
            and last_modified is not None
            and _not_modified_since(if_modified_since, last_modified)
        )
    )
    if not_modified:
        return 304, headers, b""
    body = blob.encoded(encoding) if encoding else blob.body
    headers.append((b"content-type", JSON))
    if encoding:
        headers.append((b"content-encoding", encoding.encode()))
    headers.append((b"content-length", str(len(body)).encode()))
    return 200, headers, b"" if head else body
