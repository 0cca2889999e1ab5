from __future__ import annotations

import json
import threading

from modelref.domain.bundle import read_bundle
from modelref.domain.categories import Category
from modelref.services.catalog import Blob, store_catalog
from modelref.services.importer import import_bundle
from modelref.storage.store import Store
from tests.factories import image_record
from tests.support import reference_files


def _image_files(*names: str, description: str = "A test model") -> dict[str, bytes]:
    return {"stable_diffusion.json": json.dumps({n: image_record(n, description=description) for n in names}).encode()}


def test_snapshots_follow_category_versions(store: Store) -> None:
    import_bundle(store, read_bundle(_image_files("A", "B")))
    catalog = store_catalog(store)
    assert len(catalog.refresh()) == len(Category)
    first = catalog.get(Category.IMAGE_GENERATION)
    assert [h.key for h in first.hits] == ["A", "B"]
    assert catalog.refresh() == []  # nothing changed: nothing rebuilt
    assert catalog.get(Category.IMAGE_GENERATION) is first

    import_bundle(store, read_bundle(_image_files("A", "B", description="changed")))
    assert catalog.refresh() == [Category.IMAGE_GENERATION]
    second = catalog.get(Category.IMAGE_GENERATION)
    assert second.version == first.version + 1
    assert json.loads(second.record_blobs["A"].body)["description"] == "changed"
    assert json.loads(first.record_blobs["A"].body)["description"] == "A test model"  # old snapshot untouched
    assert catalog.get(Category.CLIP).hits == []


def test_snapshot_bytes_match_the_stored_documents(store: Store) -> None:
    import_bundle(store, read_bundle(reference_files()))
    catalog = store_catalog(store)
    catalog.refresh()
    text = catalog.get(Category.TEXT_GENERATION)
    stored = {r.name: r.document for r in store.load(Category.TEXT_GENERATION)}
    assert json.loads(text.v2.body) == stored
    assert list(json.loads(text.v2.body)) == list(stored)
    assert len(json.loads(text.v1.body)) == 2157  # type: ignore[union-attr]


def test_background_follow_never_shows_a_partial_category(store: Store) -> None:
    import_bundle(store, read_bundle(_image_files(*[f"m{i}" for i in range(50)])))
    catalog = store_catalog(store)
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


def test_blob_compresses_once_and_round_trips() -> None:
    import gzip

    import brotli

    blob = Blob.of({"x": "y" * 5000})
    assert blob.encoded("gzip") is blob.encoded("gzip")
    assert gzip.decompress(blob.encoded("gzip")) == blob.body
    assert brotli.decompress(blob.encoded("br")) == blob.body
    assert Blob(b"same").etag == Blob(b"same").etag != Blob(b"other").etag
