"""REPLICA mode: the same reads as the PRIMARY from memory, no writes, and the last good data when the
sources fail — in process against a fake PRIMARY, and as real processes (a PRIMARY and two REPLICAs)."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import httpx
import pytest

from modelref import ModelReference, Unavailable
from modelref.domain.categories import Category
from modelref.domain.tags import content_tag
from modelref.http.app import create_app
from tests.support import KEYS as HORDE_USERS
from tests.support import (
    REAL_IMAGE,
    REAL_TEXT,
    FakeHorde,
    FakePrimary,
    github_files,
    http_server,
    live_server,
    make_settings,
    realistic_usage,
    reference_documents,
    running,
    serve,
    serve_files,
)

pytestmark = pytest.mark.anyio

V2 = "/api/model_references/v2"
DEADLINE = 20.0
EMPTY_STRUCTURE: dict[str, dict[str, object]] = {"aliases": {}, "families": {}, "schemas": {}}


def replica_settings(data_dir: Path, primary_url: str, horde_url: str = "http://127.0.0.1:9/api/") -> object:
    return make_settings(
        data_dir,
        replicate_mode="REPLICA",
        primary_api_url=primary_url,
        enable_github_fallback=False,
        startup_wait=0,
        cache_ttl_seconds=1,
        primary_api_timeout=2,
        ai_horde_url=horde_url,
        pending_queue={"requestor_ids": ["1001"], "approver_ids": ["2002"]},
    )


async def replica_client(data_dir: Path, primary_url: str, horde_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async for client in running(create_app(replica_settings(data_dir, primary_url, horde_url))):  # type: ignore[arg-type]
        yield client


async def test_a_replica_serves_the_primarys_bytes_and_tags(tmp_path: Path) -> None:
    with FakePrimary() as primary, FakeHorde(HORDE_USERS) as horde:
        async for client in replica_client(tmp_path, primary.url, horde.url):
            for category in (Category.IMAGE_GENERATION, Category.TEXT_GENERATION, Category.CLIP):
                answer = await client.get(f"{V2}/{category.value}", headers={"accept-encoding": "identity"})
                assert answer.status_code == 200
                assert answer.content == primary.body(category)
                assert answer.headers["etag"] == f'"{content_tag(primary.body(category))}"'
                assert answer.headers["last-modified"] == "Sun, 29 Nov 2026 10:00:00 GMT"
            assert len((await client.get(f"{V2}/text_generation")).json()) == REAL_TEXT
            empty = await client.get(f"{V2}/ti")
            assert (empty.status_code, empty.headers["x-error-code"]) == (404, "category_empty")
            assert (await client.get("/api/replicate_mode")).json() == {
                "replicate_mode": "REPLICA",
                "canonical_format": "v2",
                "writable": False,
            }
            beat = (await client.get("/api/heartbeat")).json()
            assert beat["replica"]["source"] == "primary"
            assert beat["replica"]["missing"] == []
            assert beat["replica"]["categories"]["image_generation"]["records"] == REAL_IMAGE


async def test_a_replica_ranks_and_analyses_live_usage_from_its_data(tmp_path: Path) -> None:
    with FakePrimary() as primary, FakeHorde(HORDE_USERS, usage=realistic_usage(reference_documents())) as horde:
        async for client in replica_client(tmp_path, primary.url, horde.url):
            popular = (await client.get(f"{V2}/image_generation/popular", params={"limit": 3})).json()
            assert len(popular) == 3
            assert popular[0]["stats"]["worker_count"] >= popular[2]["stats"]["worker_count"] > 0
            risk = await client.get("/api/model_references/statistics/text_generation/deletion-risk")
            assert risk.status_code == 200
            assert risk.json()["total_count"] == REAL_TEXT


async def test_a_replica_refuses_writes_before_asking_the_ai_horde(tmp_path: Path) -> None:
    record = {"name": "New", "baseline": "stable_diffusion_xl", "nsfw": False}
    with FakePrimary() as primary, FakeHorde(HORDE_USERS) as horde:
        async for client in replica_client(tmp_path, primary.url, horde.url):
            key = {"apikey": "requestor-key"}
            missing_key = await client.post(f"{V2}/image_generation", json=record)
            assert missing_key.status_code == 401
            bad_body = await client.post(f"{V2}/image_generation", json={"name": 5}, headers=key)
            assert bad_body.status_code == 422
            for method, path, body in [
                ("POST", f"{V2}/image_generation", record),
                ("PUT", f"{V2}/image_generation/model/New", record),
                ("DELETE", f"{V2}/image_generation/model/AlbedoBase XL (SDXL)", None),
                ("POST", "/api/model_references/v1/image_generation", {"New": {"name": "New"}}),
                ("GET", f"{V2}/pending_queue/changes", None),
                ("POST", f"{V2}/pending_queue/apply", {"change_ids": [1]}),
                ("PUT", f"{V2}/text_generation/group/Marx/common_fields", {"style": "x"}),
                ("PUT", f"{V2}/text_generation/acrastt/Marx-3B-V3/name_exception", {"reason": "x"}),
            ]:
                answer = await client.request(method, path, json=body, headers=key)
                assert answer.status_code == 503, (method, path, answer.text)
                assert answer.headers["x-error-code"] in {"not_writable", "not_served"}
            for path in ("metadata/last_updated", "metadata/metadata", "metadata/image_generation"):
                assert (await client.get(f"{V2}/{path}")).status_code == 503
            assert horde.calls == 0


STRUCTURE = {
    "aliases": {"Marx": ["Marxism"]},
    "families": {"Small": ["Marx", "pythia"]},
    "schemas": {
        "Marx": {
            "separator": "_",
            "part_order": ["base", "size"],
            "author_included": True,
            "common_author": None,
            "template": None,
            "extra_parts": [],
        }
    },
}


async def test_a_replica_answers_the_toolkit_with_its_primarys_structure(tmp_path: Path) -> None:
    with FakePrimary() as primary, FakeHorde(HORDE_USERS) as horde:
        primary.structure = STRUCTURE
        async for client in replica_client(tmp_path, primary.url, horde.url):
            assert (await client.get(f"{TEXT}/structure")).json() == STRUCTURE
            assert (await client.get(f"{TEXT}/aliases")).json() == {
                "entries": [{"canonical": "Marx", "aliases": ["Marxism"]}]
            }
            assert (await client.get(f"{TEXT}/families/Small")).json()["members"] == ["Marx", "pythia"]
            assert (await client.get(f"{TEXT}/parse_name", params={"name": "Marxism-3B"})).json()[
                "suggested_group"
            ] == "Marx"
            group = (await client.get(f"{TEXT}/group/Marx")).json()
            assert (group["name_schema_is_custom"], group["name_format"]["template"]) == (True, "")
            assert group["related_family"] == {"family_name": "Small", "members": ["Marx", "pythia"]}
            by_alias = (await client.get(f"{TEXT}/group/name_schema", params={"name": "Marxism"})).json()
            assert by_alias["is_custom"]
            assert by_alias["name_schema"]["separator"] == "_"
            for method, path, body in [
                ("PUT", f"{TEXT}/group/Marx/name_schema", {"separator": "_"}),
                ("PUT", f"{TEXT}/group/name_schema?name=Marx", {"separator": "_"}),
                ("DELETE", f"{TEXT}/group/Marx/name_schema", None),
                ("PUT", f"{TEXT}/aliases/Marx", {"aliases": ["x"]}),
                ("DELETE", f"{TEXT}/families/Small", None),
            ]:
                answer = await client.request(method, path, json=body, headers={"apikey": "requestor-key"})
                assert (answer.status_code, answer.headers["x-error-code"]) == (503, "not_writable"), path
            assert horde.calls == 0
            primary.structure = {**STRUCTURE, "aliases": {}}
            deadline = time.monotonic() + DEADLINE
            while (await client.get(f"{TEXT}/aliases")).json()["entries"]:
                assert time.monotonic() < deadline, "the REPLICA never received the changed structure"
                await anyio.sleep(0.2)
            primary.mode = "garbage"  # a PRIMARY answering garbage leaves the structure held
            await structure_asked(primary, since=len(primary.seen))
            assert (await client.get(f"{TEXT}/families/Small")).status_code == 200


async def structure_asked(primary: FakePrimary, since: int, times: int = 2) -> None:
    """Wait until the REPLICA has asked *primary* for the structure *times* times since ``seen[since]`` (the
    answer to all but the last one has been dealt with: it is asked again a poll later)."""
    deadline = time.monotonic() + DEADLINE
    while sum(1 for path, _ in primary.seen[since:] if path.endswith("/text_generation/structure")) < times:
        assert time.monotonic() < deadline, "the REPLICA stopped asking for the structure"
        await anyio.sleep(0.1)


async def test_an_answer_that_is_no_structure_leaves_the_one_held(tmp_path: Path) -> None:
    on_disk = tmp_path / "replica" / "text_generation.structure.json"
    with FakePrimary() as primary, FakeHorde(HORDE_USERS) as horde:
        primary.structure = STRUCTURE
        async for client in replica_client(tmp_path, primary.url, horde.url):
            assert (await client.get(f"{TEXT}/structure")).json() == STRUCTURE
            kept = on_disk.read_bytes()
            for answer in (
                {},
                {"detail": "x"},
                {**STRUCTURE, "detail": "maintenance"},
                {**STRUCTURE, "aliases": {"Marx": ["Marx"]}},
                {**STRUCTURE, "aliases": {"Marx": []}},
                {**STRUCTURE, "aliases": {"Marx": ["a"], "pythia": ["a"]}},
                {**STRUCTURE, "families": {"Small": ["Marx"], "Other": ["Marx"]}},
            ):
                primary.structure = answer
                seen = len(primary.seen)
                await structure_asked(primary, since=seen)
                assert (f"{TEXT}/structure", 200) in primary.seen[seen:], answer  # it was served
                assert (await client.get(f"{TEXT}/structure")).json() == STRUCTURE, answer
                assert on_disk.read_bytes() == kept, answer


async def test_a_replica_waits_at_start_for_a_primary_a_moment_late(tmp_path: Path) -> None:
    with FakePrimary() as primary, FakeHorde(HORDE_USERS) as horde:
        primary.mode = "500"
        timer = threading.Timer(0.6, lambda: setattr(primary, "mode", "up"))
        timer.start()
        settings = replica_settings(tmp_path, primary.url, horde.url)
        settings.startup_wait = 10  # type: ignore[attr-defined]
        settings.cache_ttl_seconds = 600  # type: ignore[attr-defined]  # no poll within the test
        try:
            async for client in running(create_app(settings)):  # type: ignore[arg-type]
                assert (await client.get(f"{TEXT}/aliases")).status_code == 200  # no 503 until the next poll
                age = (await client.get("/api/heartbeat")).json()["replica"]["structure_age_seconds"]
                assert 0 <= age < 5
        finally:
            timer.cancel()


async def test_a_primary_that_does_not_answer_is_not_asked_for_the_structure_too(tmp_path: Path) -> None:
    structure, first_read = f"{TEXT}/structure", f"{V2}/{Category.IMAGE_GENERATION.value}"

    def polls_started(since: int) -> list[int]:
        """Where in ``primary.seen`` each poll after *since* started (a failing poll reads every category)."""
        return [i for i, (path, _) in enumerate(primary.seen) if i >= since and path == first_read]

    with FakePrimary() as primary, FakeHorde(HORDE_USERS) as horde:
        primary.structure = STRUCTURE
        async for client in replica_client(tmp_path, primary.url, horde.url):
            await structure_asked(primary, since=0)  # asked on every poll while the PRIMARY answers
            primary.mode = "503"  # up, but answering nothing: the poll, the categories and the structure alike
            deadline = time.monotonic() + DEADLINE
            while "503" not in str((await client.get("/api/heartbeat")).json()["replica"]["last_error"]):
                assert time.monotonic() < deadline, "the REPLICA never noticed its PRIMARY failing"
                await anyio.sleep(0.1)
            failing = len(primary.seen)  # in the middle of the first poll that failed
            while len(polls_started(failing)) < 2:
                assert time.monotonic() < deadline, "the REPLICA stopped polling its failing PRIMARY"
                await anyio.sleep(0.1)
            # the rest of the first poll that failed and the whole next one: categories asked, never the structure
            failed = [path for path, _ in primary.seen[failing : polls_started(failing)[1]]]
            assert first_read in failed
            assert structure not in failed
            assert (await client.get("/api/heartbeat")).json()["replica"]["structure_age_seconds"] >= 2
            assert (await client.get(structure)).json() == STRUCTURE
            primary.mode = "up"
            recovered = len(primary.seen)
            deadline = time.monotonic() + DEADLINE
            while (await client.get("/api/heartbeat")).json()["replica"]["structure_age_seconds"] >= 1:
                assert time.monotonic() < deadline, "the REPLICA never asked its recovered PRIMARY for the structure"
                await anyio.sleep(0.1)
            assert structure in [path for path, _ in primary.seen[recovered:]]
            assert (await client.get(structure)).json() == STRUCTURE


async def test_a_replica_of_the_existing_service_takes_its_alias_and_family_lists(tmp_path: Path) -> None:
    with FakePrimary() as primary, FakeHorde(HORDE_USERS) as horde:
        primary.mode = "legacy"
        primary.structure = STRUCTURE
        async for client in replica_client(tmp_path, primary.url, horde.url):
            assert (await client.get(f"{TEXT}/structure")).json() == {**STRUCTURE, "schemas": {}}
            assert (await client.get(f"{TEXT}/groups/summary")).json()["groups_with_aliases"] == 1


async def test_the_toolkit_is_503_until_the_structure_arrives(tmp_path: Path) -> None:
    with FakePrimary() as primary, FakeHorde(HORDE_USERS) as horde:
        primary.structure = None  # its route answers 500
        async for client in replica_client(tmp_path, primary.url, horde.url):
            for path in (
                f"{TEXT}/aliases",
                f"{TEXT}/groups/summary",
                f"{TEXT}/parse_name?name=x-7B",
                f"{TEXT}/group/Marx",
            ):
                answer = await client.get(path)
                assert (answer.status_code, answer.headers["x-error-code"]) == (503, "not_replicated"), path
                assert "retry-after" in answer.headers
            assert (await client.get(f"{TEXT}/groups")).status_code == 200  # needs no structure
            assert (await client.get("/api/heartbeat")).json()["replica"]["structure_age_seconds"] is None
            primary.structure = STRUCTURE
            deadline = time.monotonic() + DEADLINE
            while (await client.get(f"{TEXT}/groups/summary")).status_code != 200:
                assert time.monotonic() < deadline, "the REPLICA never received the structure"
                await anyio.sleep(0.2)
            assert (await client.get("/api/heartbeat")).json()["replica"]["structure_age_seconds"] < 5


async def test_a_category_not_received_yet_is_503_not_404(tmp_path: Path) -> None:
    with FakePrimary() as primary, FakeHorde(HORDE_USERS) as horde:
        primary.failing = {Category.CLIP}
        async for client in replica_client(tmp_path, primary.url, horde.url):
            answer = await client.get(f"{V2}/clip")
            assert (answer.status_code, answer.headers["x-error-code"]) == (503, "not_replicated")
            assert "retry-after" in answer.headers
            assert (await client.get(f"{V2}/search?name_contains=a")).status_code == 503  # never a partial answer
            assert (await client.get(f"{V2}/image_generation")).status_code == 200
            assert (await client.get("/api/heartbeat")).json()["replica"]["missing"] == ["clip"]
            primary.failing = set()
            deadline = time.monotonic() + DEADLINE
            while (await client.get(f"{V2}/clip")).status_code != 200:
                assert time.monotonic() < deadline, "the REPLICA never received clip"
                await anyio.sleep(0.2)


async def test_a_replica_falls_back_to_github_and_a_library_reading_it_waits_for_what_it_lacks(
    tmp_path: Path,
) -> None:
    holder: dict[str, bytes] = {}
    with http_server(serve_files(holder)) as github_base, FakeHorde(HORDE_USERS) as horde:
        layout, files = github_files(github_base)
        holder.update(files)
        settings = replica_settings(tmp_path / "replica", "http://127.0.0.1:9/api", horde.url)
        settings.enable_github_fallback = True  # type: ignore[attr-defined]
        settings.github = layout  # type: ignore[attr-defined]
        app = create_app(settings)  # type: ignore[arg-type]
        with live_server(app) as replica:
            beat = httpx.get(f"{replica}/api/heartbeat").json()["replica"]
            assert beat["source"] == "github"
            # Not in the legacy files: not received (503), which is not empty (404).
            assert beat["missing"] == ["video_generation", "audio_generation", "lora", "ti"]
            assert len(httpx.get(f"{replica}{V2}/image_generation").json()) == REAL_IMAGE
            with ModelReference(f"{replica}/api", cache_dir=tmp_path / "lib", github=False, startup_wait=0) as ref:
                assert len(ref.get_category(Category.TEXT_GENERATION)) == REAL_TEXT
                assert ref.get_category(Category.CLIP) != {}
                with pytest.raises(Unavailable):
                    ref.get_category(Category.LORA)  # 503 not_replicated is no answer: never "empty"


async def test_a_replica_that_moves_from_github_to_the_primary_serves_its_last_modified(tmp_path: Path) -> None:
    holder: dict[str, bytes] = {}
    with http_server(serve_files(holder)) as github_base, FakePrimary() as primary, FakeHorde(HORDE_USERS) as horde:
        layout, files = github_files(github_base)
        holder.update(files)
        primary.mode = "500"
        settings = replica_settings(tmp_path, primary.url, horde.url)
        settings.enable_github_fallback = True  # type: ignore[attr-defined]
        settings.github = layout  # type: ignore[attr-defined]
        async for client in running(create_app(settings)):  # type: ignore[arg-type]
            first = await client.get(f"{V2}/image_generation")
            assert (await client.get("/api/heartbeat")).json()["replica"]["source"] == "github"
            primary.mode = "up"  # the same records (converted from the same files), now from the PRIMARY
            deadline = time.monotonic() + DEADLINE
            while (answer := await client.get(f"{V2}/image_generation")).headers["last-modified"] != (
                "Sun, 29 Nov 2026 10:00:00 GMT"
            ):
                assert time.monotonic() < deadline, "the PRIMARY's Last-Modified never arrived"
                await anyio.sleep(0.2)
            assert answer.headers["etag"] == first.headers["etag"]  # same content, same tag


# -- real processes ----------------------------------------------------------------------------------------


def _replica_env(primary: str) -> dict[str, str]:
    return {
        "HORDE_MODEL_REFERENCE_REPLICATE_MODE": "REPLICA",
        "HORDE_MODEL_REFERENCE_PRIMARY_API_URL": f"{primary}/api",
        "HORDE_MODEL_REFERENCE_ENABLE_GITHUB_FALLBACK": "false",
        "HORDE_MODEL_REFERENCE_CACHE_TTL_SECONDS": "1",
        "HORDE_MODEL_REFERENCE_PRIMARY_API_TIMEOUT": "2",
        "HORDE_MODEL_REFERENCE_STARTUP_WAIT": "0",
    }


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


READS = [
    f"{V2}/image_generation",
    f"{V2}/text_generation",
    f"{V2}/clip/model/ViT-L/14",
    f"{V2}/image_generation/search?baseline=flux_1&sort_by=name",
    f"{V2}/search?name_contains=llama&limit=5",
    "/api/model_references/v1/text_generation",
    "/api/model_references/v1/stable_diffusion",
    "/api/model_references/v1/text_generation?include_group=true",
]
TEXT = f"{V2}/text_generation"
AN_ALIAS = f"{TEXT}/group/name_schema?name=Qwen-2.5"
"""The one toolkit read that is 404 until the alias it names is made."""
TOOLKIT_READS = [
    f"{TEXT}/structure",
    f"{TEXT}/aliases",
    f"{TEXT}/families",
    f"{TEXT}/groups/summary",
    f"{TEXT}/groups/health",
    f"{TEXT}/group/Qwen2.5",
    f"{TEXT}/group/Qwen2.5/name_schema",
    AN_ALIAS,
    f"{TEXT}/parse_name?name=Qwen-2.5-7B-Instruct",
    f"{TEXT}/families/detect",
]
"""The text toolkit's reads, which depend on the aliases, families and naming schemas a REPLICA pulls."""


