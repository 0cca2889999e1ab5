"""The Store: the PRIMARY's database, seen through its three tables of concern.

``store.read()`` and ``store.write()`` yield a ``Tx`` whose ``records``, ``queue`` and ``audit`` work on
one transaction; a write commits all of its changes together or none of them. The store is also the
catalog's source on a PRIMARY (``versions``, ``load``, ``wait_for_change``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from modelref.domain.categories import Category
from modelref.domain.stored import CategoryData
from modelref.storage.audit import AuditLog
from modelref.storage.database import Database
from modelref.storage.queue import QueueTable
from modelref.storage.records import RecordTable
from modelref.storage.sessions import SessionTable
from modelref.storage.textmeta import AliasTable, FamilyTable, SchemaTable


@dataclass(frozen=True, slots=True)
class Tx:
    """The tables of one transaction."""

    records: RecordTable
    queue: QueueTable
    audit: AuditLog
    aliases: AliasTable
    families: FamilyTable
    schemas: SchemaTable
    sessions: SessionTable

    @classmethod
    def on(cls, conn: Connection) -> Tx:
        tables = (AliasTable(conn), FamilyTable(conn), SchemaTable(conn), SessionTable(conn))
        return cls(RecordTable(conn), QueueTable(conn), AuditLog(conn), *tables)


class Store:
    """The database behind a PRIMARY. Create with ``Store(url)``; ``migrate()`` brings the schema up."""

    def __init__(self, url: str) -> None:
        self.database = Database(url)

    @property
    def dialect(self) -> str:
        return self.database.dialect

    @property
    def backend_name(self) -> str:
        return self.database.backend_name

    def describe(self) -> str:
        return self.database.describe()

    def migrate(self) -> None:
        self.database.migrate()

    def close(self) -> None:
        self.database.close()

    @contextlib.contextmanager
    def read(self) -> Iterator[Tx]:
        with self.database.read() as conn:
            yield Tx.on(conn)

    @contextlib.contextmanager
    def write(self) -> Iterator[Tx]:
        """One serialized write transaction (see ``Database.write``)."""
        with self.database.write() as conn:
            yield Tx.on(conn)

    # -- the catalog's source -------------------------------------------------------------------------

    def versions(self) -> dict[Category, int]:
        with self.read() as tx:
            return tx.records.versions()

    def load(self, category: Category) -> CategoryData:
        """The category's state and records, read in one snapshot."""
        with self.read() as tx:
            stored = tx.records.load(category)
            return CategoryData(tx.records.state(category, len(stored)), stored)

    def wait_for_change(self, timeout: float, stop: threading.Event | None = None) -> None:
        self.database.wait_for_change(timeout, stop)

    def is_empty(self) -> bool:
        with self.read() as tx:
            return tx.records.is_empty()
