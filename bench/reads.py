"""HTTP read benchmark: modelref against a bare-ASGI ceiling serving the same bytes, under the same load.

    .venv/bin/python bench/reads.py [--duration 8] [--rounds 3] [--connections 32] [--only SUBSTRING]
                                    [--server-log quiet|default|cli]

Each server runs as one uvicorn process pinned to CPU 0 (`taskset`); wrk runs pinned to CPU 1. Besides
req/s and latency, the server's CPU time per request is read from /proc/PID/stat (utime + stime of the
process and its children) around every wrk run: efficiency = ceiling CPU per request / modelref's.

The data is imported with `modelref import` (../shared/reference-data) into a fresh SQLite file. modelref's
server is `uvicorn modelref.http.app:app_from_environment --factory`, by default with
`--no-access-log --log-level warning`; `--server-log default` leaves uvicorn's defaults (access log on,
level info; output to a file), `--server-log cli` runs `python -m modelref.cli serve` with its own defaults.
Set PYTHONPATH=<checkout>/src to measure another checkout. Needs wrk (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from _common import (
    APP_FACTORY,
    REFERENCE_DATA,
    ROOT,
    V1,
    V2,
    cpu_us,
    exit_on_sigterm,
    free_port,
    modelref_location,
    run_import,
    start_server,
    stop,
)

__all__ = ["REFERENCE_DATA", "_port", "_start", "_uvicorn"]  # bench/heartbeat.py imports these


@dataclass(frozen=True)
class Case:
    label: str
    target: str
    variant: str = ""  # "", "etag" (If-None-Match) or "gzip" (Accept-Encoding: gzip)
    kind: str = "read"  # read (≥50 % of the ceiling), search (≥3,000 req/s), text (no p99 target)


CASES = [
    Case("v2 image_generation (whole)", f"{V2}/image_generation"),
    Case("v2 text_generation (whole)", f"{V2}/text_generation", kind="text"),
    Case("v2 one image model", f"{V2}/image_generation/model/Deliberate"),
    Case("v2 one text model (name with /)", f"{V2}/text_generation/model/ReadyArt/Broken-Tutu-24B"),
    Case("v2 image search, 50 results", f"{V2}/image_generation/search?limit=50&sort_by=name", kind="search"),
    Case("v2 cross-category search", f"{V2}/search?name_contains=llama&limit=50", kind="search"),
    Case("v1 image_generation", f"{V1}/image_generation"),
    Case("v1 text_generation", f"{V1}/text_generation", kind="text"),
    Case("v2 image, If-None-Match (304)", f"{V2}/image_generation", variant="etag"),
    Case("v2 one image model, If-None-Match (304)", f"{V2}/image_generation/model/Deliberate", variant="etag"),
    Case("v2 image, Accept-Encoding: gzip", f"{V2}/image_generation", variant="gzip"),
]

SERVER_LOGS = ("quiet", "default", "cli")
QUIET = ("--log-level", "warning", "--no-access-log")


@dataclass(frozen=True)
class Run:
    """One wrk run against one server."""

    rps: float
    p50: float  # ms
    p99: float  # ms
    requests: int
    cpu_per_request: float  # µs of server CPU per completed request


def _port() -> int:
    return free_port()


def _start(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """One server on CPU 0, output discarded (kept for bench/heartbeat.py)."""
    return start_server(args, env, port, None, cpu=0)


def _uvicorn(app: str, port: int, *extra: str, quiet: bool = True) -> list[str]:
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(port), *extra]
    return command + list(QUIET) if quiet else command


def _ours(server_log: str, app: str, port: int) -> list[str]:
    if server_log == "cli":
        return [sys.executable, "-m", "modelref.cli", "serve", "--port", str(port)]
    return _uvicorn(app, port, "--factory", quiet=server_log == "quiet")


def _headers(case: Case, etag: str) -> dict[str, str]:
    if case.variant == "etag":
        return {"If-None-Match": etag}
    if case.variant == "gzip":
        return {"Accept-Encoding": "gzip"}
    return {"Accept-Encoding": "identity"}


def _capture(base: str, cases: list[Case]) -> tuple[list[dict[str, object]], dict[str, str]]:
    """The exact answers modelref gives for every case (what the ceiling will replay)."""
    captured, etags = [], {}
    with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
        for case in cases:
            plain = client.get(case.target, headers={"Accept-Encoding": "identity"})
            assert plain.status_code == 200, (case.target, plain.status_code)
            etags[case.target] = plain.headers["etag"]
            with client.stream("GET", case.target, headers=_headers(case, plain.headers["etag"])) as response:
                body = b"".join(response.iter_raw())
                captured.append(
                    {
                        "target": case.target,
                        "variant": case.variant,
                        "status": response.status_code,
                        "headers": [(k, v) for k, v in response.headers.items() if k not in ("date", "server")],
                        "body": base64.b64encode(body).decode(),
                    }
                )
    return captured, etags


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _search(pattern: str, output: str) -> re.Match[str]:
    found = re.search(pattern, output)
    if found is None:
        raise RuntimeError(f"unexpected wrk output (no {pattern!r}):\n{output}")
    return found


def _wrk(url: str, headers: dict[str, str], duration: int, connections: int, server_pid: int) -> Run:
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    cpu_before = cpu_us(server_pid)
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    time.sleep(0.2)  # let the server finish the requests wrk abandoned at the deadline
    cpu = cpu_us(server_pid) - cpu_before
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} error responses")

    def percentile(p: str) -> float:
        value, unit = _search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", output).groups()
        return float(value) * _UNITS[unit]

    requests = int(_search(r"(\d+) requests in", output).group(1))
    rps = float(_search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    return Run(rps, percentile("50"), percentile("99"), requests, cpu / max(requests, 1))


def _median(runs: list[Run]) -> Run:
    """Each figure's median over the runs (figures taken separately)."""
    return Run(
        statistics.median(r.rps for r in runs),
        statistics.median(r.p50 for r in runs),
        statistics.median(r.p99 for r in runs),
        round(statistics.median(r.requests for r in runs)),
        statistics.median(r.cpu_per_request for r in runs),
    )


