"""Live-usage routes (popular, with-stats, deletion risk) and category statistics: latency and throughput.

    .venv/bin/python bench/usage.py [--duration 5] [--connections 16] [--repeats 50] [--only SUBSTRING]

A fake AI-Horde runs in this process (a ThreadingHTTPServer on 127.0.0.1) and serves realistic payloads for
the real model names (tests/support.py: realistic_usage(reference_documents())): `v2/status/models`,
`v2/stats/{img,text}/models` and `v2/workers`, each counted by the answers it sends. The reference data
(../shared/reference-data) is imported with `modelref import` into a fresh SQLite file (the servers run with
HORDE_MODEL_REFERENCE_SEED_SOURCE=none); modelref runs as `uvicorn modelref.http.app:app_from_environment
--factory` (access log off, warnings only) pinned to CPU 0, with AI_HORDE_URL pointing to the fake and
HORDE_MODEL_REFERENCE_AI_HORDE_WAIT=0 (a request never waits for the AI-Horde: a usage warm-up request starts
the fetch and answers at once, computing nothing). This process (the client, the fake) and wrk run on CPU 1.
HORDE_MODEL_REFERENCE_* and AI_HORDE_URL variables of the calling shell are not passed on. Everything lives in
one temporary directory, removed at the end; the servers are stopped (also on Ctrl-C or SIGTERM).

Part 0 — the computations behind the live answers, in this process on the same payloads (milliseconds, best
of 5, after one untimed run): the usage index, the joins of every model, the deletion-risk analyses
(ungrouped, grouped, backend variations), popular and with-stats, and encoding the largest answer. This is
what the service's refresh thread spends after each AI-Horde change, off the request path.

Part 1 — latency with a warm usage cache, as the client sees it (request sent → whole body read, on a
keep-alive connection, Accept-Encoding: identity). Per row:
  new process   the row's first request on a server of its own that has answered only a heartbeat, a small
                category read and one usage warm-up (`popular?limit=1`, answered `[]` while it starts the
                fetch); the request is sent once the fake has sent the AI-Horde answers and the service holds
                them. The service makes its usual answers (popular, with-stats, deletion risk with the default
                parameters, grouped and with backend variations for text; popular with workers once workers
                were asked for) on its refresh thread as soon as AI-Horde answers arrive, so such a row finds
                its answer made or being made; other rows (presets, other sorts) are made by the request, from
                the joins and analyses already made. Part 0 shows what that background work costs.
  new data      the row's first request after the AI-Horde's answer changed, on a warm server (usage cache
                TTL 1 s; every row answered once before): the row's cached answer is requested once to start
                a refresh (served stale), the fake answers with a stats body that differs (the first model's
                monthly count grows by one per answer), and once the service holds it the row is
                requested again (its ETag checked to differ): what a caller sees after each AI-Horde change
                (the background work of Part 0 has run, or the request waits for it). Live rows only.
  after above   the row's first request on a shared server (usage cache TTL 3600 s, the usage of both kinds
                fetched first) that has answered the rows above it in table order: joins and analyses made
                for earlier rows from the same AI-Horde answers are reused; only this row's answer is new.
  median / p95  --repeats requests of the row on the shared server (its answer cached).
Figures over 20 ms (the issue's target for each) are marked with "!".

Part 2 — throughput: wrk -t1 -c CONNECTIONS for --duration seconds (after a 1 s warm-up run) on the shared
server: a plain category read, the image statistics and popular image (limit=10); req/s, latency p50/p99
(wrk --latency), the server's CPU time per request (utime + stime from /proc/PID/stat around the run) and the
calls the fake AI-Horde received during the run (the usage cache should make them 0).

Needs wrk (Debian: apt-get install wrk). Set PYTHONPATH=<checkout>/src to measure another checkout.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson

from _common import (
    APP_FACTORY,
    ROOT,
    V2,
    _children,
    exit_on_sigterm,
    free_port,
    modelref_location,
    run_import,
    start_server,
    stop,
)
from reads import Run, _uvicorn, _wrk

STATS = "/api/model_references/statistics"
IDENTITY = {"Accept-Encoding": "identity"}
TARGET_MS = 20.0
ENV_PREFIX = "HORDE_MODEL_REFERENCE_"
CATEGORIES = {"image": "image_generation", "text": "text_generation"}
BOTH_KINDS = {"image": True, "text": True}


@dataclasses.dataclass(frozen=True)
class Row:
    label: str
    target: str
    kind: str | None = None  # "image" / "text": joins AI-Horde usage; None: the records only
    workers: bool = False  # needs the AI-Horde's worker list too


ROWS = [
    Row("statistics image", f"{STATS}/image_generation"),
    Row("statistics text", f"{STATS}/text_generation"),
    Row("statistics text grouped", f"{STATS}/text_generation?group_text_models=true"),
    Row("with-stats image", f"{STATS}/image_generation/with-stats", "image"),
    Row("with-stats text", f"{STATS}/text_generation/with-stats", "text"),
    Row(
        "with-stats text backend variations",
        f"{STATS}/text_generation/with-stats?include_backend_variations=true",
        "text",
    ),
    Row("deletion-risk image", f"{STATS}/image_generation/deletion-risk", "image"),
    Row("deletion-risk text", f"{STATS}/text_generation/deletion-risk", "text"),
    Row("deletion-risk text grouped", f"{STATS}/text_generation/deletion-risk?group_text_models=true", "text"),
    Row(
        "deletion-risk text backend variations",
        f"{STATS}/text_generation/deletion-risk?include_backend_variations=true",
        "text",
    ),
    Row("deletion-risk text preset=critical", f"{STATS}/text_generation/deletion-risk?preset=critical", "text"),
    Row("popular image", f"{V2}/image_generation/popular?limit=10", "image"),
    Row("popular text", f"{V2}/text_generation/popular?limit=10", "text"),
    Row("popular text include_workers", f"{V2}/text_generation/popular?limit=10&include_workers=true", "text", True),
    Row("v2 text_generation (plain read, reference)", f"{V2}/text_generation"),
]

THROUGHPUT = [
    Row("wrk v2 image_generation (plain read)", f"{V2}/image_generation"),
    Row("wrk statistics image_generation", f"{STATS}/image_generation"),
    Row("wrk popular image_generation limit=10", f"{V2}/image_generation/popular?limit=10", "image"),
]


# -- the fake AI-Horde ----------------------------------------------------------------------------------

STATUS_PATH = "/api/v2/status/models"
WORKERS_PATH = "/api/v2/workers"
STATS_PATHS = {"image": "/api/v2/stats/img/models", "text": "/api/v2/stats/text/models"}


def _endpoint(path: str, kind: str) -> str | None:
    """The name ("image status", "text workers", …) of the usage endpoint a request asks for, or None."""
    if path in (STATUS_PATH, WORKERS_PATH) and kind in CATEGORIES:
        return f"{kind} {'status' if path == STATUS_PATH else 'workers'}"
    for name, stats_path in STATS_PATHS.items():
        if path == stats_path:
            return f"{name} stats"
    return None


class FakeHorde:
    """The AI-Horde's usage endpoints on 127.0.0.1. ``calls()`` counts the answers sent (after their last
    byte), by endpoint name ("other": anything else, answered 404). With ``vary`` set, each stats answer
    differs from the one before (the first model's monthly count grows by one per answer); otherwise every
    answer is the same."""

    def __init__(self, payloads: dict[str, Any]) -> None:
        self.payloads = payloads
        self.bodies = {name: orjson.dumps(payload) for name, payload in payloads.items()}
        self.vary = False
        self._calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                name = _endpoint(parts.path, parse_qs(parts.query).get("type", [""])[0])
                body = fake._body(name)
                self.send_response(200 if body is not None else 404)
                payload = body if body is not None else b'{"message": "not found"}'
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
                with fake._lock:
                    fake._calls[name or "other"] += 1

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-horde", daemon=True)
        self._thread.start()

    def _body(self, name: str | None) -> bytes | None:
        if name is None:
            return None
        if not (self.vary and name.endswith(" stats")):
            return self.bodies.get(name)
        with self._lock:
            generation = self._calls[name] + 1
        stats = self.payloads[name]
        varied = next(iter(stats["month"]))  # a model of the reference: its usage shows in every live answer
        month = {**stats["month"], varied: stats["month"][varied] + generation}
        return orjson.dumps({**stats, "month": month})

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def calls(self) -> Counter[str]:
        with self._lock:
            return Counter(self._calls)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _payloads() -> tuple[dict[str, Any], dict[str, int]]:
    """The fake's payloads by endpoint name, from the real data; and the model count per category."""
    sys.path.insert(0, str(ROOT))
    from tests.support import realistic_usage, reference_documents  # the test helper: same data, same fakes

    documents = reference_documents()
    payloads: dict[str, Any] = {}
    for kind, usage in realistic_usage(documents).items():
        payloads |= {f"{kind} status": usage.status, f"{kind} stats": usage.stats, f"{kind} workers": usage.workers}
    counts = {c.value: len(documents[c]) for c in documents if c.value in CATEGORIES.values()}
    return payloads, counts


# -- modelref servers -----------------------------------------------------------------------------------


def _server_env(tmp: Path, database_url: str, horde: str, ttl: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX) and k != "AI_HORDE_URL"}
    return env | {
        f"{ENV_PREFIX}DATA_DIR": str(tmp),
        f"{ENV_PREFIX}DATABASE_URL": database_url,
        f"{ENV_PREFIX}SEED_SOURCE": "none",  # imported before (run_import); never seed anything else
        f"{ENV_PREFIX}AI_HORDE_CACHE_TTL": str(ttl),
        f"{ENV_PREFIX}AI_HORDE_WAIT": "0",
        "AI_HORDE_URL": horde,
    }


