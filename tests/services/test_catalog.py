from __future__ import annotations

import json
import threading
from dataclasses import dataclass

from modelref.domain.bundle import read_bundle
from modelref.domain.categories import Category
from modelref.services.catalog import Catalog
from modelref.services.importer import import_bundle
from modelref.storage.store import Store
from tests.factories import image_record
from tests.support import REAL_DB_JSON_ENTRIES, reference_files


@dataclass(frozen=True)
class Plain:
    """The catalog takes any encoder: this one keeps the body as it is (the HTTP layer compresses)."""

    body: bytes


def _clip_files(*names: str) -> dict[str, bytes]:
    records = {n: {"name": n, "type": "clip", "config": {"files": [], "download": []}} for n in names}
    return {"clip.json": json.dumps(records).encode()}


def _image_files(*names: str, description: str = "A test model") -> dict[str, bytes]:
    return {"stable_diffusion.json": json.dumps({n: image_record(n, description=description) for n in names}).encode()}


def test_snapshots_follow_category_versions(store: Store) -> None:
    import_bundle(store, read_bundle(_image_files("A", "B")))
    catalog = Catalog(store, Plain)
    assert len(catalog.refresh()) == len(Category)
    first = catalog.get(Category.IMAGE_GENERATION)
    assert [h.key for h in first.hits] == ["A", "B"]
    assert catalog.refresh() == []  # nothing changed: nothing rebuilt
    assert catalog.get(Category.IMAGE_GENERATION) is first

    import_bundle(store, read_bundle(_image_files("A", "B", description="changed")))
    assert catalog.refresh() == [Category.IMAGE_GENERATION]
    second = catalog.get(Category.IMAGE_GENERATION)
    assert second.version == first.version + 1
    assert json.loads(second.records["A"].body)["description"] == "changed"
    assert json.loads(first.records["A"].body)["description"] == "A test model"  # old snapshot untouched
    assert catalog.get(Category.CLIP).hits == []


def test_snapshot_bytes_match_the_stored_documents(store: Store) -> None:
    import_bundle(store, read_bundle(reference_files()))
    catalog = Catalog(store, Plain)
    catalog.refresh()
    text = catalog.get(Category.TEXT_GENERATION)
    stored = {r.name: r.document for r in store.load(Category.TEXT_GENERATION).records}
    assert json.loads(text.v2.body) == stored
    assert list(json.loads(text.v2.body)) == list(stored)
    assert text.v1 is not None
    assert len(json.loads(text.v1.body)) == REAL_DB_JSON_ENTRIES


def test_background_follow_never_shows_a_partial_category(store: Store) -> None:
    import_bundle(store, read_bundle(_image_files(*[f"m{i}" for i in range(50)])))
    catalog = Catalog(store, Plain)
    catalog.refresh()
    seen: set[int] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            snapshot = catalog.get(Category.IMAGE_GENERATION)
            seen.add(len(snapshot.hits))

    reader = threading.Thread(target=read)
    reader.start()
    catalog.start(interval=0.01)
    try:
        for round_ in range(5):
            import_bundle(store, read_bundle(_image_files(*[f"m{i}" for i in range(50)], description=str(round_))))
            version = store.versions()[Category.IMAGE_GENERATION]
            deadline = threading.Event()
            for _ in range(500):
                if catalog.get(Category.IMAGE_GENERATION).version == version:
                    break
                deadline.wait(0.01)
            assert catalog.get(Category.IMAGE_GENERATION).version == version
    finally:
        stop.set()
        reader.join()
        catalog.stop()
    assert seen == {50}


def test_a_write_burst_holds_the_background_refresh_and_catches_up_after(store: Store) -> None:
    import_bundle(store, read_bundle(_image_files("A")))
    catalog = Catalog(store, Plain)
    catalog.refresh()
    catalog.start(interval=0.01)
    try:
        with catalog.deferred():
            import_bundle(store, read_bundle(_image_files("A", description="while held")))  # another writer
            for _ in range(50):  # several rounds of the background thread
                threading.Event().wait(0.01)
            assert json.loads(catalog.get(Category.IMAGE_GENERATION).records["A"].body)["description"] == (
                "A test model"
            )
        for _ in range(500):  # the next round of the background thread catches up
            if json.loads(catalog.get(Category.IMAGE_GENERATION).records["A"].body)["description"] == "while held":
                break
            threading.Event().wait(0.01)
        assert json.loads(catalog.get(Category.IMAGE_GENERATION).records["A"].body)["description"] == "while held"
    finally:
        catalog.stop()


def test_a_category_that_cannot_be_rebuilt_keeps_its_last_good_snapshot(store: Store) -> None:
    import_bundle(store, read_bundle({**_image_files("A"), **_clip_files("C")}))
    catalog = Catalog(store, Plain)
    catalog.refresh()
    good = catalog.get(Category.IMAGE_GENERATION)
    with store.write() as tx:  # a document this version cannot read (e.g. written by another version)
        tx.records.put(Category.IMAGE_GENERATION, "B", {"name": "B", "nsfw": "not a flag"})
        tx.records.touch(Category.IMAGE_GENERATION)
    import_bundle(store, read_bundle(_clip_files("C", "D")))
    assert catalog.refresh() == [Category.CLIP]  # the others move on
    assert catalog.get(Category.IMAGE_GENERATION) is good
    assert [h.key for h in catalog.get(Category.CLIP).hits] == ["C", "D"]
