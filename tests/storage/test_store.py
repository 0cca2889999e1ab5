from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from modelref.domain.audit import EventSpec, Operation
from modelref.domain.categories import Category
from modelref.domain.formats import Format
from modelref.storage.store import Store
from tests.support import audit_events, chain_problems


def test_migrate_is_idempotent(store: Store) -> None:
    store.migrate()
    assert store.is_empty()
    assert store.versions() == {}


def test_records_keep_stored_order_and_case_sensitive_names(store: Store) -> None:
    names = ["b/Second", "a/first", "A/first", "ViT-L/14", "ünï/模型"]
    with store.write() as tx:
        for name in names:
            tx.records.put(Category.CLIP, name, {"name": name})
        tx.records.touch(Category.CLIP)
    assert [r.name for r in store.load(Category.CLIP).records] == names
    with store.write() as tx:
        tx.records.put(Category.CLIP, "b/Second", {"name": "b/Second", "description": "changed"})
        assert tx.records.get(Category.CLIP, "A/first") == {"name": "A/first"}
        assert tx.records.get(Category.CLIP, "a/FIRST") is None
    loaded = store.load(Category.CLIP).records
    assert [r.name for r in loaded] == names  # an update keeps the record's place
    assert loaded[0].document["description"] == "changed"


def test_delete_then_create_moves_the_record_to_the_end(store: Store) -> None:
    with store.write() as tx:
        tx.records.put_many(Category.BLIP, [("one", {"name": "one"}), ("two", {"name": "two"})])
    with store.write() as tx:
        assert tx.records.delete(Category.BLIP, "one")
        assert not tx.records.delete(Category.BLIP, "one")
        tx.records.put(Category.BLIP, "one", {"name": "one"})
    assert [r.name for r in store.load(Category.BLIP).records] == ["two", "one"]


def test_touch_bumps_version_and_last_updated(store: Store) -> None:
    with store.write() as tx:
        assert tx.records.touch(Category.ESRGAN, now=100.0) == 1
    with store.write() as tx:
        assert tx.records.touch(Category.ESRGAN, now=200.5) == 2
    state = store.load(Category.ESRGAN).state
    assert state is not None
    assert (state.version, state.last_updated, state.initialized_at, state.count) == (2, 200.5, 100.0, 0)
    assert store.versions() == {Category.ESRGAN: 2}


def _write_then_crash(store: Store) -> None:
    with store.write() as tx:
        tx.records.put(Category.CLIP, "x", {"name": "x"})
        tx.records.touch(Category.CLIP)
        tx.audit.append([EventSpec(Format.V2, "clip", "x", Operation.CREATE, "u", {"after": {}})])
        raise RuntimeError("crash in the middle")


def test_a_failed_transaction_writes_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError):
        _write_then_crash(store)
    assert store.is_empty()
    assert store.versions() == {}
    assert audit_events(store) == []
    assert chain_problems(store) == []


def _append(store: Store, count: int) -> None:
    with store.write() as tx:
        tx.audit.append(
            [EventSpec(Format.V2, "clip", f"m{i}", Operation.UPDATE, "user", {"delta": {"i": i}}) for i in range(count)]
        )


def test_audit_chain_links_every_event(store: Store) -> None:
    _append(store, 3)
    _append(store, 2)
    events = audit_events(store)
    assert [e.event_id for e in events] == [1, 2, 3, 4, 5]
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(events))
    assert chain_problems(store) == []
    assert events[0].payload_value() == {"delta": {"i": 0}}


def test_tampering_with_an_event_is_detected(store: Store) -> None:
    _append(store, 3)
    with store.database.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_events SET payload = '{\"delta\": {}}' WHERE event_id = 2"))
    assert chain_problems(store) == ["audit event 2: content does not match its hash"]


def test_removing_the_last_event_is_detected(store: Store) -> None:
    _append(store, 3)
    with store.database.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_events WHERE event_id = 3"))
    assert any("audit head" in p for p in chain_problems(store))


def test_two_stores_on_one_database_share_one_chain(database_url: str) -> None:
    first, second = Store(database_url), Store(database_url)
    first.migrate()
    second.migrate()
    _append(first, 2)
    _append(second, 2)
    _append(first, 1)
    assert [e.event_id for e in audit_events(second)] == [1, 2, 3, 4, 5]
    assert chain_problems(second) == []
    first.close()
    second.close()


def test_describe_hides_the_password() -> None:
    store = Store("postgresql+psycopg://user:secret@127.0.0.1:1/db")
    assert "secret" not in store.describe()