def _same_answers(primary: str, replica: str) -> None:
    for path in READS + TOOLKIT_READS:
        for encoding in ("identity", "gzip"):
            a = httpx.get(primary + path, headers={"accept-encoding": encoding}, timeout=10)
            b = httpx.get(replica + path, headers={"accept-encoding": encoding}, timeout=10)
            allowed = {(200, 200), (404, 404)} if path == AN_ALIAS else {(200, 200)}
            assert (a.status_code, b.status_code) in allowed, path
            assert a.content == b.content, path
            assert a.headers.get("etag") == b.headers.get("etag"), path
            assert a.headers.get("last-modified") == b.headers.get("last-modified"), path


def _decide_structure(database: str) -> None:
    """What moderators decide about the text groups, written on the PRIMARY as its routes write it (each change
    with its audit event, which tells the PRIMARY's process to read the structure again)."""
    from modelref.domain.deployment import Deployment
    from modelref.domain.textstructure import GroupNameSchemaUpdateRequest
    from modelref.services.textmeta import Aliases, Families, Schemas, StoredStructure
    from modelref.storage.store import Store
    from tests.factories import requestor

    store = Store(database)
    held = StoredStructure(store)
    Aliases(store, Deployment(), held, groups=set).replace("Qwen2.5", ["Qwen-2.5"], requestor())
    Families(store, Deployment(), held).replace("Qwen", ["Qwen1.5", "Qwen2.5", "Qwen3"], requestor())
    schema = GroupNameSchemaUpdateRequest(separator="_", template="{base}_{size}")
    Schemas(store, Deployment(), held).update("Qwen2.5", schema, requestor())
    store.close()


