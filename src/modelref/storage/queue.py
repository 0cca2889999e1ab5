"""Pending-queue persistence: the operations a write transaction offers on changes and counters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelref.domain.changes import PendingChange
from modelref.storage.tables import pending_changes, queue_counters


def _row(change: PendingChange) -> dict[str, object]:
    return {
        "category": change.category.value,
        "model_name": change.model_name,
        "status": change.status.value,
        "batch_id": change.batch_id,
        "requested_by": change.requested_by,
        "document": change.model_dump_json(),
    }


def next_id(conn: Connection, counter: Literal["last_change_id", "last_batch_id"]) -> int:
    column = queue_counters.c[counter]
    value = conn.execute(
        queue_counters.update().where(queue_counters.c.id == 1).values({counter: column + 1}).returning(column)
    ).scalar_one()
    return int(value)


def insert(conn: Connection, change: PendingChange) -> None:
    conn.execute(pending_changes.insert().values(change_id=change.change_id, **_row(change)))


def save(conn: Connection, change: PendingChange) -> None:
    conn.execute(pending_changes.update().where(pending_changes.c.change_id == change.change_id).values(**_row(change)))


def delete(conn: Connection, change_ids: Iterable[int]) -> None:
    conn.execute(pending_changes.delete().where(pending_changes.c.change_id.in_(list(change_ids))))


def get(conn: Connection, change_id: int) -> PendingChange | None:
    document = conn.execute(
        sa.select(pending_changes.c.document).where(pending_changes.c.change_id == change_id)
    ).scalar()
    return None if document is None else PendingChange.model_validate_json(document)


def select(conn: Connection, where: sa.ColumnElement[bool] | None = None) -> list[PendingChange]:
    query = sa.select(pending_changes.c.document).order_by(pending_changes.c.change_id)
    if where is not None:
        query = query.where(where)
    return [PendingChange.model_validate_json(document) for document in conn.execute(query).scalars()]
