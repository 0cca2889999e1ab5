"""Crash safety and concurrency of apply, with real `modelref serve` processes and databases."""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelref.domain.audit import ChangeStatus, Operation
from modelref.domain.categories import Category
from modelref.storage.store import Store
from tests.support import APPROVER, KEYS, REQUESTOR, FakeHorde, audit_events, chain_problems, queued_changes, serve

QUEUE = "/api/model_references/v2/pending_queue"


@pytest.fixture
def horde() -> Iterator[FakeHorde]:
    with FakeHorde(KEYS) as fake:
        yield fake


def _env(horde: FakeHorde, database_url: str) -> dict[str, str]:
    return {
        "AI_HORDE_URL": horde.url,
        "HORDE_MODEL_REFERENCE_DATABASE_URL": database_url,
        "HORDE_MODEL_REFERENCE_PENDING_QUEUE__REQUESTOR_IDS": "1001",
        "HORDE_MODEL_REFERENCE_PENDING_QUEUE__APPROVER_IDS": "2002",
    }


def _queue_batch(base: str, count: int, prefix: str) -> int:
    with httpx.Client(base_url=base, timeout=30) as client:
        ids = []
        for i in range(count):
            response = client.post(
                "/api/model_references/v2/blip", json={"name": f"{prefix}{i:03d}"}, headers=REQUESTOR
            )
            assert response.status_code == 202, response.text
            ids.append(response.json()["change_id"])
        batch = client.post(f"{QUEUE}/batches", json={"batch_title": "bulk", "approved_ids": ids}, headers=APPROVER)
        assert batch.status_code == 200, batch.text
        return int(batch.json()["batch_id"])


def _applied(store: Store) -> int:
    return sum(1 for c in queued_changes(store) if c.status is ChangeStatus.APPLIED)


def _assert_consistent(store: Store, prefix: str, count: int) -> collections.Counter[str]:
    """Every change is applied with its record and events, or approved with none of them."""
    records = {r.name for r in store.load(Category.BLIP).records}
    creates = collections.Counter(
        e.model_name
        for e in audit_events(store)
        if e.category == "blip"
        if e.operation is Operation.CREATE and e.model_name.startswith(prefix)
    )
    applies = collections.Counter(
        e.payload_value()["after"]["change_id"]
        for e in audit_events(store)
        if e.category == "pending_queue"
        if e.payload_value()["after"]["action"] == "apply"
    )
    changes = [c for c in queued_changes(store) if c.model_name.startswith(prefix)]
    assert len(changes) == count
    for change in changes:
        assert change.status in (ChangeStatus.APPLIED, ChangeStatus.APPROVED), change.status
        applied = change.status is ChangeStatus.APPLIED
        assert (change.model_name in records) is applied
        assert creates[change.model_name] == int(applied)
        assert applies[change.change_id] == int(applied)
    assert chain_problems(store) == []
    return creates


def test_sigkill_in_the_middle_of_a_batch_leaves_no_half_applied_change(tmp_path: Path, horde: FakeHorde) -> None:
    url = f"sqlite:///{tmp_path / 'modelref.sqlite3'}"
    env = _env(horde, url)
    with serve(tmp_path, extra_env=env) as (base, _log, process):
        batch_id = _queue_batch(base, 200, "crash-")
        store = Store(url)
        result: dict[str, object] = {}

        def apply_batch() -> None:
            try:
                result["response"] = httpx.post(
                    f"{base}{QUEUE}/apply_batch/{batch_id}", params={"job_id": "J"}, headers=APPROVER, timeout=120
                )
            except httpx.HTTPError as error:
                result["error"] = error

        worker = threading.Thread(target=apply_batch)
        worker.start()
        deadline = time.monotonic() + 60
        while _applied(store) < 20 and time.monotonic() < deadline:
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        worker.join(timeout=30)
    applied_at_crash = _applied(store)
    assert 20 <= applied_at_crash < 200, applied_at_crash  # the kill landed in the middle
    assert "error" in result  # the client saw the connection die, not an answer
    _assert_consistent(store, "crash-", 200)

    with serve(tmp_path, extra_env=env) as (base, _log, _):
        again = httpx.post(
            f"{base}{QUEUE}/apply_batch/{batch_id}", params={"job_id": "J"}, headers=APPROVER, timeout=120
        )
        assert again.status_code == 200, again.text
        assert len(again.json()["applied"]) == 200 - applied_at_crash
        assert len(httpx.get(f"{base}/api/model_references/v2/blip").json()) == 2 + 200
    creates = _assert_consistent(store, "crash-", 200)
    assert set(creates.values()) == {1}
    assert len(creates) == 200
    store.close()
    check = subprocess.run(
        [sys.executable, "-m", "modelref.cli", "check", "--database-url", url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "ok" in check.stdout


def test_two_processes_apply_one_batch_at_once(tmp_path: Path, horde: FakeHorde, database_url: str) -> None:
    env = _env(horde, database_url)
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir()
    second_dir.mkdir()
    with serve(first_dir, extra_env=env) as (first, _, _), serve(second_dir, extra_env=env) as (second, _, _):
        batch_id = _queue_batch(first, 60, "race-")
        start = threading.Barrier(2)
        answers: list[httpx.Response] = []

        def apply_via(base: str) -> None:
            start.wait()
            answers.append(
                httpx.post(
                    f"{base}{QUEUE}/apply_batch/{batch_id}",
                    params={"job_id": "same-job"},
                    headers=APPROVER,
                    timeout=120,
                )
            )

        threads = [threading.Thread(target=apply_via, args=(b,)) for b in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        for base in (first, second):
            deadline = time.monotonic() + 20
            while len(httpx.get(f"{base}/api/model_references/v2/blip").json()) != 62 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(httpx.get(f"{base}/api/model_references/v2/blip").json()) == 62
    store = Store(database_url)
    creates = _assert_consistent(store, "race-", 60)
    assert len(creates) == 60
    assert set(creates.values()) == {1}
    store.close()