@dataclasses.dataclass(frozen=True)
class Server:
    process: subprocess.Popen[bytes]
    client: httpx.Client  # keep-alive, Accept-Encoding: identity
    base: str


@contextmanager
def _server(env: dict[str, str], log: Path) -> Iterator[Server]:
    """A modelref server on CPU 0 and a client for it; both closed on the way out."""
    port = free_port()
    try:
        process = start_server(_uvicorn(APP_FACTORY, port, "--factory"), env, port, log, cpu=0)
    except BaseException:  # interrupted (SIGTERM, Ctrl-C) while it starts: start_server has not handed it over
        _stop_children()
        raise
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60, trust_env=False, headers=IDENTITY) as client:
            client.get("/api/heartbeat")
            _get(client, f"{V2}/clip")  # a small category read: the routing and encoding paths run once
            yield Server(process, client, base)
    finally:
        stop(process)


def _stop_children() -> None:
    """Stop the processes this one started that still run (by their ids), and reap them."""
    children = _children(os.getpid())
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for pid in children:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(pid, os.WNOHANG) == (0, 0):
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    break
                time.sleep(0.05)


def _get(client: httpx.Client, target: str) -> tuple[float, httpx.Response]:
    """(ms from sending to the whole body read, the response); RuntimeError unless 200."""
    start = time.perf_counter()
    response = client.get(target)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{target}: {response.status_code} {response.text[:300]}")
    return elapsed, response