@dataclass(frozen=True)
class Server:
    base: str
    pid: int


def _measure(
    cases: list[Case], ours: Server, ceiling: Server, etags: dict[str, str], args: argparse.Namespace
) -> dict[str, tuple[Run, Run]]:
    """Per case, (modelref, ceiling) figures: the median of *rounds* interleaved runs of each, so that
    drift in the machine's speed hits both sides alike."""
    results = {}
    for case in cases:
        headers = _headers(case, etags[case.target])
        runs: dict[str, list[Run]] = {ours.base: [], ceiling.base: []}
        for server in (ours, ceiling):
            _wrk(server.base + case.target, headers, 1, args.connections, server.pid)  # warm-up
        for _ in range(args.rounds):
            for server in (ours, ceiling):
                runs[server.base].append(
                    _wrk(server.base + case.target, headers, args.duration, args.connections, server.pid)
                )
        results[case.label] = (_median(runs[ours.base]), _median(runs[ceiling.base]))
        ours_run, bare_run = results[case.label]
        print(
            f"  {case.label}: {ours_run.cpu_per_request:.1f} / {bare_run.cpu_per_request:.1f} µs per request",
            file=sys.stderr,
            flush=True,
        )
    return results


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _report(
    cases: list[Case], results: dict[str, tuple[Run, Run]], args: argparse.Namespace, where: str, load: str
) -> None:
    print(
        f"modelref vs bare-ASGI ceiling — 1 uvicorn process each on CPU 0, wrk -t1 -c{args.connections} on CPU 1; "
        f"median of {args.rounds} interleaved {args.duration}s runs"
    )
    print(f"modelref from {where}; server log: {args.server_log}; load average before / after: {load} / {_load()}")
    print()
    header = f"{'case':<42}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'ceiling':>9}{'c p99':>7}{'ratio':>7}  target"
    print(header)
    print("-" * len(header))
    for case in cases:
        ours, bare = results[case.label]
        ratio = ours.rps / bare.rps
        if case.kind == "search":
            ok = ours.rps >= 3000 and ours.p99 < 25
            target = f"≥3000 req/s, p99<25ms: {'ok' if ok else 'MISSED'}"
        else:
            ok = ratio >= 0.5 and (case.kind == "text" or ours.p99 < 25)
            target = f"≥50% of ceiling{'' if case.kind == 'text' else ', p99<25ms'}: {'ok' if ok else 'MISSED'}"
        figures = f"{ours.rps:>9.0f}{ours.p50:>8.2f}{ours.p99:>8.2f}{bare.rps:>9.0f}{bare.p99:>7.2f}{ratio:>7.0%}"
        print(f"{case.label:<42}{figures}  {target}")

    print()
    print("server CPU time per request (utime+stime from /proc, µs); efficiency = bare CPU / ours CPU")
    header = f"{'case':<42}{'ours req/s':>11}{'bare req/s':>11}{'ours µs/req':>13}{'bare µs/req':>13}{'efficiency':>12}"
    print(header)
    print("-" * len(header))
    for case in cases:
        ours, bare = results[case.label]
        efficiency = bare.cpu_per_request / ours.cpu_per_request if ours.cpu_per_request else float("nan")
        # For search the ceiling only replays a stored answer: a reference, not a target.
        shown = f"({efficiency:.0%})" if case.kind == "search" else f"{efficiency:.0%}"
        figures = (
            f"{ours.rps:>11.0f}{bare.rps:>11.0f}{ours.cpu_per_request:>13.1f}{bare.cpu_per_request:>13.1f}{shown:>12}"
        )
        print(f"{case.label:<42}{figures}")
    print("(search: the ceiling replays a stored answer; its figure is a reference only, in parentheses)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=8, help="seconds per case and server")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per case and server")
    parser.add_argument("--only", metavar="SUBSTRING", help="run only the cases whose label contains this")
    parser.add_argument(
        "--server-log",
        choices=SERVER_LOGS,
        default="quiet",
        help="quiet: --no-access-log --log-level warning (default); default: uvicorn's defaults (access log, info);"
        " cli: `python -m modelref.cli serve` as it comes",
    )
    parser.add_argument("--app", default=APP_FACTORY, help="modelref's ASGI app factory for uvicorn")
    args = parser.parse_args()
    exit_on_sigterm()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    cases = [c for c in CASES if args.only is None or args.only.lower() in c.label.lower()]
    if not cases:
        sys.exit(f"no case matches {args.only!r}: {[c.label for c in CASES]}")

    load = _load()
    with tempfile.TemporaryDirectory(prefix="modelref-reads-") as tmp:
        database_url = f"sqlite:///{tmp}/modelref.sqlite3"
        env = {
            **os.environ,
            "HORDE_MODEL_REFERENCE_DATA_DIR": tmp,
            "HORDE_MODEL_REFERENCE_DATABASE_URL": database_url,
            "HORDE_MODEL_REFERENCE_SEED_SOURCE": str(REFERENCE_DATA),
        }
        where = modelref_location(env)
        run_import(env, database_url)

        port = free_port()
        log = Path(tmp) / "modelref.log"
        service = start_server(_ours(args.server_log, args.app, port), env, port, log, cpu=0)
        ceiling = None
        try:
            captured, etags = _capture(f"http://127.0.0.1:{port}", cases)
            cases_file = Path(tmp) / "ceiling-cases.json"
            cases_file.write_text(json.dumps(captured))
            ceiling_port = free_port()
            ceiling_env = {**env, "CEILING_CASES": str(cases_file), "PYTHONPATH": str(ROOT / "bench")}
            ceiling = start_server(
                _uvicorn("ceiling:app", ceiling_port, "--lifespan", "off"),
                ceiling_env,
                ceiling_port,
                Path(tmp) / "ceiling.log",
                cpu=0,
            )
            results = _measure(
                cases,
                Server(f"http://127.0.0.1:{port}", service.pid),
                Server(f"http://127.0.0.1:{ceiling_port}", ceiling.pid),
                etags,
                args,
            )
        finally:
            stop(service)
            stop(ceiling)

    _report(cases, results, args, where, load)


if __name__ == "__main__":
    main()
