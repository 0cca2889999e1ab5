"""The Store: records, category versions and the audit chain in SQLite or PostgreSQL.

Reads are plain methods; every write goes through ``store.write()``, one transaction that commits all
of its changes together or none of them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine

from modelref.domain.audit import AuditEvent, Domain, Operation, event_hash, verify_chain
from modelref.domain.categories import Category
from modelref.domain.changes import PendingChange
from modelref.storage import queue
from modelref.storage.tables import audit_events, audit_head, categories, records

_MIGRATION_LOCK = 7_311_991  # any fixed numbers: the PostgreSQL advisory locks for migrations and writes
_WRITE_LOCK = 7_311_992
_CHANNEL = "modelref_changes"


@dataclass(frozen=True, slots=True)
class CategoryState:
    """A category's version, timestamps and write counters, with its current record count."""

    category: Category
    version: int
    last_updated: float
    initialized_at: float
    count: int
    last_operation_type: str | None = None
    last_operation_model: str | None = None
    total_creates: int = 0
    total_updates: int = 0
    total_deletes: int = 0
    error_count: int = 0


@dataclass(frozen=True, slots=True)
class StoredRecord:
    name: str
    document: dict[str, Any]


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _sqlite_engine(url: sa.URL) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself (pysqlite's own handling is off).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A writer takes the write lock up front so two writers never deadlock on a lock upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("writer") else "BEGIN")

    return engine


def create_engine(url: str) -> Engine:
    """An engine for a SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://…``)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return sa.create_engine(parsed, pool_pre_ping=True)


class Store:
    """The database behind a PRIMARY. Create with ``Store(url)``; ``migrate()`` brings the schema up."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self._listener: Any = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def describe(self) -> str:
        """The URL with any password hidden, for logs."""
        return sa.make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self.engine.dispose()

    def migrate(self) -> None:
        """Upgrade the schema to the newest migration (safe to call from several processes at once)."""
        config = Config()
        config.set_main_option("script_location", str(resources.files("modelref.storage") / "migrations"))
        with self.engine.connect().execution_options(writer=True) as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
            try:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
                conn.commit()
            finally:
                if self.dialect == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
                    conn.commit()

    # -- reads ---------------------------------------------------------------------------------------

    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(records.c.id).limit(1)).first() is None

    def versions(self) -> dict[Category, int]:
        """Each category's version counter: the cheap poll that tells a process what changed."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(categories.c.category, categories.c.version))
            return {Category(c): v for c, v in rows}

    def states(self) -> dict[Category, CategoryState]:
        counts = sa.select(records.c.category, sa.func.count().label("n")).group_by(records.c.category).subquery()
        query = sa.select(categories, sa.func.coalesce(counts.c.n, 0)).outerjoin(
            counts, counts.c.category == categories.c.category
        )
        with self.engine.connect() as conn:
            return {
                Category(row.category): CategoryState(
                    category=Category(row.category),
                    version=row.version,
                    last_updated=row.last_updated,
                    initialized_at=row.initialized_at,
                    count=row[-1],
                    last_operation_type=row.last_operation_type,
                    last_operation_model=row.last_operation_model,
                    total_creates=row.total_creates,
                    total_updates=row.total_updates,
                    total_deletes=row.total_deletes,
                    error_count=row.error_count,
                )
                for row in conn.execute(query)
            }

    def load(self, category: Category) -> list[StoredRecord]:
        """The category's records in stored order."""
        with self.engine.connect() as conn:
            return _load(conn, category)

    def audit_events(self, category: str | None = None) -> list[AuditEvent]:
        query = sa.select(audit_events).order_by(audit_events.c.event_id)
        if category is not None:
            query = query.where(audit_events.c.category == category)
        with self.engine.connect() as conn:
            return [_event(row) for row in conn.execute(query)]

    def verify_audit_chain(self) -> list[str]:
        """Problems with the audit chain, the head row included (empty when intact)."""
        events = self.audit_events()
        problems = verify_chain(events)
        with self.engine.connect() as conn:
            head = conn.execute(sa.select(audit_head).where(audit_head.c.id == 1)).first()
        last = events[-1] if events else None
        if head is None:
            problems.append("audit head row is missing")
        elif (head.last_event_id, head.last_hash) != ((last.event_id, last.hash) if last else (0, "0" * 64)):
            problems.append("audit head does not point at the last event (events were removed or added)")
        return problems

    def get_change(self, change_id: int) -> PendingChange | None:
        with self.engine.connect() as conn:
            return queue.get(conn, change_id)

    def changes(self) -> list[PendingChange]:
        """Every change in the queue, by change id."""
        with self.engine.connect() as conn:
            return queue.select(conn)

    def get(self, category: Category, name: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            document = conn.execute(
                sa.select(records.c.document).where(records.c.category == category.value, records.c.name == name)
            ).scalar()
        return None if document is None else orjson.loads(document)

    # -- writes --------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def write(self) -> Iterator[WriteTransaction]:
        """One write transaction: everything done through it commits together, or not at all.

        Write transactions are serialized across every process on the database (SQLite: BEGIN
        IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock), so a writer always sees the
        latest committed state and two writers never interleave.
        """
        with self.engine.connect().execution_options(writer=True) as conn, conn.begin():
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK})
            yield WriteTransaction(conn)

    def load_state(self, category: Category) -> tuple[CategoryState | None, list[StoredRecord]]:
        """The category's state and records, read in one snapshot (None: never written)."""
        with self.engine.connect() as conn, conn.begin():
            records_ = _load(conn, category)
            row = conn.execute(sa.select(categories).where(categories.c.category == category.value)).first()
        if row is None:
            return None, records_
        state = CategoryState(
            category=category,
            version=row.version,
            last_updated=row.last_updated,
            initialized_at=row.initialized_at,
            count=len(records_),
            last_operation_type=row.last_operation_type,
            last_operation_model=row.last_operation_model,
            total_creates=row.total_creates,
            total_updates=row.total_updates,
            total_deletes=row.total_deletes,
            error_count=row.error_count,
        )
        return state, records_

    def wait_for_change(self, timeout: float) -> None:
        """Block until another process may have committed a write, or *timeout* seconds pass.

        PostgreSQL: LISTEN for the notification every write sends; SQLite: just wait.
        """
        if self.dialect != "postgresql":
            time.sleep(timeout)
            return
        if self._listener is None:
            import psycopg  # the PostgreSQL driver, present whenever a postgresql URL is in use

            libpq_url = sa.make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
            self._listener = psycopg.connect(libpq_url, autocommit=True)
            self._listener.execute(f"LISTEN {_CHANNEL}")
        for _ in self._listener.notifies(timeout=timeout, stop_after=1):
            break


