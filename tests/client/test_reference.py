"""The library: ModelReference against real HTTP servers on 127.0.0.1 (a fake PRIMARY, a fake GitHub)."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelref import Category, EmptyCategory, ModelReference, NotFound, Unavailable
from modelref.client.cache import DiskCache
from modelref.client.remote import Source
from modelref.domain.query import SearchIndex, SearchParams
from modelref.domain.records import ImageGenerationModelRecord
from modelref.errors import InvalidQuery, ModelRefError, UnknownCategory, error_class
from tests.support import (
    REAL_IMAGE,
    REAL_TEXT,
    FakePrimary,
    github_files,
    http_server,
    reference_documents,
    serve_files,
)

IMAGE = Category.IMAGE_GENERATION
CLIP = Category.CLIP


@pytest.fixture
def primary() -> Iterator[FakePrimary]:
    with FakePrimary() as fake:
        yield fake


def reference(url: str | None, cache: Path, **options: object) -> ModelReference:
    values: dict[str, object] = {"cache_dir": cache, "github": False, "timeout": 2.0, "startup_wait": 0.0}
    values.update(options)
    return ModelReference(url or "", **values)  # type: ignore[arg-type]


def test_cold_load_gives_typed_records_of_every_category(primary: FakePrimary, tmp_path: Path) -> None:
    with reference(primary.url, tmp_path) as ref:
        assert len(ref.refresh()) == len(Category)
        images = ref.get_category(IMAGE)
        assert len(images) == REAL_IMAGE
        assert len(ref.get_category("text_generation")) == REAL_TEXT
        assert ref.get_category(Category.TI) == {}  # 404 category_empty is an empty category, not a failure
        model = ref.get_model("image_generation", "AlbedoBase XL (SDXL)")
        assert isinstance(model, ImageGenerationModelRecord)
        assert model.baseline == "stable_diffusion_xl"
        assert {s.source for s in ref.status().values()} == {Source.PRIMARY}
        assert ref.last_updated()[IMAGE] == 1795946400.0  # the PRIMARY's Last-Modified
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{c.value}.json" for c in Category)


def test_a_warm_refresh_is_one_conditional_request(primary: FakePrimary, tmp_path: Path) -> None:
    with reference(primary.url, tmp_path) as ref:
        ref.refresh()
        primary.seen.clear()
        assert ref.refresh() == []
        assert primary.seen == [("/api/model_references/v2/metadata/last_updated", 304)]

        primary.categories[CLIP] = {k: {**d, "description": "changed"} for k, d in primary.categories[CLIP].items()}
        primary.seen.clear()
        assert ref.refresh() == [CLIP]
        bodies = [path for path, status in primary.category_reads() if status == 200]
        assert bodies == ["/api/model_references/v2/clip"]  # the others answered 304 or 404
        assert all(r.description == "changed" for r in ref.get_category(CLIP).values())


def test_within_the_ttl_nothing_is_asked(primary: FakePrimary, tmp_path: Path) -> None:
    with reference(primary.url, tmp_path, ttl=60) as ref:
        ref.get_category(IMAGE)
        asked = len(primary.seen)
        for _ in range(5):
            ref.get_category(IMAGE)
        assert len(primary.seen) == asked
    with reference(primary.url, tmp_path, ttl=60) as ref:  # a new object: the fresh disk copy counts first
        ref.get_category(IMAGE)
        assert len(primary.seen) == asked
    with reference(primary.url, tmp_path, ttl=0) as ref:  # too old for this TTL: asked, with the tag on disk
        ref.get_category(IMAGE)
        assert primary.seen[-1] == ("/api/model_references/v2/image_generation", 304)


@pytest.mark.parametrize("mode", ["garbage", "truncated", "drop", "500", "slow", "empty"])
def test_a_failing_primary_never_replaces_good_data(primary: FakePrimary, tmp_path: Path, mode: str) -> None:
    primary.delay = 3.0
    with reference(primary.url, tmp_path, timeout=1.0) as ref:
        ref.refresh()
        before = ref.get_category(IMAGE)
        changed = {k: {**d, "description": "new"} for k, d in primary.categories[IMAGE].items()}
        primary.categories[IMAGE] = changed  # a change, but the PRIMARY's answers about it are unusable
        primary.mode = mode
        ref.refresh([IMAGE])
        assert ref.get_category(IMAGE) == before
        on_disk = DiskCache(tmp_path, primary.url).read(IMAGE)
        assert on_disk is not None
        assert len(on_disk.records) == REAL_IMAGE
        if mode != "empty":
            assert ref.mirror.last_error is not None


def test_an_emptied_category_is_taken_only_when_two_fetches_agree(
    primary: FakePrimary, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with reference(primary.url, tmp_path) as ref:
        ref.refresh()
        primary.categories[IMAGE] = {}
        ref.refresh([IMAGE])
        assert len(ref.get_category(IMAGE)) == REAL_IMAGE
        assert "keeping them until the next fetch agrees" in caplog.text
        ref.refresh([IMAGE])
        assert ref.get_category(IMAGE) == {}
        assert "twice in a row; replacing" in caplog.text


def test_a_shrink_below_half_waits_for_a_second_fetch_and_a_smaller_one_does_not(
    primary: FakePrimary, tmp_path: Path
) -> None:
    with reference(primary.url, tmp_path) as ref:
        ref.refresh()
        names = list(primary.categories[IMAGE])
        primary.categories[IMAGE] = {k: primary.categories[IMAGE][k] for k in names[: len(names) // 3]}
        ref.refresh([IMAGE])
        assert len(ref.get_category(IMAGE)) == REAL_IMAGE
        primary.categories[IMAGE] = {k: reference_documents()[IMAGE][k] for k in names[: len(names) * 2 // 3]}
        ref.refresh([IMAGE])  # two thirds: an ordinary change, and the suspicion of the third is dropped
        assert len(ref.get_category(IMAGE)) == len(names) * 2 // 3


def test_without_a_primary_the_github_files_take_over(tmp_path: Path) -> None:
    holder: dict[str, bytes] = {}  # filled once the server's address is known
    with http_server(serve_files(holder)) as github:
        layout, files = github_files(github)
        holder.update(files)
        with reference("http://127.0.0.1:9/api", tmp_path, github=layout) as ref:
            assert len(ref.get_category(IMAGE)) == REAL_IMAGE
            assert len(ref.get_category(Category.TEXT_GENERATION)) == REAL_TEXT
            assert ref.status()[IMAGE].source is Source.GITHUB
            model = ref.get_model(IMAGE, "AlbedoBase XL (SDXL)")
            assert isinstance(model, ImageGenerationModelRecord)
            assert model.baseline == "stable_diffusion_xl"
            with pytest.raises(Unavailable, match="lora: no source answered"):
                ref.get_category(Category.LORA)  # LoRAs are not in the legacy files


def test_with_every_source_down_the_disk_copy_serves(primary: FakePrimary, tmp_path: Path) -> None:
    with reference(primary.url, tmp_path) as ref:
        ref.refresh()
    asked = len(primary.seen)
    with reference(primary.url, tmp_path, ttl=60) as ref:
        assert len(ref.get_category(IMAGE)) == REAL_IMAGE  # a disk copy younger than the TTL is used first
        assert len(primary.seen) == asked  # … without asking anyone
    with reference(primary.url, tmp_path, offline=True) as ref:
        assert len(ref.get_category(Category.TEXT_GENERATION)) == REAL_TEXT
        assert len(primary.seen) == asked
    primary.stop()  # the PRIMARY is gone (and no GitHub is configured)
    with reference(primary.url, tmp_path, ttl=0) as ref:
        assert len(ref.get_category(IMAGE)) == REAL_IMAGE
        assert ref.status()[IMAGE].source is Source.DISK
        assert ref.mirror.last_error is not None
        assert "ConnectError" in ref.mirror.last_error


def test_nothing_anywhere_is_unavailable_after_the_bounded_wait(tmp_path: Path) -> None:
    with reference("http://127.0.0.1:9/api", tmp_path, startup_wait=1.0) as ref:
        started = time.monotonic()
        with pytest.raises(Unavailable, match="no source answered .* and there is no copy in"):
            ref.get_category(IMAGE)
        assert 0.5 < time.monotonic() - started < 10
    with reference(None, tmp_path, offline=True) as ref, pytest.raises(Unavailable, match="offline"):
        ref.get_category(IMAGE)


def test_the_existing_service_without_etags_works(primary: FakePrimary, tmp_path: Path) -> None:
    primary.mode = "legacy"
    with reference(primary.url, tmp_path) as ref:
        ref.refresh()
        assert len(ref.get_category(IMAGE)) == REAL_IMAGE
        assert ref.get_category(Category.TI) == {}  # 200 {} there
        primary.seen.clear()
        assert ref.refresh() == []  # no poll to ask: every category again, with nothing changed
        assert len(primary.category_reads()) == len(Category)


def test_get_model_and_query(primary: FakePrimary, tmp_path: Path) -> None:
    with reference(primary.url, tmp_path) as ref:
        with pytest.raises(NotFound, match="Model 'nope' not found in category 'clip'"):
            ref.get_model(CLIP, "nope")
        with pytest.raises(NotFound, match="Model category 'pictures' not found"):
            ref.get_category("pictures")
        filters: dict[str, Any] = {
            "baseline": "stable_diffusion_xl",
            "nsfw": False,
            "sort_by": "name",
            "sort_desc": True,
        }
        found = ref.query(IMAGE, **filters)
        # the service's query engine over the same records gives the same names in the same order
        hits = ref._index(IMAGE).search(SearchParams(**filters, limit=500).to_query(), IMAGE).hits
        assert [r.name for r in found] == [h.key for h in hits]
        assert len(found) >= 3
        assert [r.name for r in ref.query(IMAGE, limit=3, offset=1, **filters)] == [r.name for r in found[1:4]]
        with pytest.raises(InvalidQuery, match="bogus"):
            ref.query(IMAGE, bogus=1)
        with pytest.raises(InvalidQuery):
            ref.query(IMAGE, sort_by="no_such_field")
        assert isinstance(ref._index(IMAGE), SearchIndex)


def test_every_error_code_maps_back_to_its_class() -> None:
    pending: list[type[ModelRefError]] = [ModelRefError]
    seen = 0
    while pending:
        kind = pending.pop()
        pending.extend(kind.__subclasses__())
        if "code" in vars(kind):
            assert error_class(kind.code) is kind
            seen += 1
    assert seen > 15
    assert error_class(EmptyCategory.code) is EmptyCategory
    assert error_class("no-such-code") is None


def test_an_authoritative_answer_is_raised_as_its_class(tmp_path: Path) -> None:
    def handler(path: str) -> tuple[int, bytes]:
        return 404, b'{"detail": "Not Found"}'

    with (
        http_server(handler) as base,
        reference(base, tmp_path) as ref,
        pytest.raises(Unavailable),  # a 404 without an X-Error-Code is no answer about the category
    ):
        ref.get_category(IMAGE)


def test_several_processes_share_one_cache_dir(primary: FakePrimary, tmp_path: Path) -> None:
    code = (
        "import sys; from modelref import ModelReference\n"
        "ref = ModelReference(sys.argv[1], cache_dir=sys.argv[2], ttl=0, github=False, startup_wait=5)\n"
        "for _ in range(15): ref.refresh(['image_generation', 'clip'])\n"
        "print(len(ref.get_category('image_generation')))\n"
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", code, primary.url, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    cache = DiskCache(tmp_path, primary.url)
    reads = 0
    flips = 0
    while any(w.poll() is None for w in workers):
        primary.categories[CLIP] = {k: {**d, "description": str(flips)} for k, d in primary.categories[CLIP].items()}
        flips += 1
        for category in (IMAGE, CLIP):
            if cache.path(category).exists():
                copy = cache.read(category)
                assert copy is not None  # never a partial file
                reads += 1
    outputs = [w.communicate()[0].strip() for w in workers]
    assert all(w.returncode == 0 for w in workers)
    assert outputs == [str(REAL_IMAGE)] * 3
    assert reads > 10
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_the_library_needs_neither_the_web_stack_nor_a_database(primary: FakePrimary, tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "class Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'fastapi', 'starlette', 'sqlalchemy', 'alembic', 'uvicorn', 'psycopg',\n"
        "                                  'pydantic_settings', 'brotli'}:\n"
        "            raise ImportError(f'{name} is not installed')\n"
        "sys.meta_path.insert(0, Refuse())\n"
        "import modelref\n"
        "from modelref.compat import ModelReferenceManager, MODEL_REFERENCE_CATEGORY\n"
        "ref = modelref.ModelReference(sys.argv[1], cache_dir=sys.argv[2], github=False)\n"
        "print(len(ref.refresh()), len(ref.query('image_generation', baseline='stable_diffusion_xl')) > 0)\n"
        "manager = ModelReferenceManager(base_path=sys.argv[2], primary_api_url=sys.argv[1])\n"
        "print(len(manager.get_model_reference(MODEL_REFERENCE_CATEGORY.text_generation)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, primary.url, str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(len(Category)), "True", str(REAL_TEXT)]


def test_an_answer_with_an_error_code_is_raised_as_its_class(tmp_path: Path) -> None:
    def handler(path: str) -> tuple[int, bytes, dict[str, str]]:
        return 422, b'{"detail": "Model category not known here"}', {"X-Error-Code": "unknown_category"}

    with (
        http_server(handler) as base,
        reference(base, tmp_path, github=True) as ref,
        pytest.raises(UnknownCategory, match="Model category not known here"),
    ):
        ref.get_category(CLIP)  # authoritative: no fallback to GitHub, no "unavailable"


def test_compat_is_the_existing_librarys_entry_points(primary: FakePrimary, tmp_path: Path) -> None:
    from modelref.compat import MODEL_REFERENCE_CATEGORY, ModelReferenceManager, ReferenceUnavailable

    ModelReferenceManager.reset()
    with pytest.raises(RuntimeError, match="has not been created yet"):
        ModelReferenceManager.get_instance()
    manager = ModelReferenceManager(base_path=tmp_path, primary_api_url=primary.url)
    try:
        assert ModelReferenceManager() is manager is ModelReferenceManager.get_instance()
        images = manager.get_model_reference(MODEL_REFERENCE_CATEGORY.image_generation)
        assert len(images) == REAL_IMAGE
        assert images["AlbedoBase XL (SDXL)"].nsfw is False  # type: ignore[attr-defined]
        everything = manager.get_all_model_references()
        assert set(everything) == set(MODEL_REFERENCE_CATEGORY)
        assert everything[MODEL_REFERENCE_CATEGORY.ti] == {}
        assert len(everything["text_generation"]) == REAL_TEXT  # type: ignore[index]  # a StrEnum key
        with pytest.raises(RuntimeError, match="Model nope not found"):
            manager.get_model("clip", "nope")
        assert manager.get_model_or_none("clip", "nope") is None
        assert manager.get_model("clip", "ViT-L/14").name == "ViT-L/14"
    finally:
        ModelReferenceManager.reset()
    down = ModelReferenceManager(base_path=tmp_path / "empty", primary_api_url="http://127.0.0.1:9/api")
    try:
        down.reference.mirror.origins = dataclasses.replace(down.reference.mirror.origins, github=None)
        down.reference.startup_wait = 0
        with pytest.raises(ReferenceUnavailable) as caught:
            down.get_model_reference("clip")
        assert isinstance(caught.value, RuntimeError)
        assert down.get_model_reference_or_none("clip") is None
    finally:
        ModelReferenceManager.reset()


def test_a_source_that_is_down_is_not_asked_on_every_call(primary: FakePrimary, tmp_path: Path) -> None:
    with reference(primary.url, tmp_path, ttl=60) as ref:
        ref.refresh()
        primary.mode = "500"
        ref.refresh([IMAGE])  # an explicit refresh always asks
        asked = len(primary.seen)
        for _ in range(5):
            assert len(ref.get_category(IMAGE)) == REAL_IMAGE
        assert len(primary.seen) == asked


def test_processes_sharing_a_cache_dir_still_see_a_change_within_their_ttl(
    primary: FakePrimary, tmp_path: Path
) -> None:
    with reference(primary.url, tmp_path, ttl=1) as first, reference(primary.url, tmp_path, ttl=1) as second:
        first.get_category(CLIP)
        second.get_category(CLIP)
        primary.categories[CLIP] = {k: {**d, "description": "new"} for k, d in primary.categories[CLIP].items()}
        deadline = time.monotonic() + 10
        while {r.description for ref in (first, second) for r in ref.get_category(CLIP).values()} != {"new"}:
            assert time.monotonic() < deadline, "a copy taken from disk kept the other process from asking"
            time.sleep(0.05)


def test_a_cold_start_guards_the_copy_on_disk(primary: FakePrimary, tmp_path: Path) -> None:
    with reference(primary.url, tmp_path) as ref:
        ref.refresh()
    primary.categories[IMAGE] = {}
    with reference(primary.url, tmp_path, ttl=0) as ref:  # the disk copy is too old to use as it is
        assert len(ref.get_category(IMAGE)) == REAL_IMAGE  # an empty answer is held back once
    on_disk = DiskCache(tmp_path, primary.url).read(IMAGE)
    assert on_disk is not None
    assert len(on_disk.records) == REAL_IMAGE


def test_a_copy_on_disk_of_another_primary_is_not_used(primary: FakePrimary, tmp_path: Path) -> None:
    with reference(primary.url, tmp_path) as ref:
        ref.refresh([CLIP])
    with FakePrimary() as staging:
        staging.categories[CLIP] = {k: {**d, "description": "staging"} for k, d in staging.categories[CLIP].items()}
        with reference(staging.url, tmp_path, ttl=60) as ref:
            assert {r.description for r in ref.get_category(CLIP).values()} == {"staging"}
            assert staging.category_reads() == [("/api/model_references/v2/clip", 200)]
