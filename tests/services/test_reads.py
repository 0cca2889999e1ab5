"""Reads: every read answered from the catalog's snapshots (API.md §3, §4, §6, §7 T1, §10)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from modelref.domain.categories import Category
from modelref.domain.deployment import Deployment, ReplicateMode
from modelref.domain.formats import Format
from modelref.domain.query import SearchQuery
from modelref.domain.statistics import CategoryStatistics
from modelref.errors import NotFound, NotServed
from modelref.services.catalog import Catalog
from modelref.services.reads import Reads
from modelref.storage.store import Store
from tests.factories import T0, image_record, seed, text_record, v2_record

IMAGE, TEXT, CLIP, CONTROLNET = (
    Category.IMAGE_GENERATION,
    Category.TEXT_GENERATION,
    Category.CLIP,
    Category.CONTROLNET,
)


@dataclass(frozen=True, slots=True)
class Plain:
    """An encoder that keeps the body as it is."""

    body: bytes


def loads(answer: Plain) -> Any:
    return json.loads(answer.body)


def reads(store: Store, deployment: Deployment | None = None) -> Reads[Plain]:
    catalog = Catalog(store, Plain)
    catalog.refresh()
    return Reads(catalog, deployment or Deployment())


@pytest.fixture
def small(store: Store) -> Store:
    """Three image models, two text models, one CLIP model and a controlnet whose key is not its name."""
    seed(
        store,
        {
            IMAGE: [
                image_record("Alpha", tags=["anime"]),
                image_record("Beta", nsfw=True, baseline="stable_diffusion_1"),
                image_record("Gamma", tags=["anime", "photo"]),
            ],
            TEXT: [text_record("Org/Alpha-7B"), text_record("Org/Other-13B", 13_000_000_000)],
            CLIP: [v2_record(CLIP, "ViT-L/14")],
        },
    )
    with store.write() as tx:
        tx.records.put(CONTROLNET, "control_qr_sdxl", {"name": "control_qr_xl", "description": "key ≠ name"})
        tx.records.touch(CONTROLNET, T0 + 7)
    return store


# -- v2 --------------------------------------------------------------------------------------------------


def test_v2_category_is_the_stored_documents_in_stored_order(small: Store) -> None:
    answer = reads(small).v2_category(IMAGE)
    stored = {r.name: r.document for r in small.load(IMAGE).records}
    assert loads(answer.payload) == stored
    assert list(loads(answer.payload)) == ["Alpha", "Beta", "Gamma"]
    assert answer.last_updated == T0


def test_v2_category_without_records_is_not_found(small: Store) -> None:
    service = reads(small)
    for category in (Category.VIDEO_GENERATION, Category.LORA, Category.BLIP):
        with pytest.raises(NotFound, match=f"Model category '{category.value}' not found"):
            service.v2_category(category)


def test_v2_record_is_found_by_its_stored_key(small: Store) -> None:
    service = reads(small)
    answer = service.v2_record(CONTROLNET, "control_qr_sdxl")
    assert loads(answer.payload) == {"name": "control_qr_xl", "description": "key ≠ name"}
    assert answer.last_updated == T0 + 7
    with pytest.raises(NotFound, match="Model 'control_qr_xl' not found in category 'controlnet'"):
        service.v2_record(CONTROLNET, "control_qr_xl")
    assert loads(service.v2_record(CLIP, "ViT-L/14").payload)["name"] == "ViT-L/14"
    with pytest.raises(NotFound):  # keys are case-sensitive
        service.v2_record(IMAGE, "alpha")
    with pytest.raises(NotFound) as raised:
        service.v2_record(IMAGE, "x" * 300)
    assert raised.value.detail == f"Model '{'x' * 80}…' not found in category 'image_generation'"


# -- v1 --------------------------------------------------------------------------------------------------


def test_v1_category_is_the_legacy_document(small: Store) -> None:
    service = reads(small)
    document = loads(service.v1_category(IMAGE).payload)
    assert list(document) == ["Alpha", "Beta", "Gamma"]
    assert (document["Beta"]["baseline"], document["Beta"]["type"]) == ("stable diffusion 1", "ckpt")  # legacy spelling
    assert "record_type" not in document["Beta"]
    controlnet = loads(service.v1_category(CONTROLNET).payload)
    assert list(controlnet) == ["control_qr_sdxl"]  # the key, as the legacy file has it
    assert controlnet["control_qr_sdxl"]["name"] == "control_qr_xl"


def test_v1_category_answers_lora_and_ti_with_an_empty_object(small: Store) -> None:
    service = reads(small)
    for category in (Category.LORA, Category.TI):
        assert service.v1_category(category).payload.body == b"{}"
    for category in (Category.VIDEO_GENERATION, Category.AUDIO_GENERATION):  # no legacy format
        with pytest.raises(NotFound, match=f"Model category '{category.value}' not found or is empty"):
            service.v1_category(category)
    with pytest.raises(NotFound, match="not found or is empty"):  # a legacy format, but no records
        service.v1_category(Category.BLIP)


def _text(service: Reads[Plain], include_group: bool) -> Plain:
    body = service.v1_text(include_group)
    assert body is not None
    return body.payload


def test_v1_text_lists_each_model_with_its_backend_variants(small: Store) -> None:
    service = reads(small)
    assert service.v1_text(include_group=True, build=False) is None  # nothing built on the event loop
    plain = loads(_text(service, False))
    assert list(plain) == [
        "Org/Alpha-7B",
        "aphrodite/Org/Alpha-7B",
        "koboldcpp/Alpha-7B",
        "Org/Other-13B",
        "aphrodite/Org/Other-13B",
        "koboldcpp/Other-13B",
    ]
    assert "text_model_group_summary" not in plain["Org/Alpha-7B"]
    grouped = loads(_text(service, True))
    assert list(grouped) == list(plain)
    assert grouped["koboldcpp/Alpha-7B"]["text_model_group"] == "Alpha"
    assert grouped["Org/Alpha-7B"]["text_model_group_summary"]["member_count"] == 3
    assert _text(service, True) is _text(service, True)  # built once
    assert service.v1_text(include_group=True, build=False) is not None


def test_v1_text_without_text_models_is_not_found(store: Store) -> None:
    seed(store, {CLIP: [v2_record(CLIP, "ViT-L/14")]})
    with pytest.raises(NotFound, match="Text generation models not found or empty"):
        reads(store).v1_text(include_group=False)


# -- search ----------------------------------------------------------------------------------------------


def test_search_answers_the_records_with_the_page_facts(small: Store) -> None:
    answer = reads(small).search(IMAGE, SearchQuery(tags_any=("anime",), limit=1))
    body = json.loads(answer.body)
    stored = {r.name: r.document for r in small.load(IMAGE).records}
    assert body == {"results": [stored["Alpha"]], "total": 2, "offset": 0, "limit": 1, "has_more": True}
    nsfw = json.loads(reads(small).search(IMAGE, SearchQuery(nsfw=True)).body)
    assert [r["name"] for r in nsfw["results"]] == ["Beta"]
    none = json.loads(reads(small).search(CLIP, SearchQuery(name_contains="nothing")).body)
    assert none == {"results": [], "total": 0, "offset": 0, "limit": 50, "has_more": False}


def test_search_over_every_category(small: Store) -> None:
    body = json.loads(reads(small).search(None, SearchQuery(name_contains="alpha")).body)
    assert [r["name"] for r in body["results"]] == ["Alpha", "Org/Alpha-7B"]  # image before text
    assert body["total"] == 2


def test_search_etag_is_stable_until_the_answer_can_change(small: Store) -> None:
    service = reads(small)
    query = SearchQuery(name_contains="a")
    first = service.search(IMAGE, query)
    again = service.search(IMAGE, SearchQuery(name_contains="a"))
    assert (again.etag, again.body) == (first.etag, first.body)
    assert service.search(IMAGE, SearchQuery(name_contains="b")).etag != first.etag
    assert service.search(None, query).etag != first.etag
    assert service.search(CLIP, query).etag != first.etag
    every = service.search(None, query)
    # Another category changes: the image search keeps its tag, the search over every category does not.
    seed(small, {CLIP: [v2_record(CLIP, "ViT-L/14", description="changed")]}, now=T0 + 1)
    service.catalog.refresh()
    assert service.search(IMAGE, query).etag == first.etag
    assert service.search(None, query).etag != every.etag
    seed(small, {IMAGE: [image_record("Alpha"), image_record("Delta")]}, now=T0 + 2)
    service.catalog.refresh()
    changed = service.search(IMAGE, query)
    assert changed.etag != first.etag
    assert [r["name"] for r in json.loads(changed.body)["results"]] == ["Alpha", "Delta"]


# -- metadata ------------------------------------------------------------------------------------------


def test_metadata_of_a_category(small: Store) -> None:
    service = reads(small)
    metadata = service.metadata(Format.V2, IMAGE)
    assert (metadata.category, metadata.total_models, metadata.total_creates, metadata.last_updated) == (
        IMAGE,
        3,
        3,
        T0,
    )
    assert (metadata.last_operation_model, metadata.backend_type) == ("Gamma", small.backend_name)
    never = service.metadata(Format.V2, Category.VIDEO_GENERATION)
    started = int(service.catalog.started_at)
    assert (never.total_models, never.last_updated, never.initialization_time) == (0, started, started)
    every = service.all_metadata(Format.V2)
    assert list(every) == list(Category)
    assert every[IMAGE] == metadata
    assert service.last_updated(Format.V2).last_updated == T0 + 7  # the controlnet write is the latest
    assert service.category_last_updated(Format.V2, CONTROLNET).model_dump() == {
        "category": CONTROLNET,
        "last_updated": T0 + 7,
    }


def test_metadata_is_served_under_the_canonical_api_of_a_primary_only(small: Store) -> None:
    replica = reads(small, Deployment(mode=ReplicateMode.REPLICA))
    with pytest.raises(NotServed, match="not supported in REPLICA mode"):
        replica.metadata(Format.V2, IMAGE)
    with pytest.raises(NotServed, match="REPLICA"):
        replica.last_updated(Format.V2)
    with pytest.raises(NotServed, match="canonical_format='LEGACY'"):
        reads(small).metadata(Format.LEGACY, IMAGE)
    legacy = reads(small, Deployment(canonical_format=Format.LEGACY))
    with pytest.raises(NotServed, match="only available when canonical_format='v2'"):
        legacy.all_metadata(Format.V2)
    with pytest.raises(NotServed):
        legacy.category_last_updated(Format.V2, IMAGE)
    assert legacy.metadata(Format.LEGACY, IMAGE).total_models == 3
    # Plain reads need no guard: a REPLICA serves them.
    assert list(loads(replica.v2_category(IMAGE).payload)) == ["Alpha", "Beta", "Gamma"]


# -- statistics ------------------------------------------------------------------------------------------


def test_statistics_echo_limit_and_offset(small: Store) -> None:
    service = reads(small)

    def statistics(category: Category, grouped: bool, limit: int | None, offset: int) -> CategoryStatistics:
        return CategoryStatistics.model_validate_json(service.statistics(category, grouped, limit, offset).body)

    stats = statistics(IMAGE, False, 2, 1)
    assert (stats.limit, stats.offset, stats.total_models, stats.returned_models) == (2, 1, 3, 3)
    assert (stats.nsfw_count, stats.sfw_count) == (1, 2)
    default = statistics(IMAGE, False, None, 0)
    assert (default.limit, default.offset) == (None, 0)
    assert default.model_dump(exclude={"limit", "offset"}) == stats.model_dump(exclude={"limit", "offset"})
    assert service.statistics(IMAGE, False, 2, 1).etag != service.statistics(IMAGE, False, None, 0).etag
    assert service.statistics(IMAGE, False, 2, 1) is service.statistics(IMAGE, False, 2, 1)  # encoded once
    grouped = statistics(TEXT, True, None, 0)
    assert grouped.total_models == 2
    assert statistics(IMAGE, True, None, 0) == default  # grouping is for text only
    empty = statistics(Category.LORA, False, None, 0)  # a known category without records: zeros
    assert (empty.total_models, empty.nsfw_count, empty.sfw_count, empty.baseline_distribution) == (0, 0, 0, {})
