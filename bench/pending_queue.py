"""Pending-queue benchmark: propose N changes, read the queue while they are pending, approve and apply them.

    .venv/bin/python bench/pending_queue.py [--changes 1000] [--payload-kb K] [--reads 7]
                                    [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Runs a real `python -m modelref.cli serve` (seeded from ../shared/reference-data into a fresh SQLite file,
or with --database-url into a fresh database created on that PostgreSQL server and dropped afterwards)
and a fake AI-Horde in this process that knows two keys: "requestor-key" (user 1001) and "approver-key"
(user 2002). Only the HTTP API is used.

The proposals are creates of real image_generation records (fetched from the service, renamed
bench-000000…); --payload-kb pads each description so that a payload is about K KB of JSON (e.g.
--changes 113 --payload-kb 500 for a queue of 113 changes of about 0.5 MB each).

Figures: propose time per change; the queue reads with N changes pending (median of --reads warm calls,
and the response size); the approval of all N in one batch; the apply of that batch (one
POST …/apply_batch/{id}), with the server's CPU time during it; the audit reads again after the apply.
Set PYTHONPATH=<checkout>/src to measure another checkout.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from _common import (
    PG_COUNTERS,
    PG_STATS_DELAY,
    REFERENCE_DATA,
    V2,
    cpu_us,
    describe_database,
    exit_on_sigterm,
    free_port,
    fresh_database,
    modelref_location,
    postgres_counters,
    start_server,
    stop,
)

REQUESTOR_KEY = "requestor-key"
APPROVER_KEY = "approver-key"
USERS = {REQUESTOR_KEY: "Req#1001", APPROVER_KEY: "App#2002"}
QUEUE = f"{V2}/pending_queue"
CATEGORY = "image_generation"


class _FakeHorde(BaseHTTPRequestHandler):
    """GET /api/v2/find_user: the user owning the `apikey` header, 404 for any other key or path."""

    def do_GET(self) -> None:
        username = USERS.get(self.headers.get("apikey", ""))
        if self.path.split("?")[0] != "/api/v2/find_user" or username is None:
            self._answer(404, {"message": "Invalid API Key"})
        else:
            self._answer(200, {"username": username})

    def _answer(self, status: int, body: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def fake_horde() -> Iterator[str]:
    """A fake AI-Horde on 127.0.0.1 in a thread; yields its API base URL (…/api/)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeHorde)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/"
    finally:
        server.shutdown()
        server.server_close()


