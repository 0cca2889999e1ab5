from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelref.domain.audit import Operation
from modelref.domain.bundle import read_bundle
from modelref.domain.categories import Category
from modelref.domain.formats import Format
from modelref.errors import ExportFailed
from modelref.services.check import check_store
from modelref.services.exporter import plan_export, write_export
from modelref.services.importer import import_bundle
from modelref.services.records import load_all
from modelref.storage.store import Store
from tests.factories import image_record
from tests.support import (
    LEGACY_IMAGE,
    LEGACY_TEXT,
    REAL_RECORDS,
    REAL_TEXT,
    audit_events,
    record_counts,
    reference_files,
)


def test_import_real_data_then_export_reproduces_the_legacy_files(store: Store, tmp_path: Path) -> None:
    report = import_bundle(store, read_bundle(reference_files()), now=1_700_000_000)
    assert sum(r.created for r in report.categories) == REAL_RECORDS
    assert record_counts(store)[Category.TEXT_GENERATION] == REAL_TEXT

    write_export(plan_export(store, {Format.LEGACY}, tmp_path))
    assert (tmp_path / "stable_diffusion.json").read_bytes() == (LEGACY_IMAGE / "stable_diffusion.json").read_bytes()
    assert (tmp_path / "db.json").read_bytes() == (LEGACY_TEXT / "db.json").read_bytes()
    for original in LEGACY_IMAGE.glob("*.json"):
        if original.name.endswith(".schema.json"):
            continue
        exported = (tmp_path / original.name).read_text()
        # Same JSON value, same key order at every depth (dumps keeps order).
        assert json.dumps(json.loads(exported)) == json.dumps(json.loads(original.read_text())), original.name
    for name in ("defaults.json", "generation_params.json"):
        assert json.loads((tmp_path / name).read_text()) == json.loads((LEGACY_TEXT / name).read_text())


def test_records_get_timestamps_and_pass_check(store: Store) -> None:
    import_bundle(store, read_bundle(reference_files()), now=1_700_000_000)
    records = load_all(store)
    _, first = records[Category.IMAGE_GENERATION][0]
    assert (first.metadata.created_at, first.metadata.updated_at) == (1_700_000_000, 1_700_000_000)
    report = check_store(store)
    assert report.ok, report.problems
    assert (report.records, report.audit_events) == (REAL_RECORDS, REAL_RECORDS)


def test_reimporting_the_same_data_changes_nothing(store: Store) -> None:
    bundle = read_bundle(reference_files())
    import_bundle(store, bundle, now=1)
    versions = store.versions()
    report = import_bundle(store, bundle, now=2)
    assert not report.changed
    assert sum(r.unchanged for r in report.categories) == REAL_RECORDS
    assert store.versions() == versions
    assert len(audit_events(store)) == REAL_RECORDS


def test_reimport_updates_creates_and_deletes_with_audit_events(store: Store) -> None:
    files = {"stable_diffusion.json": json.dumps({"A": image_record("A"), "B": image_record("B")}).encode()}
    import_bundle(store, read_bundle(files), now=10)
    files = {
        "stable_diffusion.json": json.dumps(
            {"B": image_record("B", description="new text"), "C": image_record("C")}
        ).encode()
    }
    report = import_bundle(store, read_bundle(files), now=20)
    result = report.categories[0]
    assert (result.created, result.updated, result.deleted, result.unchanged) == (1, 1, 1, 0)
    stored = {r.name: r.document for r in store.load(Category.IMAGE_GENERATION).records}
    assert list(stored) == ["B", "C"]
    assert stored["B"]["metadata"]["created_at"] == 10
    assert stored["B"]["metadata"]["updated_at"] == 20
    events = audit_events(store)
    assert [e.operation for e in events[-3:]] == [Operation.UPDATE, Operation.CREATE, Operation.DELETE]
    update = events[-3].payload_value()
    assert update["delta"]["description"] == {"old": "A test model", "new": "new text"}
    assert store.versions()[Category.IMAGE_GENERATION] == 2


def test_a_crash_during_import_leaves_the_database_as_it_was(store: Store) -> None:
    bundle = read_bundle(reference_files())

    def crash(category: Category, _count: int) -> None:
        if category is Category.CONTROLNET:
            raise RuntimeError("killed mid-import")

    with pytest.raises(RuntimeError):
        import_bundle(store, bundle, on_category=crash)
    assert store.is_empty()
    assert audit_events(store) == []
    assert store.versions() == {}


def test_export_both_writes_v2_and_legacy_folders(store: Store, tmp_path: Path) -> None:
    import_bundle(store, read_bundle(reference_files()))
    write_export(plan_export(store, set(Format), tmp_path))
    v2 = json.loads((tmp_path / "v2" / "text_generation.json").read_text())
    assert len(v2) == REAL_TEXT
    assert json.loads((tmp_path / "v2" / "lora.json").read_text()) == {}
    assert (tmp_path / "legacy" / "db.json").exists()
    again = read_bundle({p.name: p.read_bytes() for p in (tmp_path / "v2").iterdir()})
    assert again.record_count == REAL_RECORDS


def test_export_onto_a_file_fails_cleanly_and_leaves_no_temp_files(store: Store, tmp_path: Path) -> None:
    import_bundle(store, read_bundle(reference_files()))
    folder = tmp_path / "export"
    folder.mkdir()
    blocker = folder / "out"
    blocker.write_text("a file, not a folder")
    with pytest.raises(ExportFailed, match="cannot write"):
        write_export(plan_export(store, {Format.LEGACY}, blocker))
    assert sorted(p.name for p in folder.iterdir()) == ["out"]
    # A folder where a target file should be: the rename fails, the temp file is removed.
    target = folder / "legacy"
    (target / "db.json").mkdir(parents=True)
    with pytest.raises(ExportFailed, match="db.json"):
        write_export(plan_export(store, {Format.LEGACY}, target))
    assert not [p for p in target.iterdir() if p.name.endswith(".tmp")]
