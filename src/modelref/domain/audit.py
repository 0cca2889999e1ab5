"""Audit events and the hash chain that makes tampering visible (DATA.md §11)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

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


class Domain(StrEnum):
    V2 = "v2"
    LEGACY = "legacy"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One appended event; ``payload`` is the stored JSON text (``{before?, after?, delta?}``) or None."""

    event_id: int
    timestamp: int
    domain: Domain
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


def event_hash(
    prev_hash: str,
    event_id: int,
    timestamp: int,
    domain: str,
    category: str,
    model_name: str,
    operation: str,
    logical_user_id: str,
    request_id: str | None,
    payload: str | None,
) -> str:
    """The chain hash of an event: SHA-256 over the previous hash and every field, in a fixed order."""
    canonical = orjson.dumps(
        [prev_hash, event_id, timestamp, domain, category, model_name, operation, logical_user_id, request_id, payload]
    )
    return hashlib.sha256(canonical).hexdigest()


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
        expected = event_hash(
            event.prev_hash,
            event.event_id,
            event.timestamp,
            event.domain,
            event.category,
            event.model_name,
            event.operation,
            event.logical_user_id,
            event.request_id,
            event.payload,
        )
        if event.hash != expected:
            problems.append(f"audit event {event.event_id}: content does not match its hash")
        prev = event.hash
        last_id = event.event_id
    return problems


def delta(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Top-level keys whose values differ, as ``{key: {"old": v, "new": v}}`` (missing side: null)."""
    keys = list(old) + [k for k in new if k not in old]
    return {k: {"old": old.get(k), "new": new.get(k)} for k in keys if old.get(k) != new.get(k)}
