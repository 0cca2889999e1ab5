"""Content tags: the strong ETag of a body, and the tag of a whole catalog.

The service tags every body by its content, and a client computes the same tag from the same bytes, so
a REPLICA serves the PRIMARY's ETags and a poller can ask "has anything changed since what I hold?".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def content_tag(body: bytes) -> str:
    """The ETag (unquoted) of a body."""
    return hashlib.blake2b(body, digest_size=12).hexdigest()


def catalog_tag(category_tags: Iterable[str]) -> str:
    """The tag of a catalog: of its categories' v2 body tags, every category in ``Category`` order."""
    return content_tag("\n".join(category_tags).encode())