def _check(row: Row, response: httpx.Response) -> None:
    """A live answer made without usage data would be empty: refuse to time it."""
    if row.kind is None:
        return
    body = response.json()
    if not body:
        raise RuntimeError(f"{row.target}: empty answer (usage data not held yet?)")
    if row.workers and not any(item.get("stats", {}).get("worker_summaries") for item in body):
        raise RuntimeError(f"{row.target}: no workers in the answer (worker list not held yet?)")


def _await_fetch(client: httpx.Client, horde: FakeHorde, before: Counter[str], kinds: dict[str, bool]) -> None:
    """Return once the fake has sent, since *before*, every answer *kinds* (kind → with workers) need and
    the server (heartbeat) holds data that new."""
    needed = [f"{k} {p}" for k, workers in kinds.items() for p in ("status", "stats", *(("workers",) * workers))]
    sent_at = None
    deadline = time.monotonic() + 30
    while True:
        now = horde.calls()
        if sent_at is None and all(now[name] > before[name] for name in needed):
            sent_at = time.monotonic()
        if sent_at is not None:
            usage = client.get("/api/heartbeat").json().get("ai_horde", {}).get("usage", {})
            ages = [(usage.get(kind) or {}).get("age_seconds") for kind in kinds]
            if all(age is not None and age <= time.monotonic() - sent_at + 0.5 for age in ages):
                break
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not fetch the usage within 30 s: {now}")
        time.sleep(0.05)
    time.sleep(0.3)  # the worker list is parsed right after it arrives; the heartbeat does not report it


