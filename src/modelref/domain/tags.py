"""Content tags: the strong ETag of a body, and the tag of a whole catalog.

The service tags every body by its content, and a client computes the same tag from the same bytes, so
a REPLICA serves the PRIMARY's ETags and a poller can ask "has anything changed since what I hold?".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import orjson

ENCODING_SUFFIXES = {"br": "-br", "gzip": "-gz"}
"""What a compressed answer's ETag ends with: the content is the same, the bytes sent are not."""


def v2_body(records: Iterable[tuple[str, bytes]]) -> bytes:
    """The v2 body of a category from its records (name, JSON of the document), in order: the bytes the
    service serves and a REPLICA or the library tags, so every holder of the same data has the same tag."""
    return b"{" + b",".join(orjson.dumps(name) + b":" + document for name, document in records) + b"}"


def bare_tag(etag: str) -> str:
    """The content tag inside an ETag header value (quotes, ``W/`` and an encoding suffix removed)."""
    tag = etag.strip().removeprefix("W/").strip('"')
    for suffix in ENCODING_SUFFIXES.values():
        tag = tag.removesuffix(suffix)
    return tag


def content_tag(body: bytes) -> str:
    """The ETag (unquoted) of a body."""
    return hashlib.blake2b(body, digest_size=12).hexdigest()


def catalog_tag(category_tags: Iterable[str]) -> str:
    """The tag of a catalog: of its categories' v2 body tags, every category in ``Category`` order."""
    return content_tag("\n".join(category_tags).encode())