def _wait_ready(client: httpx.Client, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if client.get("/api/heartbeat").status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("the service did not answer /api/heartbeat")


def _check(response: httpx.Response, *expected: int) -> httpx.Response:
    if response.status_code not in expected:
        request = response.request
        raise RuntimeError(f"{request.method} {request.url}: {response.status_code} {response.text[:2000]}")
    return response


def _payloads(client: httpx.Client, count: int, payload_kb: float | None) -> list[dict[str, Any]]:
    """*count* image_generation creates: the real records in turn, renamed bench-NNNNNN, optionally padded."""
    records = list(_check(client.get(f"{V2}/{CATEGORY}"), 200).json().values())
    records.sort(key=lambda r: r["name"])
    payloads = []
    for number in range(count):
        record = copy.deepcopy(records[number % len(records)])
        record.pop("metadata", None)  # server-managed
        record["name"] = f"bench-{number:06d}"
        if payload_kb is not None:
            missing = int(payload_kb * 1024) - len(json.dumps(record))
            if missing > 1:
                record["description"] = (record.get("description") or "") + " " + "x" * (missing - 1)
        payloads.append(record)
    return payloads


@dataclass(frozen=True)
class Timed:
    label: str
    median_ms: float
    min_ms: float
    size: int
    count: str  # what the answer held (items/total), for the table


def _timed(client: httpx.Client, label: str, path: str, key: str, reads: int, count: Callable[[Any], str]) -> Timed:
    """Median and min of *reads* warm GETs (one untimed call first: auth cache, connections)."""
    headers = {"apikey": key}
    _check(client.get(path, headers=headers), 200)
    times, size, body = [], 0, None
    for _ in range(reads):
        started = time.perf_counter()
        response = _check(client.get(path, headers=headers), 200)
        times.append((time.perf_counter() - started) * 1000)
        size = len(response.content)
        body = response.json()
    return Timed(label, statistics.median(times), min(times), size, count(body))


def _page(body: Any) -> str:
    return f"{len(body['items'])}/{body['total']}"


def _queue_reads(client: httpx.Client, reads: int) -> list[Timed]:
    return [
        _timed(client, "changes?limit=50", f"{QUEUE}/changes?limit=50", APPROVER_KEY, reads, _page),
        _timed(client, "changes?limit=500", f"{QUEUE}/changes?limit=500", APPROVER_KEY, reads, _page),
        _timed(client, "changes?model_name=xyz", f"{QUEUE}/changes?model_name=xyz", APPROVER_KEY, reads, _page),
        _timed(client, "my_changes?limit=50 (requestor)", f"{QUEUE}/my_changes?limit=50", REQUESTOR_KEY, reads, _page),
        *_audit_reads(client, reads),
    ]


def _audit_reads(client: httpx.Client, reads: int) -> list[Timed]:
    return [
        _timed(
            client,
            "audit/current",
            f"{QUEUE}/audit/current",
            APPROVER_KEY,
            reads,
            lambda b: f"{len(b['pending_changes'])} pending",
        ),
        _timed(
            client,
            "audit/batches",
            f"{QUEUE}/audit/batches",
            APPROVER_KEY,
            reads,
            lambda b: f"{len(b['batches'])} batches",
        ),
    ]


def _kb(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    return f"{size / 1024:,.1f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:,.2f} MB"


def _print_reads(title: str, rows: list[Timed]) -> None:
    print(title)
    header = f"  {'GET …/pending_queue/':<36}{'median ms':>11}{'min ms':>10}{'response':>12}  answer"
    print(header)
    print("  " + "-" * (len(header) - 2))
    for row in rows:
        print(f"  {row.label:<36}{row.median_ms:>11.1f}{row.min_ms:>10.1f}{_kb(row.size):>12}  {row.count}")


def run(args: argparse.Namespace) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="modelref-queue-") as tmp,
        fake_horde() as horde_url,
        fresh_database(args.database_url, Path(tmp)) as database_url,
    ):
        env = {
            **os.environ,
            "AI_HORDE_URL": horde_url,
            "HORDE_MODEL_REFERENCE_DATABASE_URL": database_url,
            "HORDE_MODEL_REFERENCE_DATA_DIR": tmp,
            "HORDE_MODEL_REFERENCE_SEED_SOURCE": str(REFERENCE_DATA),
            "HORDE_MODEL_REFERENCE_PENDING_QUEUE__REQUESTOR_IDS": "1001",
            "HORDE_MODEL_REFERENCE_PENDING_QUEUE__APPROVER_IDS": "2002",
            # one requestor proposes them all (older versions ignore the setting)
            "HORDE_MODEL_REFERENCE_PENDING_QUEUE__MAX_PENDING_PER_REQUESTOR": str(max(args.changes, 500)),
        }
        where = modelref_location(env)
        port = free_port()
        log = Path(tmp) / "modelref.log"
        command = [sys.executable, "-m", "modelref.cli", "serve", "--port", str(port)]
        server = start_server(command, env, port, log, timeout=180)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=args.timeout, trust_env=False) as client:
                _wait_ready(client)
                _bench(client, server.pid, args, where, database_url)
        finally:
            stop(server)


def _pg_counters(database_url: str) -> dict[str, int] | None:
    if not database_url.startswith("postgresql"):
        return None
    time.sleep(PG_STATS_DELAY)  # let the service's idle connections report what they did so far
    return postgres_counters(database_url)