def _warm_usage(server: Server, horde: FakeHorde, kinds: dict[str, bool]) -> None:
    """Make the server fetch the usage of *kinds* (kind → with workers) without computing anything from it:
    with AI_HORDE_WAIT=0 `popular?limit=1` starts the fetch and answers [] at once."""
    before = horde.calls()
    for kind, workers in kinds.items():
        flag = "true" if workers else "false"
        _, response = _get(server.client, f"{V2}/{CATEGORIES[kind]}/popular?limit=1&include_workers={flag}")
        if response.content != b"[]":
            raise RuntimeError("the usage warm-up computed an answer (was the usage already held?)")
    _await_fetch(server.client, horde, before, kinds)


# -- part 1 ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Latency:
    new_process: float | None  # ms
    new_data: float | None
    after_above: float
    median: float
    p95: float
    size: int  # bytes, identity encoding
    etag: bool


def _progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def _new_process(rows: list[Row], env: dict[str, str], horde: FakeHorde, log: Path) -> dict[str, float]:
    """Per row, its first request on a server of its own (the usage it needs fetched, nothing computed)."""
    found = {}
    for row in rows:
        with _server(env, log) as server:
            if row.kind is not None:
                _warm_usage(server, horde, {row.kind: row.workers})
            found[row.label], response = _get(server.client, row.target)
            _check(row, response)
        _progress(f"{row.label}: first request, new process {found[row.label]:.1f} ms")
    return found


def _new_data(rows: list[Row], env: dict[str, str], horde: FakeHorde, log: Path) -> dict[str, float]:
    """Per live row, its first request after the AI-Horde's answer changed, on a warm server (TTL 1 s)."""
    live = [row for row in rows if row.kind is not None]
    if not live:
        return {}
    found = {}
    horde.vary = True
    try:
        with _server(env, log) as server:
            _warm_usage(server, horde, BOTH_KINDS)
            for row in rows:  # every answer made once: the process is as warm as the shared server will be
                _get(server.client, row.target)
            fetched = time.monotonic()
            for row in live:
                kinds = {row.kind: row.workers} if row.kind else {}
                for _attempt in range(3):
                    time.sleep(max(0.0, fetched + 1.1 - time.monotonic()))  # the held answers are now stale
                    before = horde.calls()
                    _, stale = _get(server.client, row.target)  # answered from the stale data; starts a refresh
                    _await_fetch(server.client, horde, before, kinds)
                    fetched = time.monotonic()
                    elapsed, response = _get(server.client, row.target)
                    if response.headers.get("etag") != stale.headers.get("etag"):
                        break  # made from the new answer (the tags name the AI-Horde answers used)
                    # else the refresh beat the first request, which made the answer: again
                else:
                    raise RuntimeError(f"{row.target}: the ETag did not change with the AI-Horde's answer")
                _check(row, response)
                found[row.label] = elapsed
                _progress(f"{row.label}: first request after new AI-Horde data {elapsed:.1f} ms")
    finally:
        horde.vary = False
    return found


def _on_shared_server(row: Row, client: httpx.Client, repeats: int) -> Latency:
    first, response = _get(client, row.target)
    _check(row, response)
    times = [_get(client, row.target)[0] for _ in range(repeats)]
    p95 = statistics.quantiles(times, n=20, method="inclusive")[18] if len(times) > 1 else times[0]
    etag = "etag" in response.headers
    return Latency(None, None, first, statistics.median(times), p95, len(response.content), etag)


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}{'!' if value > TARGET_MS else ' '}"


