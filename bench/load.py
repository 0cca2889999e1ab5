"""Load-time figures on the real reference data: import, load into typed records, legacy export.

    .venv/bin/python bench/load.py [--repeat 5] [--database-url postgresql+psycopg://…]

Each run imports into a fresh SQLite file, or with --database-url into a fresh database created on
that PostgreSQL server (and dropped afterwards).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from modelref.client.sources import read_folder

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support import POSTGRES_ENV, fresh_postgres_database

from modelref.domain.bundle import read_bundle
from modelref.domain.render import legacy_files
from modelref.services.importer import import_bundle
from modelref.services.records import load_all
from modelref.storage.store import Store

REFERENCE_DATA = Path(__file__).resolve().parents[2] / "shared" / "reference-data"


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _fresh_store(database_url: str | None, folder: Path) -> Store:
    store = Store(database_url or f"sqlite:///{folder / 'bench.sqlite3'}")
    store.migrate()
    return store


def _run_once(database_url: str | None, folder: Path) -> dict[str, float]:
    store = _fresh_store(database_url, folder)
    timings: dict[str, float] = {}

    started = time.perf_counter()
    files = read_folder(REFERENCE_DATA)
    timings["read files"] = _ms(started)
    started = time.perf_counter()
    bundle = read_bundle(files)
    timings["parse + convert (legacy → v2)"] = _ms(started)
    started = time.perf_counter()
    import_bundle(store, bundle)
    timings["import into store (913 records)"] = _ms(started)
    started = time.perf_counter()
    records = load_all(store)
    timings["load all categories as typed records"] = _ms(started)
    started = time.perf_counter()
    legacy_files(records)
    timings["build full legacy export (bytes)"] = _ms(started)
    store.close()
    return timings


@contextlib.contextmanager
def _database(server_url: str | None) -> Iterator[str | None]:
    """None for SQLite; for PostgreSQL a fresh database on that server each run, dropped afterwards."""
    if server_url is None:
        yield None
        return
    os.environ[POSTGRES_ENV] = server_url
    with fresh_postgres_database() as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    rows: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp, _database(args.database_url) as url:
            for step, ms in _run_once(url, Path(tmp)).items():
                rows.setdefault(step, []).append(ms)

    engine = args.database_url.split(":", 1)[0] if args.database_url else "sqlite"
    print(f"modelref load benchmark — {engine}, {args.repeat} runs, real data from {REFERENCE_DATA}")
    print(f"{'step':<42}{'median ms':>12}{'min ms':>10}{'max ms':>10}")
    for step, times in rows.items():
        print(f"{step:<42}{statistics.median(times):>12.1f}{min(times):>10.1f}{max(times):>10.1f}")
    total = sum(statistics.median(times) for step, times in rows.items() if step != "read files")
    print(f"{'end to end (parse + import + load + export)':<42}{total:>12.1f}")


if __name__ == "__main__":
    main()
