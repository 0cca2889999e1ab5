"""Audit events and the hash chain that makes tampering visible (DATA.md §11)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import orjson

from modelref.domain.formats import Format

GENESIS_HASH = "0" * 64


class Operation(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class ChangeStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    APPLYING = "applying"
    APPLIED = "applied"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One appended event; ``payload`` is the stored JSON text (``{before?, after?, delta?}``) or None."""

    event_id: int
    timestamp: int
    domain: Format
    category: str
    model_name: str
    operation: Operation
    logical_user_id: str
    request_id: str | None
    payload: str | None
    prev_hash: str
    hash: str

    def payload_value(self) -> Any:
        return None if self.payload is None else orjson.loads(self.payload)

    def computed_hash(self) -> str:
        """The chain hash: SHA-256 over the previous hash and every field, in a fixed order."""
        canonical = orjson.dumps(
            [
                self.prev_hash,
                self.event_id,
                self.timestamp,
                self.domain,
                self.category,
                self.model_name,
                self.operation,
                self.logical_user_id,
                self.request_id,
                self.payload,
            ]
        )
        return hashlib.sha256(canonical).hexdigest()

    def sealed(self) -> AuditEvent:
        """This event with its hash set."""
        return replace(self, hash=self.computed_hash())


def verify_chain(events: list[AuditEvent]) -> list[str]:
    """Return one message per broken link (empty when the chain is intact). Events in id order."""
    problems: list[str] = []
    prev = GENESIS_HASH
    last_id = 0
    for event in events:
        if event.event_id <= last_id:
            problems.append(f"audit event {event.event_id}: id does not increase (after {last_id})")
        if event.prev_hash != prev:
            problems.append(f"audit event {event.event_id}: previous-hash link is broken")
        if event.hash != event.computed_hash():
            problems.append(f"audit event {event.event_id}: content does not match its hash")
        prev = event.hash
        last_id = event.event_id
    return problems


@dataclass(frozen=True, slots=True)
class EventSpec:
    """An audit event to append; the store gives it its id, timestamp (unless set) and hashes."""

    domain: Format
    category: str
    model_name: str
    operation: Operation
    user: str
    payload: dict[str, Any] | None = None
    request_id: str | None = None
    timestamp: int | None = None


def delta(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Top-level keys whose values differ, as ``{key: {"old": v, "new": v}}`` (missing side: null)."""
    keys = list(old) + [k for k in new if k not in old]
    return {k: {"old": old.get(k), "new": new.get(k)} for k in keys if old.get(k) != new.get(k)}