def _load(conn: Connection, category: Category) -> list[StoredRecord]:
    rows = conn.execute(
        sa.select(records.c.name, records.c.document).where(records.c.category == category.value).order_by(records.c.id)
    )
    return [StoredRecord(name, orjson.loads(document)) for name, document in rows]


def _event(row: Any) -> AuditEvent:
    return AuditEvent(
        event_id=row.event_id,
        timestamp=row.timestamp,
        domain=Domain(row.domain),
        category=row.category,
        model_name=row.model_name,
        operation=Operation(row.operation),
        logical_user_id=row.logical_user_id,
        request_id=row.request_id,
        payload=row.payload,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _search_columns(document: dict[str, Any]) -> dict[str, Any]:
    baseline = document.get("baseline")
    nsfw = document.get("nsfw")
    return {
        "baseline": baseline if isinstance(baseline, str) else None,
        "nsfw": nsfw if isinstance(nsfw, bool) else None,
    }


class WriteTransaction:
    """The write operations of one transaction (see ``Store.write``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- the pending queue ---------------------------------------------------------------------------

    def next_change_id(self) -> int:
        return queue.next_id(self.conn, "last_change_id")

    def next_batch_id(self) -> int:
        return queue.next_id(self.conn, "last_batch_id")

    def insert_change(self, change: PendingChange) -> None:
        queue.insert(self.conn, change)

    def save_change(self, change: PendingChange) -> None:
        queue.save(self.conn, change)

    def get_change(self, change_id: int) -> PendingChange | None:
        return queue.get(self.conn, change_id)

    def changes(self) -> list[PendingChange]:
        return queue.select(self.conn)

    def delete_changes(self, change_ids: Sequence[int]) -> None:
        queue.delete(self.conn, change_ids)

    # -- records ---------------------------------------------------------------------------------------

    def load(self, category: Category) -> list[StoredRecord]:
        return _load(self.conn, category)

    def get(self, category: Category, name: str) -> dict[str, Any] | None:
        document = self.conn.execute(
            sa.select(records.c.document).where(records.c.category == category.value, records.c.name == name)
        ).scalar()
        return None if document is None else orjson.loads(document)

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
        the *last* operation; return the new version."""
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
                sa.text("SELECT pg_notify(:channel, :category)"), {"channel": _CHANNEL, "category": category.value}
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

    def append_events(self, events: Sequence[EventSpec]) -> list[AuditEvent]:
        """Append events to the chain, in order (the head row stays locked until the transaction ends)."""
        if not events:
            return []
        head = self.conn.execute(sa.select(audit_head).where(audit_head.c.id == 1).with_for_update()).one()
        event_id, prev = head.last_event_id, head.last_hash
        written: list[AuditEvent] = []
        for spec in events:
            event_id += 1
            ts = int(time.time()) if spec.timestamp is None else spec.timestamp
            payload = None if spec.payload is None else _dumps(spec.payload)
            fields = (event_id, ts, spec.domain, spec.category, spec.model_name, spec.operation, spec.user)
            digest = event_hash(prev, *fields, spec.request_id, payload)
            written.append(AuditEvent(*fields, spec.request_id, payload, prev, digest))
            prev = digest
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


@dataclass(frozen=True, slots=True)
class EventSpec:
    """An audit event to append; the store gives it its id, timestamp (unless set) and hashes."""

    domain: Domain
    category: str
    model_name: str
    operation: Operation
    user: str
    payload: dict[str, Any] | None = None
    request_id: str | None = None
    timestamp: int | None = None
