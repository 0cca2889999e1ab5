"""HTTP read benchmark: modelref against a bare-ASGI ceiling serving the same bytes, under the same load.

    .venv/bin/python bench/reads.py [--duration 8] [--connections 32]

Each server runs as one uvicorn process pinned to CPU 0 (`taskset`); wrk runs pinned to CPU 1.
Needs wrk (Debian: apt-get install wrk). Uses the real data from ../shared/reference-data.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from modelref.client.sources import read_folder
from modelref.domain.bundle import read_bundle
from modelref.services.importer import import_bundle
from modelref.storage.store import Store

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DATA = ROOT.parent / "shared" / "reference-data"
V2 = "/api/model_references/v2"
V1 = "/api/model_references/v1"


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
    Case("v2 image, Accept-Encoding: gzip", f"{V2}/image_generation", variant="gzip"),
]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        ["taskset", "-c", "0", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                time.sleep(0.5)
                return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode() if process.stderr else "server died") from None
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def _uvicorn(app: str, port: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        *extra,
    ]


def _headers(case: Case, etag: str) -> dict[str, str]:
    if case.variant == "etag":
        return {"If-None-Match": etag}
    if case.variant == "gzip":
        return {"Accept-Encoding": "gzip"}
    return {"Accept-Encoding": "identity"}


def _capture(base: str) -> tuple[list[dict[str, object]], dict[str, str]]:
    """The exact answers modelref gives for every case (what the ceiling will replay)."""
    captured, etags = [], {}
    with httpx.Client(base_url=base, timeout=30) as client:
        for case in CASES:
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


def _wrk(url: str, headers: dict[str, str], duration: int, connections: int) -> tuple[float, float, float]:
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]

    def percentile(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
        return float(value) * _UNITS[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} error responses")
    return rps, percentile("50"), percentile("99")


def _measure(
    ours: str, ceiling: str, etags: dict[str, str], duration: int, connections: int, rounds: int
) -> dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]]:
    """Per case, (modelref, ceiling) figures: the median of *rounds* interleaved runs of each, so that
    drift in the machine's speed hits both sides alike."""
    results = {}
    for case in CASES:
        headers = _headers(case, etags[case.target])
        runs: dict[str, list[tuple[float, float, float]]] = {ours: [], ceiling: []}
        for base in (ours, ceiling):
            _wrk(base + case.target, headers, 1, connections)  # warm-up
        for _ in range(rounds):
            for base in (ours, ceiling):
                runs[base].append(_wrk(base + case.target, headers, duration, connections))
        median = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
        results[case.label] = (
            tuple(median([r[i] for r in runs[ours]]) for i in range(3)),
            tuple(median([r[i] for r in runs[ceiling]]) for i in range(3)),
        )
    return results  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=8, help="seconds per case and server")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per case and server")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/modelref.sqlite3")
        store.migrate()
        import_bundle(store, read_bundle(read_folder(REFERENCE_DATA)))
        store.close()
        env = {
            **os.environ,
            "HORDE_MODEL_REFERENCE_DATA_DIR": tmp,
            "HORDE_MODEL_REFERENCE_SEED_SOURCE": str(REFERENCE_DATA),
        }

        port = _port()
        service = _start(_uvicorn("modelref.http.app:app_from_environment", port, "--factory"), env, port)
        ceiling = None
        try:
            captured, etags = _capture(f"http://127.0.0.1:{port}")
            cases_file = Path(tmp) / "ceiling-cases.json"
            cases_file.write_text(json.dumps(captured))
            ceiling_port = _port()
            ceiling_env = {**env, "CEILING_CASES": str(cases_file), "PYTHONPATH": str(ROOT / "bench")}
            ceiling = _start(_uvicorn("ceiling:app", ceiling_port, "--lifespan", "off"), ceiling_env, ceiling_port)
            results = _measure(
                f"http://127.0.0.1:{port}",
                f"http://127.0.0.1:{ceiling_port}",
                etags,
                args.duration,
                args.connections,
                args.rounds,
            )
        finally:
            for process in (service, ceiling):
                if process is not None:
                    process.terminate()
                    process.wait()

    print(
        f"modelref vs bare-ASGI ceiling — 1 uvicorn process each on CPU 0, wrk -t1 -c{args.connections} on CPU 1; "
        f"median of {args.rounds} interleaved {args.duration}s runs"
    )
    header = f"{'case':<36}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'ceiling':>9}{'c p99':>7}{'ratio':>7}  target"
    print(header)
    print("-" * len(header))
    for case in CASES:
        (rps, p50, p99), (ceiling_rps, _, ceiling_p99) = results[case.label]
        ratio = rps / ceiling_rps
        if case.kind == "search":
            ok = rps >= 3000 and p99 < 25
            target = f"≥3000 req/s, p99<25ms: {'ok' if ok else 'MISSED'}"
        else:
            ok = ratio >= 0.5 and (case.kind == "text" or p99 < 25)
            target = f"≥50% of ceiling{'' if case.kind == 'text' else ', p99<25ms'}: {'ok' if ok else 'MISSED'}"
        figures = f"{rps:>9.0f}{p50:>8.2f}{p99:>8.2f}{ceiling_rps:>9.0f}{ceiling_p99:>7.2f}{ratio:>7.0%}"
        print(f"{case.label:<36}{figures}  {target}")


if __name__ == "__main__":
    main()
