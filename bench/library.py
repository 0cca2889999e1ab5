"""The library and REPLICA mode: the client's own costs, REPLICA vs PRIMARY reads, and what polling costs a PRIMARY.

    .venv/bin/python bench/library.py [--quick] [--parts 1,2,3] [--runs 7] [--duration 5] [--rounds 3]
                                      [--connections 32] [--poll-seconds 20] [--replicas 1000] [--interval 60]

Starts a PRIMARY (`python -m modelref.cli serve`, seeded from ../shared/reference-data into a temporary data
directory) pinned to CPU 0; this process pins itself to CPU 1 (so does wrk). HORDE_MODEL_REFERENCE_* variables
of the calling shell are not passed on to the servers. Everything lives in one temporary directory, removed at
the end; the servers are stopped (also on Ctrl-C or SIGTERM).

1. Library (ModelReference in this process): a cold load of all 14 categories into an empty cache directory
   (a fresh cache directory and a fresh object per run), a warm refresh() answered by one 304 poll, a start
   from the disk copy alone (offline=True, get_category of every category) and the cost of warm
   get_category / get_model / query calls.
2. REPLICA vs PRIMARY: a REPLICA (`serve` in REPLICA mode, its poll interval set to an hour so that it does
   not poll while measured) on CPU 0 as well; wrk against each on the same requests, rounds interleaved, as
   bench/reads.py does (req/s and the server's CPU time per request from /proc/PID/stat).
3. PRIMARY CPU per poll: `GET v2/metadata/last_updated` with If-None-Match of the current catalog tag (each
   answer checked to be a 304), and the fallback against a PRIMARY without that endpoint: one conditional
   GET per category (14 requests; empty categories carry no ETag and answer 404). Measured two ways: polls
   paced at the rate of --replicas REPLICAs polling every --interval seconds, each on a new connection as a
   REPLICA's would be (its keep-alive connection is long closed after 60 s), with the PRIMARY's idle CPU
   subtracted (per-thread CPU from /proc/PID/task/*/schedstat, in ns); and wrk at full load. The cost of
   the REPLICAs = polls per second × CPU per poll, as a share of one core (target < 2 %). The same polls
   against bench/ceiling.py (a bare ASGI app replaying the PRIMARY's exact answers) give the floor any
   uvicorn process pays per request on this machine.

Each part also says how much CPU other processes took meanwhile (the machine may be shared): their load
lowers req/s and raises the CPU time per request.

Needs wrk (Debian: apt-get install wrk). Set PYTHONPATH=<checkout>/src to measure another checkout.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from _common import (
    REFERENCE_DATA,
    ROOT,
    V1,
    V2,
    cpu_us,
    exit_on_sigterm,
    free_port,
    modelref_location,
    start_server,
    stop,
)
from modelref import Category, ModelReference
from modelref.client import remote
from modelref.client.mirror import USER_AGENT
from modelref.client.remote import NOT_MODIFIED, Copy
from modelref.domain.tags import catalog_tag
from reads import Run, _median, _search, _uvicorn, _wrk

ENV_PREFIX = "HORDE_MODEL_REFERENCE_"
POLL = f"{V2}/metadata/last_updated"
IDENTITY = {"Accept-Encoding": "identity"}

READS = [
    ("v2 image_generation (whole)", f"{V2}/image_generation"),
    ("v2 text_generation (whole)", f"{V2}/text_generation"),
    ("v2 one model (Deliberate)", f"{V2}/image_generation/model/Deliberate"),
    ("v2 image search, 50 results", f"{V2}/image_generation/search?limit=50&sort_by=name"),
    ("v1 text_generation", f"{V1}/text_generation"),
]


# -- servers --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    process: subprocess.Popen[bytes]
    base: str  # http://127.0.0.1:PORT

    @property
    def api(self) -> str:
        return self.base + "/api"

    @property
    def pid(self) -> int:
        return self.process.pid


def _clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    return env | {ENV_PREFIX + k: v for k, v in settings.items()}


@contextmanager
def _serve(env: dict[str, str], log: Path) -> Iterator[Server]:
    """`modelref serve` pinned to CPU 0, access log off, warnings only; stopped on the way out."""
    port = free_port()
    command = [sys.executable, "-m", "modelref.cli", "serve", "--port", str(port), "--log-level", "warning"]
    process = start_server(command, env, port, log, cpu=0)
    try:
        yield Server(process, f"http://127.0.0.1:{port}")
    finally:
        stop(process)


# -- CPU time of a server, precise ----------------------------------------------------------------------


def _task_ns(pid: int) -> dict[int, int]:
    """Per thread of *pid*, the CPU time it has used (ns, from /proc/PID/task/TID/schedstat)."""
    found = {}
    for entry in os.listdir(f"/proc/{pid}/task"):
        try:
            found[int(entry)] = int(Path(f"/proc/{pid}/task/{entry}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended between listing and reading
    return found


class CpuMeter:
    """The CPU time a process uses from now on: per-thread nanoseconds when no thread ends in between, else
    utime + stime from /proc/PID/stat (10 ms ticks, but counting ended threads too)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.tasks = _task_ns(pid)
        self.ticks_us = cpu_us(pid)

    def used_us(self) -> float:
        tasks = _task_ns(self.pid)
        ticks_us = cpu_us(self.pid)
        if not self.tasks.keys() <= tasks.keys():
            return ticks_us - self.ticks_us
        return sum(ns - self.tasks.get(tid, 0) for tid, ns in tasks.items()) / 1000