def _structure(base: str) -> object:
    return httpx.get(f"{base}{TEXT}/structure", timeout=5).json()


def _description(base: str) -> str | None:
    answer = httpx.get(f"{base}{V2}/clip/model/ViT-L/14", timeout=5)
    return answer.json().get("description") if answer.status_code == 200 else None


def test_replicas_follow_the_primary_and_outlive_it(tmp_path: Path) -> None:
    from modelref.domain.bundle import read_bundle
    from modelref.services.importer import import_bundle
    from modelref.storage.store import Store
    from tests.support import REFERENCE_DATA

    primary_dir, first_dir, second_dir = tmp_path / "primary", tmp_path / "r1", tmp_path / "r2"
    for folder in (primary_dir, first_dir, second_dir):
        folder.mkdir()
    database = f"sqlite:///{primary_dir / 'modelref.sqlite3'}"

    def change(text: str) -> None:
        bundle = read_bundle({"clip.json": (REFERENCE_DATA / "legacy-image" / "clip.json").read_bytes()})
        for _, record in bundle.categories[Category.CLIP]:
            record.description = text
        store = Store(database)
        import_bundle(store, bundle)
        store.close()

    with serve(primary_dir) as (primary, _, primary_process):
        env = _replica_env(primary)
        with serve(first_dir, extra_env=env) as (first, _, _), serve(second_dir, extra_env=env) as (second, log, _):
            _same_answers(primary, first)
            _same_answers(primary, second)
            change("applied on the PRIMARY")
            _until(
                lambda: _description(first) == _description(second) == "applied on the PRIMARY",
                "both REPLICAs serve the change within their interval",
            )
            _same_answers(primary, second)
            _decide_structure(database)
            _until(
                lambda: _structure(first) == _structure(second) == _structure(primary) != EMPTY_STRUCTURE,
                "both REPLICAs hold the PRIMARY's aliases, families and naming schemas within their interval",
            )
            _same_answers(primary, first)
            summary = httpx.get(f"{first}{TEXT}/groups/summary", timeout=5).json()
            qwen = next(g for g in summary["groups"] if g["group_name"] == "Qwen2.5")
            assert (qwen["has_custom_schema"], qwen["family_name"], qwen["aliases"]) == (True, "Qwen", ["Qwen-2.5"])

            primary_process.terminate()
            primary_process.wait(timeout=15)
            time.sleep(2.5)  # a couple of polls against nothing
            assert _description(first) == "applied on the PRIMARY"
            assert len(httpx.get(f"{second}{V2}/image_generation", timeout=5).json()) == REAL_IMAGE
            beat = httpx.get(f"{first}/api/heartbeat", timeout=5).json()["replica"]
            assert beat["last_error"] is not None
            assert "ConnectError" in beat["last_error"]
            assert beat["data_age_seconds"] >= 2
        # Restart a REPLICA while the PRIMARY is down: it starts from its copy on disk.
        with serve(first_dir, extra_env=env) as (first, log, _):
            assert _description(first) == "applied on the PRIMARY"
            assert len(httpx.get(f"{first}{V2}/text_generation", timeout=5).json()) == REAL_TEXT
            beat = httpx.get(f"{first}/api/heartbeat", timeout=5).json()["replica"]
            assert beat["source"] == "disk"
            assert "source in use disk" in log.read_text()
            schema = httpx.get(f"{first}{TEXT}/group/Qwen2.5/name_schema", timeout=5).json()
            assert (schema["is_custom"], schema["name_schema"]["separator"]) == (True, "_")  # from disk too
