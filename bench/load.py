"""Load-time figures on the real reference data: import, load into typed records, legacy export.

    .venv/bin/python bench/load.py [--repeat 5] [--database-url postgresql+psycopg://…]

Without --database-url each run imports into a fresh SQLite file.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from modelref.client.sources import read_folder
from modelref.domain.bundle import read_bundle
from modelref.domain.render import legacy_files
from modelref.services.importer import import_bundle
from modelref.services.records import load_all
from modelref.storage.store import Store

REFERENCE_DATA = Path(__file__).resolve().parents[2] / "shared" / "reference-data"


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def _fresh_store(database_url: str | None, folder: Path) -> Store:
    store = Store(database_url or f"sqlite:///{folder / 'bench.sqlite3'}")
    store.migrate()
    if database_url:  # start from an empty database each run
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM records")
            conn.exec_driver_sql("DELETE FROM categories")
            conn.exec_driver_sql("DELETE FROM audit_events")
            conn.exec_driver_sql("UPDATE audit_head SET last_event_id = 0, last_hash = repeat('0', 64)")
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    rows: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            store = _fresh_store(args.database_url, Path(tmp))
            files: dict[str, bytes] = {}
            rows.setdefault("read files", []).append(_timed(lambda: files.update(read_folder(REFERENCE_DATA))))
            bundle = read_bundle(files)
            rows.setdefault("parse + convert (legacy → v2)", []).append(_timed(lambda: read_bundle(files)))
            rows.setdefault("import into store (913 records)", []).append(_timed(lambda: import_bundle(store, bundle)))
            records = {}
            rows.setdefault("load all categories as typed records", []).append(
                _timed(lambda: records.update(load_all(store)))
            )
            rows.setdefault("build full legacy export (bytes)", []).append(_timed(lambda: legacy_files(records)))
            store.close()

    engine = args.database_url.split(":", 1)[0] if args.database_url else "sqlite"
    print(f"modelref load benchmark — {engine}, {args.repeat} runs, real data from {REFERENCE_DATA}")
    print(f"{'step':<42}{'median ms':>12}{'min ms':>10}{'max ms':>10}")
    for step, times in rows.items():
        print(f"{step:<42}{statistics.median(times):>12.1f}{min(times):>10.1f}{max(times):>10.1f}")
    total = sum(statistics.median(times) for step, times in rows.items() if step != "read files")
    print(f"{'end to end (parse + import + load + export)':<42}{total:>12.1f}")


if __name__ == "__main__":
    main()