class Others:
    """How much of the machine's CPU time other processes (other people's builds, tests, benchmarks) took
    from now on: all busy time in /proc/stat less this process, its children and the servers measured."""

    def __init__(self, *pids: int) -> None:
        self.pids = pids
        self.started = time.monotonic()
        self.busy = self._busy_us()
        self.ours = self._ours_us()

    @staticmethod
    def _busy_us() -> float:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields
        return (user + nice + system + irq + softirq + steal) * 1_000_000 / os.sysconf("SC_CLK_TCK")

    def _ours_us(self) -> float:
        times = os.times()
        own = times.user + times.system + times.children_user + times.children_system
        return own * 1_000_000 + sum(cpu_us(pid) for pid in self.pids)

    def describe(self) -> str:
        elapsed = time.monotonic() - self.started
        others = (self._busy_us() - self.busy) - (self._ours_us() - self.ours)
        share = max(0.0, others) / (elapsed * 1e4 * (os.cpu_count() or 1))
        return f"other processes used {share:.0f} % of the machine's {os.cpu_count()} CPUs meanwhile ({elapsed:.0f} s)"


# -- part 1: the library --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    label: str
    values: list[float]
    unit: str  # "ms" or "µs"
    note: str = ""


def _per_call_us(call: Callable[[], object], repeats: int) -> list[float]:
    timer = timeit.Timer(call)
    number, _ = timer.autorange()  # enough calls for ≥ 0.2 s
    return [total / number * 1e6 for total in timer.repeat(repeats, number)]


