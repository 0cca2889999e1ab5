"""QueueTable: the pending changes' rows, filtered, counted and paged in SQL (on SQLite and PostgreSQL)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from modelref.domain.audit import ChangeStatus, Operation
from modelref.domain.categories import Category
from modelref.domain.changes import ChangeFilter
from modelref.storage.queue import QueueTable
from modelref.storage.store import Store
from modelref.storage.tables import pending_changes
from tests.factories import change, queue
from tests.support import POSTGRES_ENV, fresh_postgres_database

IMAGE, TEXT, CLIP = Category.IMAGE_GENERATION, Category.TEXT_GENERATION, Category.CLIP
PENDING, APPROVED, APPLIED, REJECTED = (
    ChangeStatus.PENDING,
    ChangeStatus.APPROVED,
    ChangeStatus.APPLIED,
    ChangeStatus.REJECTED,
)

NAMES = [
    "100% real",  # 1
    "100 real",  # 2
    "a_b",  # 3
    "axb",  # 4
    "Org/Model-7B",  # 5
    "Org//Double",  # 6
    "ÜNÏ Model",  # 7
    "ünï model",  # 8
    "Straße",  # 9
    "plain",  # 10
]


def tricky_names(store: Store) -> None:
    queue(store, *(change(i, model_name=name) for i, name in enumerate(NAMES, start=1)))


def corrupt(store: Store, keep: list[int]) -> None:
    """Make every stored change but *keep* unreadable: reading one of them would raise."""
    with store.write() as tx:
        tx.queue.conn.execute(
            pending_changes.update().where(pending_changes.c.change_id.not_in(keep)).values(document="{not json")
        )


def page_ids(
    queue_table: QueueTable, filters: ChangeFilter, offset: int = 0, limit: int = 100
) -> tuple[list[int], int]:
    items, total = queue_table.page(filters, offset, limit)
    return [c.change_id for c in items], total


# -- page ------------------------------------------------------------------------------------------------


def test_page_counts_every_match_and_returns_one_page_in_change_id_order(store: Store) -> None:
    queue(store, *(change(i, status=APPROVED if i % 3 == 0 else PENDING) for i in (7, 3, 1, 9, 4, 6, 2, 8, 5)))
    with store.read() as tx:
        assert page_ids(tx.queue, ChangeFilter()) == ([1, 2, 3, 4, 5, 6, 7, 8, 9], 9)
        assert page_ids(tx.queue, ChangeFilter(), 2, 3) == ([3, 4, 5], 9)
        assert page_ids(tx.queue, ChangeFilter(), 8, 3) == ([9], 9)
        assert page_ids(tx.queue, ChangeFilter(), 20, 3) == ([], 9)
        assert page_ids(tx.queue, ChangeFilter(statuses=[APPROVED]), 1, 1) == ([6], 3)
        items, _ = tx.queue.page(ChangeFilter(statuses=[APPROVED]), 0, 1)
    assert items == [change(3, status=APPROVED)]  # the whole change, as stored


def test_a_page_reads_only_its_own_rows(store: Store) -> None:
    queue(
        store, *(change(i, status=PENDING if i % 2 else APPROVED, batch_id=None if i % 2 else 1) for i in range(1, 31))
    )
    corrupt(store, keep=[11, 12, 13, 14, 15])
    with store.read() as tx:
        items, total = tx.queue.page(ChangeFilter(), 10, 5)
        assert ([c.change_id for c in items], total) == ([11, 12, 13, 14, 15], 30)
        assert page_ids(tx.queue, ChangeFilter(statuses=[PENDING]), 5, 3) == ([11, 13, 15], 15)
        # Counting, ids, batch members and the open batch never read a stored change at all.
        assert len(tx.queue.ids()) == 30
        assert tx.queue.ids(ChangeFilter(statuses=[APPROVED], batch_id=1))[:3] == [2, 4, 6]
        assert len(tx.queue.statuses(1)) == 15
        assert tx.queue.open_batch() == 1
        assert tx.queue.pending_count("1001") == 15
        # The rows left out really are unreadable: had the page read them, it would have failed.
        with pytest.raises(ValueError, match="Invalid JSON"):
            tx.queue.get(1)


def test_filters_are_anded(store: Store) -> None:
    queue(
        store,
        change(1, model_name="Alpha", requested_by="1001"),
        change(2, model_name="Alpha", requested_by="1001", status=APPROVED, batch_id=1),
        change(3, category=CLIP, model_name="Alpha", requested_by="1001"),
        change(4, model_name="Alpha", requested_by="3003"),
        change(5, model_name="Beta", requested_by="1001"),
        change(6, model_name="alphabet", requested_by="1001", status=APPROVED, batch_id=2),
    )
    filters = ChangeFilter(statuses=[PENDING, APPROVED], categories=[IMAGE], model_name="ALPHA", requested_by=["1001"])
    with store.read() as tx:
        assert page_ids(tx.queue, filters) == ([1, 2, 6], 3)
        assert page_ids(tx.queue, filters, 2, 5) == ([6], 3)
        assert tx.queue.ids(filters) == [1, 2, 6]
        assert page_ids(tx.queue, ChangeFilter(model_name="alpha", batch_id=2)) == ([6], 1)
        assert page_ids(tx.queue, ChangeFilter(model_name="alpha", batch_id=2), 1, 5) == ([], 1)


def test_name_filter_wildcards_are_literal(store: Store) -> None:
    tricky_names(store)
    cases = {
        "%": [1],
        "100%": [1],
        "_": [3],
        "a_b": [3],
        "0 r": [2],
        "/": [5, 6],
        "g/m": [5],
        "//": [6],
        "ünï": [7, 8],
        "ÜNÏ M": [7, 8],
        "STRASSE": [9],  # "ß" case-folds to "ss"
        "  plain  ": [10],
        "no such": [],
    }
    with store.read() as tx:
        for needle, expected in cases.items():
            assert page_ids(tx.queue, ChangeFilter(model_name=needle)) == (expected, len(expected)), needle
            assert tx.queue.ids(ChangeFilter(model_name=needle)) == expected, needle


def test_save_keeps_the_filter_columns_in_step(store: Store) -> None:
    queue(store, change(1, model_name="Old Name"))
    with store.write() as tx:
        found = tx.queue.get(1)
        assert found is not None
        tx.queue.save(found.model_copy(update={"model_name": "NEW name", "status": APPROVED, "batch_id": 4}))
    with store.read() as tx:
        assert tx.queue.ids(ChangeFilter(model_name="new")) == [1]
        assert tx.queue.ids(ChangeFilter(model_name="old")) == []
        assert tx.queue.ids(ChangeFilter(statuses=[APPROVED], batch_id=4)) == [1]
        assert tx.queue.statuses(4) == [(1, APPROVED)]


# -- the other reads -------------------------------------------------------------------------------------


def test_ids_without_a_filter_are_every_change(store: Store) -> None:
    queue(store, change(3), change(1), change(2, status=APPLIED, batch_id=1))
    with store.read() as tx:
        assert tx.queue.ids() == [1, 2, 3]
        assert tx.queue.ids(ChangeFilter()) == [1, 2, 3]
        assert tx.queue.ids(ChangeFilter(statuses=[APPLIED])) == [2]


def test_statuses_of_a_batch(store: Store) -> None:
    queue(
        store,
        change(4, status=APPROVED, batch_id=2),
        change(1, status=APPLIED, batch_id=2),
        change(2, status=REJECTED, batch_id=2),
        change(3, status=APPROVED, batch_id=3),
        change(5),
    )
    with store.read() as tx:
        assert tx.queue.statuses(2) == [(1, APPLIED), (2, REJECTED), (4, APPROVED)]
        assert tx.queue.statuses(3) == [(3, APPROVED)]
        assert tx.queue.statuses(9) == []


def test_open_batch_is_the_batch_holding_approved_changes(store: Store) -> None:
    with store.read() as tx:
        assert tx.queue.open_batch() is None
    queue(store, change(1, status=APPLIED, batch_id=1), change(2, status=REJECTED, batch_id=2), change(3))
    with store.read() as tx:
        assert tx.queue.open_batch() is None  # applied, rejected and pending changes keep no batch open
    queue(store, change(4, status=APPROVED, batch_id=5))
    with store.read() as tx:
        assert tx.queue.open_batch() == 5


def test_pending_count_is_per_requestor_and_counts_pending_only(store: Store) -> None:
    queue(
        store,
        change(1, requested_by="1001"),
        change(2, requested_by="1001"),
        change(3, requested_by="1001", status=APPROVED, batch_id=1),
        change(4, requested_by="1001", status=REJECTED),
        change(5, requested_by="3003"),
    )
    with store.read() as tx:
        assert [tx.queue.pending_count(r) for r in ("1001", "3003", "9999")] == [2, 1, 0]


def test_proposals_are_the_pending_and_approved_creates_and_updates(store: Store) -> None:
    queue(
        store,
        change(5, model_name="E", operation=Operation.UPDATE, status=APPROVED, batch_id=1),
        change(1, model_name="A"),
        change(2, model_name="B", operation=Operation.DELETE),
        change(3, model_name="C", status=REJECTED),
        change(4, model_name="D", status=APPLIED, batch_id=1),
        change(6, category=CLIP, model_name="F"),
        change(7, model_name="A", operation=Operation.UPDATE),
    )
    with store.read() as tx:
        assert [(c.change_id, c.model_name) for c in tx.queue.proposals(IMAGE)] == [(1, "A"), (5, "E"), (7, "A")]
        assert [c.change_id for c in tx.queue.proposals(CLIP)] == [6]
        assert tx.queue.proposals(TEXT) == []


def test_approved_in_a_batch_less_the_excluded(store: Store) -> None:
    queue(
        store,
        change(1, status=APPROVED, batch_id=1),
        change(2, status=APPROVED, batch_id=1),
        change(3, status=APPLIED, batch_id=1),
        change(4, status=APPROVED, batch_id=2),
        change(5, status=APPROVED, batch_id=1),
    )
    with store.read() as tx:
        assert [c.change_id for c in tx.queue.approved_in(1)] == [1, 2, 5]
        assert [c.change_id for c in tx.queue.approved_in(1, excluding=[2, 4])] == [1, 5]
        assert tx.queue.approved_in(1, excluding=[1, 2, 5]) == []
        assert tx.queue.approved_in(7) == []


# -- writes ----------------------------------------------------------------------------------------------


def test_counters_count_up_and_survive_deletes(store: Store) -> None:
    with store.write() as tx:
        assert [tx.queue.next_id("last_change_id") for _ in range(3)] == [1, 2, 3]
        assert tx.queue.next_id("last_batch_id") == 1
        for i in (1, 2, 3):
            tx.queue.insert(change(i))
    with store.write() as tx:
        tx.queue.delete([1, 2, 3])
        tx.queue.delete([])
    with store.write() as tx:
        assert tx.queue.ids() == []
        assert tx.queue.next_id("last_change_id") == 4
        assert tx.queue.next_id("last_batch_id") == 2


def _insert_then_crash(store: Store) -> None:
    with store.write() as tx:
        tx.queue.insert(change(2))
        tx.queue.next_id("last_change_id")
        raise RuntimeError("crash before commit")


def test_a_failed_write_leaves_the_queue_as_it_was(store: Store) -> None:
    queue(store, change(1))
    with pytest.raises(RuntimeError):
        _insert_then_crash(store)
    with store.write() as tx:
        assert tx.queue.ids() == [1]
        assert tx.queue.next_id("last_change_id") == 2


# -- both engines --------------------------------------------------------------------------------------


def _answers(store: Store) -> list[object]:
    """A battery of queue reads over one small queue."""
    tricky_names(store)
    queue(
        store,
        change(11, category=CLIP, model_name="Beta", status=APPROVED, batch_id=1, requested_by="3003"),
        change(12, category=TEXT, model_name="Org/Ünï-7B", status=APPLIED, batch_id=1),
        change(13, model_name="Gamma", status=REJECTED, requested_by="4004"),
    )
    needles = ["%", "_", "/", "ünï", "ÜNÏ", "STRASSE", "a", "real", "0"]
    with store.read() as tx:
        answers: list[object] = [page_ids(tx.queue, ChangeFilter(model_name=n), 1, 4) for n in needles]
        answers += [
            page_ids(tx.queue, ChangeFilter(statuses=[PENDING, APPLIED], categories=[IMAGE, TEXT]), 2, 5),
            page_ids(tx.queue, ChangeFilter(requested_by=["3003", " 4004"])),
            tx.queue.statuses(1),
            tx.queue.open_batch(),
            tx.queue.pending_count("1001"),
            [c.change_id for c in tx.queue.proposals(IMAGE)],
            [c.change_id for c in tx.queue.approved_in(1)],
        ]
    return answers


@pytest.mark.postgres
def test_sqlite_and_postgresql_give_the_same_answers(tmp_path: Path) -> None:
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"{POSTGRES_ENV} is not set")
    results: dict[str, list[object]] = {}
    opened: list[Callable[[], None]] = []
    with fresh_postgres_database() as url:
        for engine, database_url in (("sqlite", f"sqlite:///{tmp_path / 'q.sqlite3'}"), ("postgresql", url)):
            store = Store(database_url)
            opened.append(store.close)
            store.migrate()
            assert store.dialect == engine
            results[engine] = _answers(store)
        for close in opened:
            close()
    assert results["sqlite"] == results["postgresql"]
    assert results["sqlite"][0] == ([], 1)  # "%" matches one name only: the page from offset 1 is empty


def test_the_name_column_holds_the_folded_name(store: Store) -> None:
    queue(store, change(1, model_name="Straße ÜNÏ"))
    with store.read() as tx:
        folded = tx.queue.conn.execute(sa.select(pending_changes.c.name_folded)).scalar_one()
    assert folded == "strasse ünï"
