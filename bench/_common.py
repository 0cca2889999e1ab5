"""Helpers shared by the bench scripts: ports, server processes, CPU accounting, setup through the CLI.

Everything here talks to modelref only through its command line and HTTP API (never its internals), so the
scripts measure whatever code `python -m modelref.cli` / `python -m uvicorn` import — set PYTHONPATH to
measure another checkout.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DATA = ROOT.parent / "shared" / "reference-data"
V2 = "/api/model_references/v2"
V1 = "/api/model_references/v1"
APP_FACTORY = "modelref.http.app:app_from_environment"

_CLOCK_TICK_US = 1_000_000 / os.sysconf("SC_CLK_TCK")


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that `finally` blocks stop the servers and drop the databases."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG: no orphaned servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def modelref_location(env: dict[str, str]) -> str:
    """Where the `modelref` package the servers will run comes from (to check PYTHONPATH took effect)."""
    command = [sys.executable, "-c", "import modelref; print(modelref.__file__)"]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout.strip()


def start_server(
    command: Sequence[str],
    env: dict[str, str],
    port: int,
    log: Path | None,
    *,
    cpu: int | None = None,
    timeout: float = 120,
) -> subprocess.Popen[bytes]:
    """Start *command* (stdout and stderr appended to *log*, or discarded), pinned to *cpu* if given; return
    once *port* accepts connections. Raises RuntimeError with the log's tail if it dies or never listens."""
    pinned = ["taskset", "-c", str(cpu)] if cpu is not None else []
    with open(log or os.devnull, "ab") as sink:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [*pinned, *command], env=env, stdout=sink, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                time.sleep(0.5)
                return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"server exited ({process.returncode}):\n{_tail(log)}") from None
            time.sleep(0.1)
    stop(process)
    raise RuntimeError(f"server did not listen on {port} within {timeout:.0f}s:\n{_tail(log)}")


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """Terminate *process* (SIGKILL if it lingers) and reap it."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(log: Path | None, lines: int = 30) -> str:
    if log is None:
        return "(output discarded)"
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stat(pid: int) -> list[str] | None:
    """Fields 3… of /proc/PID/stat (after the parenthesised command name), or None if PID is gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return data[data.rindex(")") + 2 :].split()


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry))
    return found


def cpu_us(pid: int) -> float:
    """CPU time (user + system, µs) used so far by *pid*, its live descendants and its reaped children."""
    fields = _stat(pid)
    if fields is None:
        raise RuntimeError(f"process {pid} is gone")
    # utime, stime, cutime, cstime are fields 14-17 of /proc/PID/stat, i.e. 11-14 here.
    ticks = sum(int(x) for x in fields[11:15])
    total = ticks * _CLOCK_TICK_US
    for child in _children(pid):
        with contextlib.suppress(RuntimeError):  # a child may exit between listing and reading
            total += cpu_us(child)
    return total


def run_import(env: dict[str, str], database_url: str, source: Path = REFERENCE_DATA) -> None:
    """`modelref import SOURCE` into *database_url* (through HORDE_MODEL_REFERENCE_DATABASE_URL)."""
    command = [sys.executable, "-m", "modelref.cli", "import", str(source)]
    result = subprocess.run(
        command, env={**env, "HORDE_MODEL_REFERENCE_DATABASE_URL": database_url}, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"modelref import failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def describe_database(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


@contextlib.contextmanager
def fresh_database(base_url: str | None, directory: Path) -> Iterator[str]:
    """A new, empty database for one run; yields its SQLAlchemy URL.

    None (or a ``sqlite`` URL): a SQLite file in *directory*. A ``postgresql…`` URL names a server (and a
    database to connect to for administration): a database ``modelref_bench_…`` is created there and dropped
    afterwards.
    """
    if base_url is None or base_url.startswith("sqlite"):
        yield f"sqlite:///{directory / 'modelref.sqlite3'}"
        return
    if not base_url.startswith("postgresql"):
        raise ValueError(f"unsupported database URL: {base_url}")
    import psycopg  # only needed for PostgreSQL runs
    from psycopg import sql

    parts = urlsplit(base_url)
    admin = urlunsplit(parts._replace(scheme="postgresql"))  # libpq does not know "+psycopg"
    name = f"modelref_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


PG_COUNTERS = ("xact_commit", "tup_inserted", "tup_updated", "tup_deleted", "tup_fetched", "tup_returned")
PG_STATS_DELAY = 11.0
"""Seconds to wait before reading pg_stat_database: an idle backend reports its counters within 10 s."""


def postgres_counters(database_url: str) -> dict[str, int] | None:
    """The database's cumulative activity counters (pg_stat_database), or None if it is not PostgreSQL.

    Read through the server's `postgres` database, so that reading them adds nothing to them. Call after
    waiting PG_STATS_DELAY seconds since the activity to be counted."""
    if not database_url.startswith("postgresql"):
        return None
    import psycopg
    from psycopg import sql

    parts = urlsplit(database_url)
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    query = sql.SQL("SELECT {} FROM pg_stat_database WHERE datname = %s").format(
        sql.SQL(", ").join(map(sql.Identifier, PG_COUNTERS))
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute(query, (parts.path.lstrip("/"),)).fetchone()
    if row is None:
        raise RuntimeError(f"no statistics for {describe_database(database_url)}")
    return dict(zip(PG_COUNTERS, (int(x) for x in row), strict=True))
