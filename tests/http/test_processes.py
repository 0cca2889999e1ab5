"""Real `modelref serve` processes: seeding, start-up log, and changes reaching every process."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from modelref.domain.bundle import read_bundle
from modelref.services.importer import import_bundle
from modelref.storage.store import Store
from tests.support import REFERENCE_DATA

DEADLINE = 20.0  # generous for a loaded CI machine; bench/propagation.py measures the real delay


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(
    data_dir: Path, *args: str, database_url: str | None = None, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    """Start `modelref serve` on a free port; yield its base URL, its log file and the process."""
    port = _free_port()
    env = {
        **os.environ,
        "HORDE_MODEL_REFERENCE_DATA_DIR": str(data_dir),
        "HORDE_MODEL_REFERENCE_SEED_SOURCE": str(REFERENCE_DATA),
        **(extra_env or {}),
    }
    if database_url:
        env["HORDE_MODEL_REFERENCE_DATABASE_URL"] = database_url
    log = data_dir / f"serve-{port}.log"
    with log.open("a") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "modelref.cli", "serve", "--port", str(port), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"modelref serve did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield base, log, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _change_description(database_url: str, text: str) -> None:
    store = Store(database_url)
    files = {"clip.json": (REFERENCE_DATA / "legacy-image" / "clip.json").read_bytes()}
    bundle = read_bundle(files)
    for _, record in bundle.categories[next(iter(bundle.categories))]:
        record.description = text
    import_bundle(store, bundle)
    store.close()


def _description(base: str) -> str | None:
    # A fresh connection each time, so with several workers every one of them gets asked.
    with httpx.Client(base_url=base, timeout=5) as client:
        return client.get("/api/model_references/v2/clip/model/ViT-L/14").json().get("description")  # type: ignore[no-any-return]


def _wait_until_all(bases: list[str], text: str, samples: int) -> float:
    started = time.monotonic()
    while time.monotonic() - started < DEADLINE:
        if all(_description(base) == text for base in bases for _ in range(samples)):
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"not every process served {text!r} within {DEADLINE}s")


def test_serve_seeds_an_empty_database_and_logs_what_it_is(tmp_path: Path) -> None:
    with serve(tmp_path) as (base, log, _):
        assert len(httpx.get(f"{base}/api/model_references/v2/text_generation").json()) == 719
    text = log.read_text()
    assert "database is empty: importing seed data" in text
    assert "mode PRIMARY, canonical format v2" in text
    assert "modelref.sqlite3" in text
    assert "docs at http://127.0.0.1:" in text
    assert "image_generation 161" in text


def test_two_workers_both_serve_a_change(tmp_path: Path) -> None:
    with serve(tmp_path, "--workers", "2") as (base, _log, _):
        url = f"sqlite:///{tmp_path / 'modelref.sqlite3'}"
        _change_description(url, "changed by a test")
        _wait_until_all([base], "changed by a test", samples=12)
    store = Store(url)
    assert len(store.audit_events()) == 913 + 2  # seeded once (not twice by two workers), then 2 updates
    store.close()


def test_two_processes_on_one_database_both_serve_a_change(tmp_path: Path, database_url: str) -> None:
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir()
    second_dir.mkdir()
    with (
        serve(first_dir, database_url=database_url) as (first, _, _),
        serve(second_dir, database_url=database_url) as (second, _, _),
    ):
        _change_description(database_url, json.dumps({"round": 1}))
        _wait_until_all([first, second], json.dumps({"round": 1}), samples=1)
        _change_description(database_url, "round 2")
        _wait_until_all([first, second], "round 2", samples=1)


def test_head_works_on_every_read_of_a_real_server(tmp_path: Path) -> None:
    with serve(tmp_path) as (base, _log, _):
        for path in (
            "/api/docs",
            "/api/model_references/v2/info",
            "/api/model_references/v2/metadata/clip",
            "/api/model_references/v2/clip",
        ):
            get = httpx.get(base + path, headers={"accept-encoding": "identity"})
            head = httpx.head(base + path, headers={"accept-encoding": "identity"})
            assert (head.status_code, head.content) == (200, b""), path
            assert head.headers["content-length"] == get.headers["content-length"], path
