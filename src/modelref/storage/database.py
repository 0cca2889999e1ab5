"""The engine, transactions and migrations of the PRIMARY's database (SQLite file or PostgreSQL).

Driver errors stop here: every connection is opened through ``read()`` or ``write()``, which turn a
SQLAlchemy error into ``errors.Unavailable`` (logged once, with its traceback), so no service ever sees
a driver exception.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection, Engine

from modelref.errors import Unavailable

log = logging.getLogger(__name__)

_MIGRATION_LOCK = 7_311_991  # any fixed numbers: the PostgreSQL advisory locks for migrations and writes
_WRITE_LOCK = 7_311_992
CHANNEL = "modelref_changes"
"""PostgreSQL notification channel: every committed write to a category announces it here."""
RETRY_AFTER = 2.0


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


def _reason(error: sa.exc.SQLAlchemyError) -> str:
    """The driver's own first line (e.g. 'database "x" does not exist'), without SQLAlchemy's wrapping."""
    original = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn a driver error raised inside into ``Unavailable`` (503), logging it once."""
    try:
        yield
    except sa.exc.SQLAlchemyError as error:
        log.warning("the database could not %s: %s", what, _reason(error))  # an outage, not a bug: one line
        raise Unavailable(
            f"The database could not {what} ({type(error).__name__}); try again shortly.", retry_after=RETRY_AFTER
        ) from None


class Database:
    """One database: ``read()`` and ``write()`` transactions, ``migrate()``, change notifications."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine = create_engine(url)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as error:
            raise Unavailable(f"cannot use the database URL {describe_url(url)}: {error}") from None
        self._listener: Any = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def backend_name(self) -> str:
        return {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(self.dialect, self.dialect)

    def describe(self) -> str:
        """The URL with any password hidden, for logs."""
        return describe_url(self.url)

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self.engine.dispose()

    def migrate(self) -> None:
        """Upgrade the schema to the newest migration (safe to call from several processes at once)."""
        config = Config()
        config.set_main_option("script_location", str(resources.files("modelref.storage") / "migrations"))
        try:
            with self.engine.connect().execution_options(writer=True) as conn:
                if self.dialect == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
                try:
                    config.attributes["connection"] = conn
                    command.upgrade(config, "head")
                    conn.commit()
                finally:
                    if self.dialect == "postgresql":
                        with contextlib.suppress(sa.exc.SQLAlchemyError):  # never hide the error that got here
                            conn.rollback()
                            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
                            conn.commit()
        except CommandError as error:  # e.g. the database was migrated by a newer version of modelref
            raise Unavailable(f"cannot migrate the database {self.describe()}: {error}") from None
        except sa.exc.SQLAlchemyError as error:
            raise Unavailable(
                f"cannot open the database {self.describe()}: {_reason(error)}. Check "
                "HORDE_MODEL_REFERENCE_DATABASE_URL (a PostgreSQL database must exist; modelref creates its tables)."
            ) from None

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (one consistent snapshot on SQLite)."""
        with translated("be read"), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: everything done through it commits together, or not at all.

        Write transactions are serialized across every process on the database (SQLite: BEGIN
        IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock), so a writer always sees the latest
        committed state and two writers never interleave.
        """
        with (
            translated("complete the write"),
            self.engine.connect().execution_options(writer=True) as conn,
            conn.begin(),
        ):
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK})
            yield conn

    def wait_for_change(self, timeout: float, stop: threading.Event | None = None) -> None:
        """Block until another process may have committed a write, or *timeout* seconds pass.

        PostgreSQL: LISTEN for the notification every write sends; after the first one, keep draining
        until it has been quiet for ``SETTLE`` seconds (at most ``MAX_SETTLE``), so a burst of commits (a
        bulk apply) wakes the caller once or twice a second instead of once per commit. SQLite: just wait
        (the caller polls the versions), or until *stop* is set.
        """
        if self.dialect != "postgresql":
            if stop is None:
                time.sleep(timeout)
            else:
                stop.wait(timeout)
            return
        try:
            listener = self._listen()
            if not any(True for _ in listener.notifies(timeout=timeout, stop_after=1)):
                return
            deadline = time.monotonic() + MAX_SETTLE
            while time.monotonic() < deadline and any(True for _ in listener.notifies(timeout=SETTLE, stop_after=1)):
                pass
        except Exception as error:  # the listening connection broke (server restart, network): start afresh
            if self._listener is not None:
                with contextlib.suppress(Exception):
                    self._listener.close()
                self._listener = None
            raise Unavailable(f"Change notifications were interrupted ({type(error).__name__})") from None

    def _listen(self) -> Any:
        if self._listener is None:
            import psycopg  # the PostgreSQL driver, present whenever a postgresql URL is in use

            libpq_url = sa.make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
            self._listener = psycopg.connect(libpq_url, autocommit=True, connect_timeout=5)
            self._listener.execute(f"LISTEN {CHANNEL}")
        return self._listener


SETTLE = 0.05
"""Seconds of quiet after a notification before the catalog reloads (coalesces a burst of commits)."""
MAX_SETTLE = 0.5
"""The longest a burst of notifications delays a reload."""


def describe_url(url: str) -> str:
    """A database URL with any password hidden, for logs and messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparsable database URL>"
