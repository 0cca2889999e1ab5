"""The two shapes of the reference: v2 and the frozen legacy one (API.md §1.5, DATA.md §5).

One spelling for every place the distinction matters: a deployment's canonical format, the audit
domain an event belongs to, the formats an export writes, and where a queued change came from.
"""

from __future__ import annotations

from enum import StrEnum


class Format(StrEnum):
    V2 = "v2"
    LEGACY = "legacy"

    @property
    def api_prefix(self) -> str:
        """The API version that serves this format (``v2`` or ``v1``)."""
        return "v1" if self is Format.LEGACY else "v2"
