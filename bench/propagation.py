"""How long a committed change takes to show in every service process.

    .venv/bin/python bench/propagation.py [--database-url postgresql+psycopg://…] [--rounds 10]

Starts two `modelref serve` processes on one database (a fresh SQLite file by default), commits a
change through the store (as an apply in any process would), and times until both serve it.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from modelref.client.sources import read_folder
from modelref.domain.bundle import read_bundle
from modelref.services.importer import import_bundle
from modelref.storage.store import Store

REFERENCE_DATA = Path(__file__).resolve().parents[2] / "shared" / "reference-data"
PATH = "/api/model_references/v2/clip/model/ViT-L/14"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(data_dir: Path, database_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    env = {
        **os.environ,
        "HORDE_MODEL_REFERENCE_DATA_DIR": str(data_dir),
        "HORDE_MODEL_REFERENCE_DATABASE_URL": database_url,
        "HORDE_MODEL_REFERENCE_SEED_SOURCE": str(REFERENCE_DATA),
    }
    command = [sys.executable, "-m", "modelref.cli", "serve", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + PATH, timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("modelref serve did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/modelref.sqlite3"
        store = Store(url)
        store.migrate()
        import_bundle(store, read_bundle(read_folder(REFERENCE_DATA)))
        servers = [_serve(Path(tmp) / name, url) for name in ("a", "b")]
        delays = []
        try:
            clip = {"clip.json": (REFERENCE_DATA / "legacy-image" / "clip.json").read_bytes()}
            with httpx.Client(timeout=5) as client:
                for round_ in range(args.rounds):
                    bundle = read_bundle(clip)
                    for _, record in bundle.categories[next(iter(bundle.categories))]:
                        record.description = f"round {round_}"
                    committed = time.perf_counter()
                    import_bundle(store, bundle)
                    pending = {base for _, base in servers}
                    while pending:
                        pending = {
                            b for b in pending if client.get(b + PATH).json().get("description") != f"round {round_}"
                        }
                    delays.append((time.perf_counter() - committed) * 1000)
                    time.sleep(0.3)
        finally:
            for process, _ in servers:
                process.send_signal(signal.SIGINT)
                process.wait()
            store.close()
    engine = url.split(":", 1)[0]
    print(f"change → served by both of 2 processes ({engine}, {args.rounds} changes)")
    print(f"median {statistics.median(delays):.0f} ms, max {max(delays):.0f} ms, min {min(delays):.0f} ms")


if __name__ == "__main__":
    main()
