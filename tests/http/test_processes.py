"""Real `modelref serve` processes: seeding, start-up log, and changes reaching every process."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from modelref.domain.bundle import read_bundle
from modelref.services.importer import import_bundle
from modelref.storage.store import Store
from tests.support import REAL_IMAGE, REAL_RECORDS, REFERENCE_DATA, audit_events, serve

DEADLINE = 20.0  # generous for a loaded CI machine; bench/propagation.py measures the real delay


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
    assert "INFO modelref: modelref PRIMARY on http://127.0.0.1:" in text
    assert "canonical format v2" in text
    assert "modelref.sqlite3" in text
    assert "(web UI there; docs: http://127.0.0.1:" in text
    assert f"image_generation {REAL_IMAGE}" in text


def test_two_workers_both_serve_a_change(tmp_path: Path) -> None:
    with serve(tmp_path, "--workers", "2") as (base, log, _):
        url = f"sqlite:///{tmp_path / 'modelref.sqlite3'}"
        _change_description(url, "changed by a test")
        _wait_until_all([base], "changed by a test", samples=12)
    text = log.read_text()
    assert text.count("INFO modelref: modelref PRIMARY on http://") == 1  # the summary, once, with its level
    assert "2 workers" in text
    assert "access log off" in text
    store = Store(url)
    assert len(audit_events(store)) == REAL_RECORDS + 2  # seeded once (not twice by two workers), then 2 updates
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
