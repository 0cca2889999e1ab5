"""The append-only, hash-chained audit log (DATA.md §11), on one connection of a transaction."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from modelref.domain.audit import GENESIS_HASH, AuditEvent, EventSpec, Operation, verify_chain
from modelref.domain.formats import Format
from modelref.storage.tables import audit_events, audit_head

_e = audit_events.c


def _event(row: Row[Any]) -> AuditEvent:
    return AuditEvent(
        event_id=row.event_id,
        timestamp=row.timestamp,
        domain=Format(row.domain),
        category=row.category,
        model_name=row.model_name,
        operation=Operation(row.operation),
        logical_user_id=row.logical_user_id,
        request_id=row.request_id,
        payload=row.payload,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


class AuditLog:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def events(
        self,
        *,
        domain: Format | None = None,
        category: str | None = None,
        model_name: str | None = None,
        upto: int | None = None,
    ) -> list[AuditEvent]:
        """Events in id order, narrowed to a domain, a category, a model and/or ids up to *upto*."""
        query = sa.select(audit_events).order_by(_e.event_id)
        if domain is not None:
            query = query.where(_e.domain == domain.value)
        if category is not None:
            query = query.where(_e.category == category)
        if model_name is not None:
            query = query.where(_e.model_name == model_name)
        if upto is not None:
            query = query.where(_e.event_id <= upto)
        return [_event(row) for row in self.conn.execute(query)]

    def last_event_id(self, categories: Sequence[str]) -> int | None:
        """The id of the latest event of *categories* (None: there is none). Ids are handed out under the chain
        head's lock, held until the commit, so they grow in commit order: a larger id is a later commit."""
        query = sa.select(sa.func.max(_e.event_id)).where(_e.category.in_(list(categories)))
        found = self.conn.execute(query).scalar()
        return None if found is None else int(found)

    def count(self) -> int:
        return int(self.conn.execute(sa.select(sa.func.count()).select_from(audit_events)).scalar() or 0)

    def verify(self) -> list[str]:
        """Problems with the chain, the head row included (empty when intact)."""
        events = self.events()
        problems = verify_chain(events)
        head = self.conn.execute(sa.select(audit_head).where(audit_head.c.id == 1)).first()
        last = events[-1] if events else None
        if head is None:
            problems.append("audit head row is missing")
        elif (head.last_event_id, head.last_hash) != ((last.event_id, last.hash) if last else (0, GENESIS_HASH)):
            problems.append("audit head does not point at the last event (events were removed or added)")
        return problems

    def append(self, events: Sequence[EventSpec]) -> list[AuditEvent]:
        """Append events to the chain, in order (the head row stays locked until the transaction ends)."""
        if not events:
            return []
        head = self.conn.execute(sa.select(audit_head).where(audit_head.c.id == 1).with_for_update()).one()
        event_id, prev = head.last_event_id, head.last_hash
        written: list[AuditEvent] = []
        for spec in events:
            event_id += 1
            payload = None if spec.payload is None else orjson.dumps(spec.payload).decode()
            event = AuditEvent(
                event_id=event_id,
                timestamp=int(time.time()) if spec.timestamp is None else spec.timestamp,
                domain=spec.domain,
                category=spec.category,
                model_name=spec.model_name,
                operation=spec.operation,
                logical_user_id=spec.user,
                request_id=spec.request_id,
                payload=payload,
                prev_hash=prev,
                hash="",
            )
            written.append(event.sealed())
            prev = written[-1].hash
        self.conn.execute(
            audit_events.insert(),
            [
                {
                    "event_id": e.event_id,
                    "timestamp": e.timestamp,
                    "domain": e.domain.value,
                    "category": e.category,
                    "model_name": e.model_name,
                    "operation": e.operation.value,
                    "logical_user_id": e.logical_user_id,
                    "request_id": e.request_id,
                    "payload": e.payload,
                    "prev_hash": e.prev_hash,
                    "hash": e.hash,
                }
                for e in written
            ],
        )
        self.conn.execute(
            audit_head.update().where(audit_head.c.id == 1).values(last_event_id=event_id, last_hash=prev)
        )
        return written
