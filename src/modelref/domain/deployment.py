"""What kind of deployment this is, and the guards that follow from it (API.md §1.5).

Every mode and canonical-format check lives here, so each answer is written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from modelref.domain.categories import CATEGORY_INFO, Category
from modelref.domain.formats import Format
from modelref.errors import NotServed, NotWritable

REPLICA_WRITES = (
    "This instance is in REPLICA mode and does not support write operations. Only PRIMARY instances can modify data."
)
REPLICA_QUEUE = (
    "This instance is in REPLICA mode and does not support write operations. "
    "Only PRIMARY instances can queue model changes."
)
NO_QUEUE = "Pending queue is disabled or unsupported on this deployment."


class ReplicateMode(StrEnum):
    PRIMARY = "PRIMARY"
    REPLICA = "REPLICA"


@dataclass(frozen=True, slots=True)
class Deployment:
    mode: ReplicateMode = ReplicateMode.PRIMARY
    canonical_format: Format = Format.V2

    @property
    def writable(self) -> bool:
        return self.mode is ReplicateMode.PRIMARY

    def require_primary(self) -> None:
        """G-PRIMARY: only a PRIMARY changes data."""
        if not self.writable:
            raise NotWritable(REPLICA_WRITES)

    def require_writes(self, api: Format, category: Category) -> None:
        """G-V2WRITE / G-V1WRITE: record writes through *api* on a PRIMARY.

        The non-canonical API refuses writes, except v2 writes to categories that have no legacy format.
        """
        self.require_primary()
        if api is self.canonical_format:
            return
        if api is Format.V2 and CATEGORY_INFO[category].legacy_file is None:
            return
        raise NotWritable(
            "This deployment does not expose write operations for this API. "
            f"Expected canonical_format='{api.value}', got '{self.canonical_format.value}'."
        )

    def require_queue(self, api: Format, *, changing: bool = True) -> None:
        """G-QWRITE / G-QUEUE: the queue lives on a PRIMARY, under the canonical format's prefix only
        (decision 5). *changing* False for the reads that only need the queue to exist."""
        if not self.writable:
            raise NotWritable(REPLICA_QUEUE) if changing else NotServed(NO_QUEUE)
        if api is not self.canonical_format:
            raise NotServed(
                "The pending queue is served under the canonical format's prefix; this deployment's canonical "
                f"format is '{self.canonical_format.value}', not the /{api.api_prefix} one."
            )

    def require_metadata(self, api: Format) -> None:
        """G-META: metadata is tracked on a PRIMARY and served under its canonical API only (decision 6)."""
        if not self.writable:
            raise NotServed("Metadata tracking is not supported in REPLICA mode")
        if api is not self.canonical_format:
            # The existing service's words, including its upper-case LEGACY (clients match on them).
            expected = "LEGACY" if api is Format.LEGACY else api.value
            raise NotServed(
                f"This endpoint is only available when canonical_format='{expected}'. "
                f"Current setting: canonical_format='{self.canonical_format.value}'"
            )