def _library(primary: Server, work: Path, args: argparse.Namespace) -> list[Timing]:
    api = primary.api
    cold, client_cpu, server_cpu = [], [], []
    records = 0
    for run in range(args.runs + 1):  # run 0 warms both sides up and is not counted
        cache = work / f"cold-{run}"
        meter = CpuMeter(primary.pid)
        cpu_before, started = time.process_time(), time.perf_counter()
        with ModelReference(base_url=api, cache_dir=cache, github=False, ttl=3600) as reference:
            changed = reference.refresh()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_before
        if sorted(changed) != sorted(Category):
            raise RuntimeError(f"cold load brought {len(changed)} categories, not {len(Category)}")
        records = sum(len(copy.records) for copy in reference.mirror.copies.values())
        if run:
            cold.append(elapsed * 1000)
            client_cpu.append(cpu * 1000)
            server_cpu.append(meter.used_us() / 1000)
        shutil.rmtree(cache)
    print(f"  cold load: {statistics.median(cold):.0f} ms", file=sys.stderr, flush=True)

    cache = work / "warm"
    reference = ModelReference(base_url=api, cache_dir=cache, github=False, ttl=3600)
    try:
        reference.refresh()
        answers: list[tuple[str, int]] = []
        reference.mirror.http.event_hooks["response"].append(lambda r: answers.append((r.url.path, r.status_code)))
        warm = []
        for _ in range(args.runs * 5):
            answers.clear()
            started = time.perf_counter()
            changed = reference.refresh()
            warm.append((time.perf_counter() - started) * 1000)
            if changed or answers != [(POLL, 304)]:
                raise RuntimeError(f"a warm refresh() was not one 304 poll: changed {changed}, answers {answers}")

        construct = []
        for _ in range(args.runs):
            started = time.perf_counter()
            ModelReference(base_url=api, cache_dir=cache, github=False, offline=True).close()
            construct.append((time.perf_counter() - started) * 1000)

        assert reference.mirror.cache is not None
        files = [reference.mirror.cache.path(c) for c in Category]
        inodes = [path.stat().st_ino for path in files]
        rewritten = 0  # files the first offline start replaced (a new inode: written anew, not just read)
        offline = []
        for run in range(args.runs + 1):
            started = time.perf_counter()
            with ModelReference(base_url=api, cache_dir=cache, github=False, offline=True, ttl=3600) as alone:
                held = sum(len(alone.get_category(category)) for category in Category)
            if held != records:
                raise RuntimeError(f"offline start held {held} records, not {records}")
            if run:
                offline.append((time.perf_counter() - started) * 1000)
            else:
                rewritten = sum(path.stat().st_ino != inode for path, inode in zip(files, inodes, strict=True))

        image, text = Category.IMAGE_GENERATION, Category.TEXT_GENERATION
        calls: list[tuple[str, str, Callable[[], object]]] = [
            (
                f"get_category({c.value})",
                f"{len(reference.get_category(c))} records",
                partial(reference.get_category, c),
            )
            for c in (image, text)
        ]
        calls.append(
            ("get_model(image_generation, 'Deliberate')", "", partial(reference.get_model, image, "Deliberate"))
        )
        queries: list[tuple[Category, dict[str, Any]]] = [
            (image, {"baseline": "stable_diffusion_xl", "sort_by": "name"}),
            (text, {"name_contains": "llama", "limit": 50}),
        ]
        for category, filters in queries:
            found = len(reference.query(category, **filters))
            shown = ", ".join(f"{k}={v!r}" for k, v in filters.items())
            calls.append(
                (f"query({category.value}, {shown})", f"{found} hits", partial(reference.query, category, **filters))
            )
        timings = [
            Timing(
                f"cold load: refresh() of {len(Category)} categories",
                cold,
                "ms",
                f"{records} records; fresh dir + object",
            ),
            Timing("  client CPU of a cold load (this process)", client_cpu, "ms", "parse, validate, write to disk"),
            Timing("  PRIMARY CPU of a cold load", server_cpu, "ms", "14 v2 GETs, br-encoded"),
            Timing("  ModelReference() alone (+ close)", construct, "ms", "its httpx client's TLS context"),
            Timing("warm refresh(): one poll answered 304", warm, "ms", "each checked; + 14 cache mtimes set"),
            Timing(
                "offline start: get_category() × 14 from disk",
                offline,
                "ms",
                f"fresh object, offline=True; rewrote {rewritten}/{len(Category)} cache files",
            ),
        ]
        for label, note, call in calls:
            timings.append(Timing(f"warm {label}", _per_call_us(call, args.repeats), "µs", note))
    finally:
        reference.close()
    return timings


def _report_library(timings: list[Timing], others: str, args: argparse.Namespace) -> None:
    print(f"1. Library (ModelReference in this process on CPU 1; the PRIMARY on CPU 0), median of {args.runs} runs")
    print(f"   call costs: timeit, median of {args.repeats} repeats of ≥0.2 s each; {others}")
    header = f"   {'operation':<76}{'median':>10}{'min':>10}{'max':>10}  {'n':>3}  note"
    print(header)
    print("   " + "-" * (len(header) - 3))
    for t in timings:
        unit = f" {t.unit}"
        figures = "".join(f"{f'{v:.1f}' if v < 100 else f'{v:.0f}'}{unit}".rjust(10) for v in _spread(t.values))
        print(f"   {t.label:<76}{figures}  {len(t.values):>3}  {t.note}")
    print()


