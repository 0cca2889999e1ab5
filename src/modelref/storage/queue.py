"""The pending queue's rows: changes, their filters in SQL, and the id counters.

A change is stored whole as JSON; the columns beside it are copies that the database filters, counts
and pages on, so a queue read touches only the rows (and the payloads) of the page it returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelref.domain.audit import ChangeStatus, Operation
from modelref.domain.categories import Category
from modelref.domain.changes import ChangeFilter, PendingChangeRecord
from modelref.storage.tables import pending_changes, queue_counters

_c = pending_changes.c


@dataclass(frozen=True, slots=True)
class ChangeSummary:
    """A change's filter columns: enough to name it in an audit event or check its batch."""

    change_id: int
    category: Category
    model_name: str
    requested_by: str
    batch_id: int | None


def _row(change: PendingChangeRecord) -> dict[str, object]:
    return {
        "category": change.category.value,
        "model_name": change.model_name,
        "name_folded": change.model_name.casefold(),
        "status": change.status.value,
        "batch_id": change.batch_id,
        "requested_by": change.requested_by,
        "document": change.model_dump_json(),
    }


def _conditions(filters: ChangeFilter | None) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if filters is None:
        return conditions
    if filters.statuses:
        conditions.append(_c.status.in_([s.value for s in filters.statuses]))
    if filters.categories:
        conditions.append(_c.category.in_([c.value for c in filters.categories]))
    if filters.batch_id is not None:
        conditions.append(_c.batch_id == filters.batch_id)
    needle = filters.name_needle
    if needle is not None:
        # Both sides case-folded in Python, so SQLite and PostgreSQL give the same answers. Asked as a
        # sub-query, the name is read from its small index: in change-id order SQLite would read each row's
        # name after its (possibly large) payload; PostgreSQL keeps payloads aside anyway.
        named = sa.select(_c.change_id).where(_c.name_folded.contains(needle, autoescape=True))
        conditions.append(_c.change_id.in_(named))
    if filters.requesters:
        conditions.append(_c.requested_by.in_(filters.requesters))
    return conditions


def _changes(documents: Iterable[str]) -> list[PendingChangeRecord]:
    return [PendingChangeRecord.model_validate_json(document) for document in documents]


class QueueTable:
    """The pending changes on one connection of a read or write transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- reads ---------------------------------------------------------------------------------------

    def get(self, change_id: int) -> PendingChangeRecord | None:
        document = self.conn.execute(sa.select(_c.document).where(_c.change_id == change_id)).scalar()
        return None if document is None else PendingChangeRecord.model_validate_json(document)

    def page(self, filters: ChangeFilter, offset: int, limit: int) -> tuple[list[PendingChangeRecord], int]:
        """The matching changes in change-id order from *offset* (at most *limit*), and how many match."""
        conditions = _conditions(filters)
        total = self.conn.execute(sa.select(sa.func.count()).select_from(pending_changes).where(*conditions)).scalar()
        # The page's ids first (from the indexes), then only those rows' documents: a database may otherwise
        # read every matching document before it sorts and cuts the page.
        ids = list(
            self.conn.execute(
                sa.select(_c.change_id).where(*conditions).order_by(_c.change_id).offset(offset).limit(limit)
            ).scalars()
        )
        if not ids:
            return [], int(total or 0)
        documents = self.conn.execute(
            sa.select(_c.document).where(_c.change_id.in_(ids)).order_by(_c.change_id)
        ).scalars()
        return _changes(documents), int(total or 0)

    def ids(self, filters: ChangeFilter | None = None) -> list[int]:
        """The ids of the matching changes (every change without a filter), in order."""
        query = sa.select(_c.change_id).where(*_conditions(filters)).order_by(_c.change_id)
        return list(self.conn.execute(query).scalars())

    def summaries(self, change_ids: Sequence[int]) -> list[ChangeSummary]:
        """Who asked for what, for these changes, from the columns alone (no payload read)."""
        rows = self.conn.execute(
            sa.select(_c.change_id, _c.category, _c.model_name, _c.requested_by, _c.batch_id)
            .where(_c.change_id.in_(list(change_ids)))
            .order_by(_c.change_id)
        )
        return [
            ChangeSummary(
                change_id=row.change_id,
                category=Category(row.category),
                model_name=row.model_name,
                requested_by=row.requested_by,
                batch_id=row.batch_id,
            )
            for row in rows
        ]

    def statuses(self, batch_id: int) -> list[tuple[int, ChangeStatus]]:
        """(change id, status) of every change of a batch, in order — no payloads read."""
        rows = self.conn.execute(
            sa.select(_c.change_id, _c.status).where(_c.batch_id == batch_id).order_by(_c.change_id)
        )
        return [(change_id, ChangeStatus(status)) for change_id, status in rows]

    def open_batch(self) -> int | None:
        """The batch that holds approved changes not yet applied, if any (DATA.md §10.3)."""
        return self.conn.execute(
            sa.select(_c.batch_id)
            .where(_c.status == ChangeStatus.APPROVED.value, _c.batch_id.is_not(None))
            .order_by(_c.batch_id.desc())  # after a split, the newest open batch
            .limit(1)
        ).scalar()

    def pending_count(self, requested_by: str) -> int:
        count = self.conn.execute(
            sa.select(sa.func.count())
            .select_from(pending_changes)
            .where(_c.requested_by == requested_by, _c.status == ChangeStatus.PENDING.value)
        ).scalar()
        return int(count or 0)

    def proposals(self, category: Category) -> list[PendingChangeRecord]:
        """The category's pending and approved creates and updates (the "beta" models), in change-id order."""
        documents = self.conn.execute(
            sa.select(_c.document)
            .where(
                _c.category == category.value,
                _c.status.in_([ChangeStatus.PENDING.value, ChangeStatus.APPROVED.value]),
            )
            .order_by(_c.change_id)
        ).scalars()
        return [c for c in _changes(documents) if c.operation is not Operation.DELETE]

    # -- writes (inside ``Store.write()``) -----------------------------------------------------------

    def next_id(self, counter: Literal["last_change_id", "last_batch_id"]) -> int:
        column = queue_counters.c[counter]
        value = self.conn.execute(
            queue_counters.update().where(queue_counters.c.id == 1).values({counter: column + 1}).returning(column)
        ).scalar_one()
        return int(value)

    def insert(self, change: PendingChangeRecord) -> None:
        self.conn.execute(pending_changes.insert().values(change_id=change.change_id, **_row(change)))

    def save(self, change: PendingChangeRecord) -> None:
        self.conn.execute(pending_changes.update().where(_c.change_id == change.change_id).values(**_row(change)))

    def approved_in(self, batch_id: int, excluding: Sequence[int] = ()) -> list[PendingChangeRecord]:
        """The batch's approved changes, less *excluding*."""
        documents = self.conn.execute(
            sa.select(_c.document)
            .where(
                _c.batch_id == batch_id,
                _c.status == ChangeStatus.APPROVED.value,
                _c.change_id.not_in(list(excluding)),
            )
            .order_by(_c.change_id)
        ).scalars()
        return _changes(documents)

    def delete(self, change_ids: Sequence[int]) -> None:
        self.conn.execute(pending_changes.delete().where(_c.change_id.in_(list(change_ids))))
