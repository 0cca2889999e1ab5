"""What kind of deployment this is: mode and canonical format (API.md §1.5)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReplicateMode(StrEnum):
    PRIMARY = "PRIMARY"
    REPLICA = "REPLICA"


class CanonicalFormat(StrEnum):
    V2 = "v2"
    LEGACY = "legacy"


@dataclass(frozen=True, slots=True)
class Deployment:
    mode: ReplicateMode = ReplicateMode.PRIMARY
    canonical_format: CanonicalFormat = CanonicalFormat.V2

    @property
    def writable(self) -> bool:
        return self.mode is ReplicateMode.PRIMARY
