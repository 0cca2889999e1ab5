"""Records and per-category state, on one connection of a read or write transaction."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from modelref.domain.audit import Operation
from modelref.domain.categories import Category
from modelref.domain.stored import CategoryState, StoredRecord
from modelref.storage.database import CHANNEL
from modelref.storage.tables import categories, records


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _search_columns(document: Mapping[str, Any]) -> dict[str, Any]:
    baseline = document.get("baseline")
    nsfw = document.get("nsfw")
    return {
        "baseline": baseline if isinstance(baseline, str) else None,
        "nsfw": nsfw if isinstance(nsfw, bool) else None,
    }


def _state(row: Row[Any], count: int) -> CategoryState:
    return CategoryState(
        version=row.version,
        last_updated=row.last_updated,
        initialized_at=row.initialized_at,
        count=count,
        last_operation_type=row.last_operation_type,
        last_operation_model=row.last_operation_model,
        total_creates=row.total_creates,
        total_updates=row.total_updates,
        total_deletes=row.total_deletes,
        error_count=row.error_count,
    )


class RecordTable:
    """The records of every category and each category's version row."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- reads ---------------------------------------------------------------------------------------

    def is_empty(self) -> bool:
        return self.conn.execute(sa.select(records.c.id).limit(1)).first() is None

    def load(self, category: Category) -> list[StoredRecord]:
        """The category's records in stored order."""
        rows = self.conn.execute(
            sa.select(records.c.name, records.c.document)
            .where(records.c.category == category.value)
            .order_by(records.c.id)
        )
        return [StoredRecord(name=name, document=orjson.loads(document)) for name, document in rows]

    def get(self, category: Category, name: str) -> dict[str, Any] | None:
        document = self.conn.execute(
            sa.select(records.c.document).where(records.c.category == category.value, records.c.name == name)
        ).scalar()
        return None if document is None else orjson.loads(document)

    def versions(self) -> dict[Category, int]:
        """Each category's version counter: the cheap poll that tells a process what changed."""
        rows = self.conn.execute(sa.select(categories.c.category, categories.c.version))
        return {Category(c): v for c, v in rows}

    def state(self, category: Category, count: int) -> CategoryState | None:
        row = self.conn.execute(sa.select(categories).where(categories.c.category == category.value)).first()
        return None if row is None else _state(row, count)

    def states(self) -> dict[Category, CategoryState]:
        counts = sa.select(records.c.category, sa.func.count().label("n")).group_by(records.c.category).subquery()
        query = sa.select(categories, sa.func.coalesce(counts.c.n, 0).label("record_count")).outerjoin(
            counts, counts.c.category == categories.c.category
        )
        return {Category(row.category): _state(row, row.record_count) for row in self.conn.execute(query)}

    # -- writes (inside ``Store.write()``) -----------------------------------------------------------

    def put(self, category: Category, name: str, document: dict[str, Any]) -> None:
        """Insert or replace a record; a replaced record keeps its place in the stored order."""
        values = {"document": _dumps(document), **_search_columns(document)}
        updated = self.conn.execute(
            records.update().where(records.c.category == category.value, records.c.name == name).values(**values)
        )
        if updated.rowcount == 0:
            self.conn.execute(records.insert().values(category=category.value, name=name, **values))

    def put_many(self, category: Category, documents: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Insert new records in bulk (the names must not exist yet)."""
        if documents:
            self.conn.execute(
                records.insert(),
                [
                    {"category": category.value, "name": name, "document": _dumps(doc), **_search_columns(doc)}
                    for name, doc in documents
                ],
            )

    def delete(self, category: Category, name: str) -> bool:
        result = self.conn.execute(records.delete().where(records.c.category == category.value, records.c.name == name))
        return result.rowcount > 0

    def touch(
        self,
        category: Category,
        now: float | None = None,
        counts: Mapping[Operation, int] | None = None,
        last: tuple[Operation, str] | None = None,
    ) -> int:
        """Bump the category's version and last_updated, add *counts* to its write counters and record
        the *last* operation; return the new version. Other processes hear of it on commit."""
        now = time.time() if now is None else now
        counts = counts or {}
        values: dict[str, Any] = {
            "version": categories.c.version + 1,
            "last_updated": now,
            "total_creates": categories.c.total_creates + counts.get(Operation.CREATE, 0),
            "total_updates": categories.c.total_updates + counts.get(Operation.UPDATE, 0),
            "total_deletes": categories.c.total_deletes + counts.get(Operation.DELETE, 0),
        }
        if last is not None:
            values |= {"last_operation_type": last[0].value, "last_operation_model": last[1]}
        updated = self.conn.execute(
            categories.update()
            .where(categories.c.category == category.value)
            .values(**values)
            .returning(categories.c.version)
        ).scalar()
        if self.conn.dialect.name == "postgresql":
            # Delivered on commit: other processes LISTENing reload the category at once.
            self.conn.execute(
                sa.text("SELECT pg_notify(:channel, :category)"), {"channel": CHANNEL, "category": category.value}
            )
        if updated is not None:
            return int(updated)
        self.conn.execute(
            categories.insert().values(
                category=category.value,
                version=1,
                last_updated=now,
                initialized_at=now,
                last_operation_type=last[0].value if last else None,
                last_operation_model=last[1] if last else None,
                total_creates=counts.get(Operation.CREATE, 0),
                total_updates=counts.get(Operation.UPDATE, 0),
                total_deletes=counts.get(Operation.DELETE, 0),
            )
        )
        return 1
