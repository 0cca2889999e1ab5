"""Per-record metadata on writes and imports (DATA.md §12.1)."""

from __future__ import annotations

from typing import Any

_TIMESTAMPS = ("created_at", "updated_at")


def _without_timestamps(document: dict[str, Any]) -> dict[str, Any]:
    metadata = {k: v for k, v in (document.get("metadata") or {}).items() if k not in _TIMESTAMPS}
    return {**document, "metadata": metadata}


def stamp(document: dict[str, Any], stored: dict[str, Any] | None, now: int, user: str | None = None) -> dict[str, Any]:
    """Return *document* with its metadata set for a write at *now*.

    A create keeps given timestamps or sets them to *now*; an update keeps the stored ``created_at`` and
    ``created_by`` and sets ``updated_at``. *user* (the requester) becomes ``created_by`` (create) and
    ``updated_by``, whatever the document claims (DATA.md §12.1).
    """
    metadata = dict(document.get("metadata") or {})
    if stored is None:
        metadata.setdefault("created_at", now)
        metadata.setdefault("updated_at", metadata["created_at"])
        if user is not None:
            metadata["created_by"] = user
    else:
        old = stored.get("metadata") or {}
        for key in ("created_at", "created_by"):
            if key in old:
                metadata[key] = old[key]
            else:
                metadata.pop(key, None)
        metadata["updated_at"] = now
    if user is not None:
        metadata["updated_by"] = user
    return {**document, "metadata": metadata}


def same_content(document: dict[str, Any], stored: dict[str, Any]) -> bool:
    """Whether two documents differ only in their timestamps."""
    return _without_timestamps(document) == _without_timestamps(stored)