def _report_latency(rows: list[Row], results: dict[str, Latency], repeats: int) -> None:
    print(f"Part 1 — latency with a warm usage cache (ms, client-side; '!' = over {TARGET_MS:.0f} ms)")
    print("  new process: the row's first request on a server of its own (AI-Horde answers held; usual answers")
    print("               made in the background as they arrive)")
    print("  new data:    its first request on a warm server after the AI-Horde's answer changed (live rows)")
    print("  after above: its first request on the shared server, after the rows above (same AI-Horde answers)")
    print(f"  median / p95: {repeats} repeated requests on the shared server, answer cached, keep-alive")
    header = (
        f"{'row':<44}{'new process':>12}{'new data':>10}{'after above':>12}{'median':>9}{'p95':>8}"
        f"{'bytes':>10}{'ETag':>6}  < 20 ms"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        r = results[row.label]
        named = {"new process": r.new_process, "new data": r.new_data, "after above": r.after_above, "p95": r.p95}
        over = [name for name, value in named.items() if value is not None and value > TARGET_MS]
        verdict = "ok" if not over else f"OVER ({', '.join(over)})"
        etag = "yes" if r.etag else "NO"
        figures = f"{_ms(r.new_process):>12}{_ms(r.new_data):>10}{_ms(r.after_above):>12}"
        figures += f"{_ms(r.median):>9}{_ms(r.p95):>8}{r.size:>10,}{etag:>6}"
        print(f"{row.label:<44}{figures}  {verdict}")


# -- part 2 ---------------------------------------------------------------------------------------------


def _throughput(
    cases: list[Row], server: Server, horde: FakeHorde, args: argparse.Namespace
) -> dict[str, tuple[Run, Counter[str]]]:
    found = {}
    for row in cases:
        _, response = _get(server.client, row.target)  # the answer made and cached before wrk
        _check(row, response)
        url = server.base + row.target
        _wrk(url, IDENTITY, 1, args.connections, server.process.pid)  # warm-up
        before = horde.calls()
        run = _wrk(url, IDENTITY, args.duration, args.connections, server.process.pid)
        found[row.label] = (run, horde.calls() - before)
        _progress(f"{row.label}: {run.rps:.0f} req/s")
    return found


def _report_throughput(rows: list[Row], results: dict[str, tuple[Run, Counter[str]]], args: argparse.Namespace) -> None:
    print(
        f"Part 2 — throughput: wrk -t1 -c{args.connections} {args.duration}s on CPU 1, one uvicorn process on CPU 0"
        " (answers cached)"
    )
    header = f"{'case':<40}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'µs CPU/req':>12}{'requests':>10}  AI-Horde calls"
    print(header)
    print("-" * len(header))
    for row in rows:
        run, calls = results[row.label]
        shown = ", ".join(f"{name} {n}" for name, n in sorted(calls.items()) if n) or "0"
        figures = f"{run.rps:>9.0f}{run.p50:>9.2f}{run.p99:>9.2f}{run.cpu_per_request:>12.0f}{run.requests:>10}"
        print(f"{row.label:<40}{figures}  {shown}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _computations() -> list[tuple[str, float]]:
    """Part 0: the domain computations behind the live answers, timed in this process (ms, best of 5)."""
    sys.path.insert(0, str(ROOT))
    from tests.support import realistic_usage, reference_documents

    from modelref.domain.categories import Category
    from modelref.domain.risk import RiskPolicy, analyse, deletion_risk, grouped
    from modelref.domain.usage import (
        HordeModelStatus,
        HordeStats,
        HordeUsage,
        HordeWorker,
        PopularSort,
        UsageIndex,
        WithStatsParams,
        popular,
        with_stats,
    )

    documents = reference_documents()
    payloads = realistic_usage(documents)
    policy = RiskPolicy()
    found: list[tuple[str, float]] = []

    def best(label: str, work: Any) -> Any:
        result = work()
        times = []
        for _ in range(5):
            started = time.perf_counter()
            work()
            times.append(time.perf_counter() - started)
        found.append((label, 1000 * min(times)))
        return result

    def measure(kind: str, category: Category) -> None:
        fake = payloads[kind]
        usage = HordeUsage(
            tuple(HordeModelStatus.model_validate(s) for s in fake.status),
            HordeStats.model_validate(fake.stats),
            tuple(HordeWorker.model_validate(w) for w in fake.workers),
        )
        models = list(documents[category].items())

        def joined() -> UsageIndex:
            index = UsageIndex(usage)
            for name, _ in models:
                index.combined(name)
            return index

        n = f"{kind} ({len(models)} models)"
        best(f"{n}: usage index", lambda: UsageIndex(usage))
        index = best(f"{n}: usage index and every model joined", joined)
        base = best(f"{n}: deletion risk, analysis (joins made)", lambda: analyse(category, models, index, policy))
        if category is Category.TEXT_GENERATION:
            best(f"{n}: deletion risk, grouped (from the analysis)", lambda: grouped(base, policy))
            best(
                f"{n}: deletion risk, backend variations (joins included)",
                lambda: analyse(category, models, UsageIndex(usage), policy, variations=True),
            )
        best(f"{n}: deletion risk, encoded", lambda: deletion_risk(base).model_dump_json())
        best(f"{n}: popular (joins made)", lambda: popular(models, index, PopularSort.WORKER_COUNT, 10))
        best(f"{n}: with-stats (joins made)", lambda: with_stats(models, index, WithStatsParams()))

    measure("image", Category.IMAGE_GENERATION)
    measure("text", Category.TEXT_GENERATION)
    return found


def _report_computations(found: list[tuple[str, float]]) -> None:
    print("Part 0 — the computations behind the live answers (ms, best of 5; on the refresh thread, after each")
    print("         AI-Horde change, off the request path)")
    for label, ms in found:
        print(f"  {label:<60}{ms:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (part 2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (part 2)")
    parser.add_argument("--repeats", type=int, default=50, help="repeated requests per row (part 1)")
    parser.add_argument("--only", metavar="SUBSTRING", help="run only the rows/cases whose label contains this")
    args = parser.parse_args()
    exit_on_sigterm()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    if args.repeats < 1 or args.duration < 1 or args.connections < 1:
        sys.exit("--repeats, --duration and --connections must be at least 1")

    def chosen(rows: list[Row]) -> list[Row]:
        return [r for r in rows if args.only is None or args.only.lower() in r.label.lower()]

    rows, cases = chosen(ROWS), chosen(THROUGHPUT)
    if not rows and not cases:
        sys.exit(f"no row matches {args.only!r}: {[r.label for r in ROWS + THROUGHPUT]}")

    os.sched_setaffinity(0, {1})  # this process (client, fake AI-Horde) and wrk on CPU 1, the servers on CPU 0
    load = _load()
    started = time.monotonic()
    computations = _computations() if args.only is None else []
    payloads, counts = _payloads()
    horde = FakeHorde(payloads)
    latency: dict[str, Latency] = {}
    throughput: dict[str, tuple[Run, Counter[str]]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="modelref-usage-") as tmp_name:
            tmp = Path(tmp_name)
            database_url = f"sqlite:///{tmp}/modelref.sqlite3"
            env = _server_env(tmp, database_url, horde.base, ttl=3600)
            where = modelref_location(env)
            run_import(env, database_url)
            log = tmp / "modelref.log"

            new_process = _new_process(rows, env, horde, log)
            new_data = _new_data(rows, _server_env(tmp, database_url, horde.base, ttl=1), horde, log)
            with _server(env, log) as shared:
                _warm_usage(shared, horde, BOTH_KINDS)
                for row in rows:
                    measured = _on_shared_server(row, shared.client, args.repeats)
                    latency[row.label] = dataclasses.replace(
                        measured, new_process=new_process[row.label], new_data=new_data.get(row.label)
                    )
                    shown = f"{measured.after_above:.1f} ms, then median {measured.median:.1f} ms"
                    _progress(f"{row.label}: first request after the rows above {shown}")
                throughput = _throughput(cases, shared, horde, args)
            server_log = log.read_text(errors="replace") if log.exists() else ""
    finally:
        horde.close()

    print(f"modelref from {where}; load average before / after: {load} / {_load()}")
    sizes = ", ".join(f"{name} {len(body) / 1000:.0f} kB" for name, body in horde.bodies.items())
    print(f"models: {', '.join(f'{c} {n}' for c, n in counts.items())}; fake AI-Horde bodies: {sizes}")
    total = horde.calls()
    print(f"fake AI-Horde answers over the whole run: {', '.join(f'{k} {v}' for k, v in sorted(total.items()))}")
    if server_log.strip():
        print(f"server log (warnings and errors, last lines):\n{server_log[-2000:]}")
    print()
    if args.only is None:
        _report_computations(computations)
        print()
    if rows:
        _report_latency(rows, latency, args.repeats)
        print()
    if cases:
        _report_throughput(cases, throughput, args)
        print()
    print(f"(took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