def _bench(client: httpx.Client, server_pid: int, args: argparse.Namespace, where: str, database_url: str) -> None:
    for key in (REQUESTOR_KEY, APPROVER_KEY):  # warm the service's AI-Horde cache
        _check(client.get(f"{V2}/me/roles", headers={"apikey": key}), 200)
    payloads = _payloads(client, args.changes, args.payload_kb)
    sizes = [len(json.dumps(p)) for p in payloads]
    print(f"modelref pending queue — {describe_database(database_url)}")
    print(f"modelref from {where}; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"{args.changes:,} creates of {CATEGORY} records, payload {_kb(min(sizes))} – {_kb(max(sizes))} "
        f"(mean {_kb(round(statistics.mean(sizes)))})"
    )
    print()

    ids, times = [], []
    started = time.perf_counter()
    for payload in payloads:
        begun = time.perf_counter()
        response = client.post(f"{V2}/{CATEGORY}", json=payload, headers={"apikey": REQUESTOR_KEY})
        times.append((time.perf_counter() - begun) * 1000)
        ids.append(_check(response, 202).json()["change_id"])
    propose = time.perf_counter() - started
    print(
        f"propose  POST v2/{CATEGORY} × {args.changes:,}: {propose:.2f} s; per change mean "
        f"{propose / args.changes * 1000:.2f} ms, median {statistics.median(times):.2f} ms, max {max(times):.1f} ms"
    )
    print()

    _print_reads(
        f"queue reads with {args.changes:,} pending (median of {args.reads} warm calls):",
        _queue_reads(client, args.reads),
    )
    print()

    started = time.perf_counter()
    batch = _check(
        client.post(
            f"{QUEUE}/batches",
            json={"batch_title": "bench", "approved_ids": ids},
            headers={"apikey": APPROVER_KEY},
        ),
        200,
    ).json()
    approve = time.perf_counter() - started
    print(f"approve  POST …/batches ({len(batch['approved']):,} ids, one batch): {approve:.2f} s")

    pg_before = _pg_counters(database_url)
    cpu_before = cpu_us(server_pid)
    started = time.perf_counter()
    response = client.post(
        f"{QUEUE}/apply_batch/{batch['batch_id']}", params={"job_id": "bench"}, headers={"apikey": APPROVER_KEY}
    )
    apply = time.perf_counter() - started
    cpu = (cpu_us(server_pid) - cpu_before) / 1e6
    applied = len(_check(response, 200).json()["applied"])
    if applied != args.changes:
        raise RuntimeError(f"apply_batch applied {applied} of {args.changes}: {response.text[:2000]}")
    print(
        f"apply    POST …/apply_batch/{batch['batch_id']}?job_id=bench ({applied:,} changes): {apply:.2f} s, "
        f"{apply / applied * 1000:.2f} ms per change; server CPU {cpu:.2f} s ({cpu / apply:.0%} of the wall time)"
    )
    if pg_before is not None:
        pg_after = _pg_counters(database_url)
        assert pg_after is not None
        per_change = ", ".join(f"{k} {(pg_after[k] - pg_before[k]) / applied:.1f}" for k in PG_COUNTERS)
        print(f"         PostgreSQL work per change (pg_stat_database): {per_change}")
    print()
    _print_reads(
        f"audit reads after the apply (median of {args.reads} warm calls):",
        _audit_reads(client, args.reads),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=1000, help="how many creates to propose and apply")
    parser.add_argument("--payload-kb", type=float, help="pad each payload's description to about K KB of JSON")
    parser.add_argument("--reads", type=int, default=7, help="timed calls per queue read")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server (postgresql+psycopg://user@host:port/db) to create a fresh database on;"
        " default: a fresh SQLite file",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for one HTTP answer")
    args = parser.parse_args()
    exit_on_sigterm()
    if args.changes < 1:
        parser.error("--changes must be at least 1")
    run(args)


if __name__ == "__main__":
    main()