def _spread(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


# -- part 2: REPLICA vs PRIMARY --------------------------------------------------------------------------


def _compare(replica: Server, primary: Server) -> dict[str, str]:
    """Per case whether both servers answer the same status, bytes and ETag."""
    same = {}
    with httpx.Client(timeout=30, trust_env=False, headers=IDENTITY) as client:
        for label, target in READS:
            a, b = client.get(replica.base + target), client.get(primary.base + target)
            if a.status_code != 200 or b.status_code != 200:
                raise RuntimeError(f"{target}: REPLICA {a.status_code}, PRIMARY {b.status_code}")
            equal = a.content == b.content and a.headers.get("etag") == b.headers.get("etag")
            same[label] = f"yes ({len(b.content) / 1024:.0f} KB)" if equal else "NO"
    return same


def _replica_status(replica: Server) -> str:
    beat = httpx.get(replica.api + "/heartbeat", timeout=10, trust_env=False).json()["replica"]
    if beat["source"] != "primary" or beat["missing"]:
        raise RuntimeError(f"the REPLICA is not fed by its PRIMARY: {beat}")
    return f"source {beat['source']}, {sum(c['records'] for c in beat['categories'].values())} records"


def _reads(replica: Server, primary: Server, args: argparse.Namespace) -> dict[str, tuple[Run, Run]]:
    results = {}
    for label, target in READS:
        runs: dict[str, list[Run]] = {replica.base: [], primary.base: []}
        for server in (replica, primary):
            _wrk(server.base + target, IDENTITY, 1, args.connections, server.pid)  # warm-up
        for _ in range(args.rounds):
            for server in (replica, primary):
                run = _wrk(server.base + target, IDENTITY, args.duration, args.connections, server.pid)
                runs[server.base].append(run)
        results[label] = (_median(runs[replica.base]), _median(runs[primary.base]))
        r, p = results[label]
        print(f"  {label}: {r.rps:.0f} / {p.rps:.0f} req/s", file=sys.stderr, flush=True)
    return results


def _report_reads(
    results: dict[str, tuple[Run, Run]], same: dict[str, str], status: str, others: str, args: argparse.Namespace
) -> None:
    print(
        f"2. REPLICA vs PRIMARY reads — one uvicorn process each on CPU 0, wrk -t1 -c{args.connections} on CPU 1, "
        f"Accept-Encoding: identity; median of {args.rounds} interleaved {args.duration} s runs"
    )
    print(f"   REPLICA: {status}, poll interval 3600 s (no poll while measured); {others}")
    header = (
        f"   {'request':<30}{'REPLICA':>10}{'PRIMARY':>10}{'ratio':>7}{'REPLICA':>10}{'PRIMARY':>10}{'ratio':>7}"
        f"{'REPLICA':>9}{'PRIMARY':>9}  same bytes + ETag"
    )
    print(header)
    units = f"{'req/s':>10}{'req/s':>10}{'R/P':>7}{'µs/req':>10}{'µs/req':>10}{'R/P':>7}{'p99 ms':>9}{'p99 ms':>9}"
    print(f"   {'':<30}{units}")
    print("   " + "-" * (len(header) - 3))
    for label, _ in READS:
        r, p = results[label]
        figures = (
            f"{r.rps:>10.0f}{p.rps:>10.0f}{r.rps / p.rps:>7.2f}"
            f"{r.cpu_per_request:>10.1f}{p.cpu_per_request:>10.1f}{r.cpu_per_request / p.cpu_per_request:>7.2f}"
            f"{r.p99:>9.2f}{p.p99:>9.2f}"
        )
        print(f"   {label:<30}{figures}  {same[label]}")
    print()


# -- part 3: what polling costs the PRIMARY -------------------------------------------------------------

LUA = """
local targets = {
@TARGETS@
}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  prepared = {}
  for i, target in ipairs(targets) do
    local h = {}
@HEADERS@
    if target[2] ~= "" then h["If-None-Match"] = '"' .. target[2] .. '"' end
    prepared[i] = wrk.format("GET", target[1], h)
  end
  position = 0
  s304, s404, other = 0, 0, 0
end
function request()
  position = position % #prepared + 1
  return prepared[position]
end
function response(status, headers, body)
  if status == 304 then s304 = s304 + 1 elseif status == 404 then s404 = s404 + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do a = a + t:get("s304"); b = b + t:get("s404"); c = c + t:get("other") end
  io.write(string.format("STATUS 304=%d 404=%d other=%d\\n", a, b, c))
end
"""


def _lua_string(text: str) -> str:
    if re.search(r'["\\\n\r]', text):
        raise ValueError(f"cannot quote {text!r} for Lua")
    return f'"{text}"'


def _lua_script(targets: list[tuple[str, str]], headers: dict[str, str], path: Path) -> Path:
    """A wrk script sending *targets* (path, ETag or "") in turn, counting 304, 404 and other answers."""
    rows = ",\n".join(f"  {{{_lua_string(p)}, {_lua_string(t)}}}" for p, t in targets)
    lines = "\n".join(f"    h[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items())
    path.write_text(LUA.replace("@TARGETS@", rows).replace("@HEADERS@", lines))
    return path


@dataclass(frozen=True)
class Scripted:
    requests: int
    cpu_per_request: float  # µs
    statuses: Counter[int]


def _wrk_script(base: str, script: Path, duration: int, connections: int, pid: int) -> Scripted:
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(script), base]
    meter = CpuMeter(pid)
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    time.sleep(0.2)  # let the server finish the requests wrk abandoned at the deadline
    used = meter.used_us()
    requests = int(_search(r"(\d+) requests in", output).group(1))
    a, b, c = (int(x) for x in _search(r"STATUS 304=(\d+) 404=(\d+) other=(\d+)", output).groups())
    return Scripted(requests, used / max(requests, 1), +Counter({304: a, 404: b, 0: c}))


@dataclass(frozen=True)
class Measured:
    cpu_per_poll: float  # µs of server CPU per poll (paced: its idle use subtracted)
    statuses: Counter[int]
    rate: float | None = None  # paced: the polls per second achieved


@dataclass(frozen=True)
class PollRow:
    label: str
    per_poll: int  # requests per poll
    expected: Counter[int]  # the statuses of one correct poll
    ours: Measured
    bare: Measured


@dataclass(frozen=True)
class PollFacts:
    tag: str  # the catalog tag polled with
    rate: float  # polls per second wanted
    idle: dict[str, float]  # per server ("ours", "bare"), µs of CPU per second it uses unpolled
    totals: dict[str, float]  # per way of polling, µs of PRIMARY CPU per second while paced (idle included)
    empty: list[str]  # categories without records (no ETag: answered 404)


def _paced(
    pid: int, rate: float, seconds: float, idle_us_per_s: float, poll: Callable[[], None]
) -> tuple[float, float, float]:
    """Polls at *rate* per second for *seconds*: the server's CPU µs per poll less its idle use, its total
    CPU µs per second while polled, and the rate achieved."""
    count = max(1, round(rate * seconds))
    meter = CpuMeter(pid)
    started = time.perf_counter()
    for i in range(count):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        poll()
    delay = started + count / rate - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
    elapsed = time.perf_counter() - started
    used = meter.used_us()
    return (used - idle_us_per_s * elapsed) / count, used / elapsed, count / elapsed


def _idle_us_per_s(pid: int, seconds: float) -> float:
    meter = CpuMeter(pid)
    time.sleep(seconds)
    return meter.used_us() / seconds


def _ceiling_cases(base: str, requests: list[tuple[str, dict[str, str]]], path: Path) -> Path:
    """The PRIMARY's exact answers to *requests*, in the form bench/ceiling.py replays."""
    cases = []
    with httpx.Client(timeout=30, trust_env=False) as client:
        for target, headers in requests:
            lowered = {k.lower(): v for k, v in headers.items()}
            gzip = "gzip" in lowered.get("accept-encoding", "")
            variant = "etag" if "if-none-match" in lowered else "gzip" if gzip else ""
            with client.stream("GET", base + target, headers=headers) as response:
                body = b"".join(response.iter_raw())
                kept = [(k, v) for k, v in response.headers.items() if k not in ("date", "server")]
                cases.append(
                    {
                        "target": target,
                        "variant": variant,
                        "status": response.status_code,
                        "headers": kept,
                        "body": base64.b64encode(body).decode(),
                    }
                )
    path.write_text(json.dumps(cases))
    return path


def _polls(primary: Server, work: Path, args: argparse.Namespace) -> tuple[list[PollRow], PollFacts]:
    with ModelReference(base_url=primary.api, cache_dir=work / "poller", github=False, ttl=3600) as reference:
        reference.refresh()
        copies = {category: reference.mirror.copies[category] for category in Category}
    held_tag = catalog_tag(copies[c].tag for c in Category)
    with httpx.Client(timeout=10, trust_env=False) as client:
        served_tag = client.get(primary.base + POLL).headers["etag"].strip('"')
        check = client.get(primary.base + POLL, headers={"If-None-Match": f'"{held_tag}"'})
    if served_tag != held_tag or check.status_code != 304:
        raise RuntimeError(f"poll tag {served_tag} vs held {held_tag}: If-None-Match answered {check.status_code}")
    ssl_context = httpx.create_ssl_context()  # made once: a new client per poll then costs ~1 ms, not ~100
    with httpx.Client(verify=ssl_context) as library_like:
        accept_encoding = library_like.headers["accept-encoding"]  # what the library's client sends
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": accept_encoding}
    empty = [c for c in Category if copies[c].source_tag is None]
    each = f"{len(Category)} conditional v2 GETs"
    expected_each = Counter({304: len(Category) - len(empty), 404: len(empty)})
    poll_targets = [(POLL, held_tag)]
    each_targets = [(f"{V2}/{c.value}", copies[c].source_tag or "") for c in Category]

    statuses: Counter[int] = Counter()

    def new_client() -> httpx.Client:
        hooks = {"response": [lambda r: statuses.update([r.status_code])]}
        return httpx.Client(timeout=10, headers=headers, verify=ssl_context, trust_env=False, event_hooks=hooks)

    def poll_endpoint(api: str) -> None:
        with new_client() as http:
            if remote.poll(http, api, held_tag):
                raise RuntimeError(f"{api}: the poll said the catalog changed")

    kept: dict[str, httpx.Client] = {}

    def poll_endpoint_kept(api: str) -> None:
        """As a REPLICA polls once its connection is kept between polls (the service keeps it 75 s)."""
        http = kept.get(api) or kept.setdefault(api, new_client())
        if remote.poll(http, api, held_tag):
            raise RuntimeError(f"{api}: the poll said the catalog changed")

    def poll_each(api: str) -> None:
        with new_client() as http:
            for category, copy in copies.items():
                got = remote.fetch_v2(http, api, category, copy.source_tag)
                if got != NOT_MODIFIED and not (isinstance(got, Copy) and got.tag == copy.tag):
                    raise RuntimeError(f"{api}: {category.value} changed while polled")

    def with_tag(target: tuple[str, str]) -> tuple[str, dict[str, str]]:
        path, tag = target
        return path, headers | ({"If-None-Match": f'"{tag}"'} if tag else {})

    cases = _ceiling_cases(primary.base, [with_tag(t) for t in poll_targets + each_targets], work / "ceiling.json")
    ceiling_env = {**os.environ, "CEILING_CASES": str(cases), "PYTHONPATH": str(ROOT / "bench")}
    port = free_port()
    command = _uvicorn("ceiling:app", port, "--lifespan", "off")
    ceiling = Server(start_server(command, ceiling_env, port, work / "ceiling.log", cpu=0), f"http://127.0.0.1:{port}")
    servers = {"ours": primary, "bare": ceiling}
    rate = args.replicas / args.interval
    rows = []
    totals: dict[str, float] = {}
    try:
        idle = {name: _idle_us_per_s(s.pid, max(3.0, args.poll_seconds / 2)) for name, s in servers.items()}
        print(f"  idle: {idle['ours']:.0f} / {idle['bare']:.0f} µs CPU/s", file=sys.stderr, flush=True)
        for label, how, poll, per_poll, expected in (
            ("poll endpoint", "new connection each", poll_endpoint, 1, Counter({304: 1})),
            ("poll endpoint", "kept-alive connection", poll_endpoint_kept, 1, Counter({304: 1})),
            (each, "new connection each", poll_each, len(Category), expected_each),
        ):
            measured = {}
            for name, server in servers.items():
                poll(server.api)  # warm-up, not counted
                statuses.clear()
                per, total, achieved = _paced(
                    server.pid, rate, args.poll_seconds, idle[name], partial(poll, server.api)
                )
                measured[name] = Measured(per, Counter(statuses), achieved)
                if name == "ours":
                    totals[f"{label}, {how}"] = total
            row = PollRow(f"{label}, paced, {how}", per_poll, expected, measured["ours"], measured["bare"])
            rows.append(row)
            print(f"  {row.label}: {row.ours.cpu_per_poll:.0f} / {row.bare.cpu_per_poll:.0f} µs", file=sys.stderr)

        variants = [
            ("poll endpoint", poll_targets, {}, Counter({304: 1})),
            ("poll endpoint", poll_targets, {"Connection": "close"}, Counter({304: 1})),
            (each, each_targets, {}, expected_each),
        ]
        for number, (label, targets, extra, expected) in enumerate(variants):
            script = _lua_script(targets, headers | extra, work / f"poll-{number}.lua")
            runs: dict[str, list[Scripted]] = {name: [] for name in servers}
            for server in servers.values():
                _wrk_script(server.base, script, 1, args.connections, server.pid)  # warm-up
            for _ in range(args.rounds):
                for name, server in servers.items():
                    runs[name].append(_wrk_script(server.base, script, args.duration, args.connections, server.pid))
            measured = {}
            for name, done in runs.items():
                seen: Counter[int] = Counter()
                for run in done:
                    seen.update(run.statuses)
                measured[name] = Measured(statistics.median(r.cpu_per_request for r in done) * len(targets), seen)
            connection = "Connection: close" if extra else "keep-alive"
            row = PollRow(
                f"{label}, wrk -c{args.connections} {connection}",
                len(targets),
                expected,
                measured["ours"],
                measured["bare"],
            )
            rows.append(row)
            print(f"  {row.label}: {row.ours.cpu_per_poll:.0f} / {row.bare.cpu_per_poll:.0f} µs", file=sys.stderr)
    finally:
        for client in kept.values():
            client.close()
        stop(ceiling.process)
    return rows, PollFacts(held_tag, rate, idle, totals, [c.value for c in empty])


def _answers(statuses: Counter[int], expected: Counter[int]) -> str:
    """The statuses seen, and whether they are the expected ones in the expected proportions (±2 %)."""
    shown = " ".join(f"{n}×{code or 'other'}" for code, n in sorted(statuses.items()) if n)
    total, share = sum(statuses.values()), sum(expected.values())
    right = (
        total > 0
        and not {code for code, n in statuses.items() if n} - set(expected)
        and all(abs(statuses[code] / total - n / share) < 0.02 for code, n in expected.items())
    )
    return shown + ("" if right else "  NOT AS EXPECTED")


def _report_polls(rows: list[PollRow], facts: PollFacts, others: str, args: argparse.Namespace) -> None:
    rate, idle = facts.rate, facts.idle
    print(
        f"3. PRIMARY CPU per poll — {args.replicas:,} REPLICAs polling every {args.interval:g} s = {rate:.2f} polls/s;"
        " target < 2 % of one core"
    )
    print(f'   catalog tag "{facts.tag}": served by metadata/last_updated = catalog_tag of the 14 copies held')
    print(
        f"   idle CPU (subtracted from the paced figures): PRIMARY {idle['ours'] / 1000:.2f} ms/s"
        f" ({idle['ours'] / 1e4:.2f} % of a core), bare ASGI {idle['bare'] / 1000:.2f} ms/s"
    )
    print(f"   empty categories (no ETag: each answers 404 to the fallback): {', '.join(facts.empty) or 'none'}")
    print(f"   {others}")
    columns = (
        f"{'req/poll':>8}{'µs/poll':>9}{'% core':>8}  {'target':<7}{'µs/poll':>9}{'% core':>8}  answers (modelref)"
    )
    header = f"   {'':<48}{'':>8}{'modelref PRIMARY':^26}{'bare ASGI':^17}"
    print(header)
    print(f"   {'how the server is polled':<48}{columns}")
    print("   " + "-" * (48 + len(columns)))
    for row in rows:
        ours, bare = rate * row.ours.cpu_per_poll / 1e4, rate * row.bare.cpu_per_poll / 1e4
        verdict = "ok" if ours < 2 else "MISSED"
        figures = (
            f"{row.per_poll:>8}{row.ours.cpu_per_poll:>9.0f}{ours:>7.2f}%  {verdict:<7}"
            f"{row.bare.cpu_per_poll:>9.0f}{bare:>7.2f}%  {_answers(row.ours.statuses, row.expected)}"
        )
        late = [m.rate for m in (row.ours, row.bare) if m.rate is not None and m.rate < 0.95 * rate]
        note = f"  (paced only {min(late):.1f}/s)" if late else ""
        bare_check = _answers(row.bare.statuses, row.expected)
        if "NOT AS EXPECTED" in bare_check:
            note += f"  bare ASGI: {bare_check}"
        print(f"   {row.label:<48}{figures}{note}")
    for label, total in facts.totals.items():
        print(
            f"   while paced ({label}) the PRIMARY used {total / 1e4:.2f} % of a core in all"
            f" (its idle {idle['ours'] / 1e4:.2f} % included)"
        )
    print(
        f"   % core = {rate:.2f} polls/s × µs/poll. paced: {rate:.2f} polls/s, on a new connection each (a server"
        f" that closes idle connections before {args.interval:g} s)"
    )
    print(
        "   or on a kept-alive one (modelref serve keeps idle connections 75 s, the library 70 s); wrk: full load,"
        " the least CPU a request gets. bare ASGI: bench/ceiling.py under uvicorn replaying the PRIMARY's answers"
    )
    for row in rows:
        if row.ours.rate is None:
            continue  # the verdict is the paced figure: polls as 1,000 REPLICAs would send them
        share = rate * row.ours.cpu_per_poll / 1e4
        how = "the poll endpoint" if row.per_poll == 1 else f"the fallback ({row.per_poll} conditional GETs)"
        print(
            f"   {args.replicas:,} REPLICAs every {args.interval:g} s with {how}: {rate:.2f} polls/s ×"
            f" {row.ours.cpu_per_poll:.0f} µs = {share:.2f} % of one core: {'ok' if share < 2 else 'MISSED'} (< 2 %);"
            f" a bare ASGI app: {rate * row.bare.cpu_per_poll / 1e4:.2f} %"
        )
    print()


# -- main ------------------------------------------------------------------------------------------------


def _parts(text: str) -> set[int]:
    parts = {int(x) for x in text.split(",") if x.strip()}
    if not parts or parts - {1, 2, 3}:
        raise argparse.ArgumentTypeError("a comma-separated list of 1, 2, 3")
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="short run: --runs 3 --duration 2 --rounds 1 --poll-seconds 5"
    )
    parser.add_argument("--parts", type=_parts, default={1, 2, 3}, help="which parts to run, e.g. 1,3 (default: all)")
    parser.add_argument("--runs", type=int, help="library: cold loads and offline starts (default 7)")
    parser.add_argument("--duration", type=int, help="seconds per wrk run (default 5)")
    parser.add_argument("--rounds", type=int, help="wrk runs per case and server (default 3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--poll-seconds", type=float, help="seconds of paced polls per way of polling (default 20)")
    parser.add_argument("--replicas", type=int, default=1000, help="REPLICAs in the poll estimate (default 1000)")
    parser.add_argument("--interval", type=float, default=60.0, help="their poll interval, s (default 60)")
    args = parser.parse_args()
    defaults = {"runs": (7, 3), "duration": (5, 2), "rounds": (3, 1), "poll_seconds": (20.0, 5.0)}
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    args.repeats = 3 if args.quick else 5

    exit_on_sigterm()
    if not shutil.which("wrk") and args.parts & {2, 3}:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    if 1 in os.sched_getaffinity(0):
        os.sched_setaffinity(0, {1})  # this process (the library, the pollers) on CPU 1, the servers on CPU 0

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="modelref-library-") as tmp:
        work = Path(tmp)
        primary_env = _clean_env(DATA_DIR=str(work / "primary"), SEED_SOURCE=str(REFERENCE_DATA))
        print(f"command: .venv/bin/python {shlex.join(['bench/library.py', *sys.argv[1:]])}")
        print(f"modelref from {modelref_location(primary_env)}; load average before: {load}")
        print()
        with _serve(primary_env, work / "primary.log") as primary:
            if 1 in args.parts:
                print("part 1: library", file=sys.stderr, flush=True)
                others = Others(primary.pid)
                timings = _library(primary, work, args)
                _report_library(timings, others.describe(), args)
            if 2 in args.parts:
                print("part 2: REPLICA vs PRIMARY", file=sys.stderr, flush=True)
                replica_env = _clean_env(
                    DATA_DIR=str(work / "replica"),
                    REPLICATE_MODE="REPLICA",
                    PRIMARY_API_URL=primary.api,
                    ENABLE_GITHUB_FALLBACK="false",
                    CACHE_TTL_SECONDS="3600",
                )
                others = Others(primary.pid)
                with _serve(replica_env, work / "replica.log") as replica:
                    status = _replica_status(replica)
                    same = _compare(replica, primary)
                    results = _reads(replica, primary, args)
                _report_reads(results, same, status, others.describe(), args)
            if 3 in args.parts:
                print("part 3: polls", file=sys.stderr, flush=True)
                others = Others(primary.pid)
                rows, facts = _polls(primary, work, args)
                _report_polls(rows, facts, others.describe(), args)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
