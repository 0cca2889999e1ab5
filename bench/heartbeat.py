"""Is the event loop free? /api/heartbeat latency while the largest category is served under load.

    .venv/bin/python bench/heartbeat.py [--duration 10]

One modelref process on CPU 0; wrk (CPU 1) loads `v1/text_generation` (1.1 MB) with 32 connections
while this script times sequential heartbeats. Needs wrk.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from modelref.client.sources import read_folder
from modelref.domain.bundle import read_bundle
from modelref.services.importer import import_bundle
from modelref.storage.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reads import REFERENCE_DATA, _port, _start, _uvicorn

LOADS = [
    ("v1 text_generation (1.1 MB)", "/api/model_references/v1/text_generation"),
    ("v2 text_generation (0.4 MB)", "/api/model_references/v2/text_generation"),
    ("one model (control, 1 KB)", "/api/model_references/v2/image_generation/model/Deliberate"),
]


def _heartbeats(base: str, seconds: float) -> list[float]:
    latencies = []
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=base, timeout=10) as client:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            client.get("/api/heartbeat").raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.01)
    return latencies


def _describe(label: str, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    figures = f"p50 {statistics.median(ordered):6.2f} ms   p99 {p99:6.2f} ms   max {ordered[-1]:6.2f} ms"
    return f"{label:<44} n={len(ordered):<5} {figures}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/modelref.sqlite3")
        store.migrate()
        import_bundle(store, read_bundle(read_folder(REFERENCE_DATA)))
        store.close()
        env = {**os.environ, "HORDE_MODEL_REFERENCE_DATA_DIR": tmp}
        port = _port()
        server = _start(_uvicorn("modelref.http.app:app_from_environment", port, "--factory"), env, port)
        base = f"http://127.0.0.1:{port}"
        rows = []
        try:
            rows.append(("heartbeat, idle server", _heartbeats(base, 3)))
            for label, path in LOADS:
                command = ["taskset", "-c", "1", "wrk", "-t1", "-c32", f"-d{args.duration}s", base + path]
                load = threading.Thread(target=subprocess.run, args=(command,), kwargs={"capture_output": True})
                load.start()
                time.sleep(1)
                rows.append((f"heartbeat, 32 conns on {label}", _heartbeats(base, args.duration - 2)))
                load.join()
        finally:
            server.terminate()
            server.wait()
    print("heartbeat latency seen by a client sharing CPU 1 with wrk; the server alone on CPU 0")
    for label, latencies in rows:
        print(_describe(label, latencies))


if __name__ == "__main__":
    main()
