from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from modelref.domain.categories import Category
from modelref.domain.query import (
    MAX_LIMIT,
    MAX_OFFSET,
    CrossSearchParams,
    Hit,
    SearchIndex,
    SearchParams,
    SearchQuery,
    search,
)
from modelref.domain.records import parse_record
from modelref.errors import InvalidQuery
from tests.factories import image_record, text_record

IMAGE = Category.IMAGE_GENERATION
TEXT = Category.TEXT_GENERATION


def _hit(category: Category, document: dict[str, Any], key: str | None = None) -> Hit:
    """A hit as the catalog builds it: the parsed record and its stored document."""
    record = parse_record(category, document)
    return Hit.of(key or record.name, record, record.to_document())


def _image(name: str, **fields: Any) -> Hit:
    return _hit(IMAGE, image_record(name, **fields))


def _text(name: str, **fields: Any) -> Hit:
    return _hit(TEXT, text_record(name, **fields))


def _names(hits: list[Hit]) -> list[str]:
    return [h.record.name for h in hits]


def _find(hits: list[Hit], category: Category | None = IMAGE, **query: Any) -> list[str]:
    return _names(search(hits, SearchQuery(**query), category).hits)


# -- filters ---------------------------------------------------------------------------------------------------


def test_nsfw_filter_keeps_only_equal_values() -> None:
    hits = [_image("Safe", nsfw=False), _image("Spicy", nsfw=True)]
    assert _find(hits, nsfw=True) == ["Spicy"]
    assert _find(hits, nsfw=False) == ["Safe"]


def test_baseline_is_exact_and_case_sensitive() -> None:
    hits = [_image("Flux", baseline="flux_1"), _image("Xl", baseline="stable_diffusion_xl")]
    assert _find(hits, baseline="flux_1") == ["Flux"]
    assert _find(hits, baseline="FLUX_1") == []
    assert _find(hits, baseline="flux") == []


def test_inpainting_filter() -> None:
    hits = [_image("Plain"), _image("Inpaint", inpainting=True)]
    assert _find(hits, inpainting=True) == ["Inpaint"]
    assert _find(hits, inpainting=False) == ["Plain"]


@pytest.fixture
def tagged() -> list[Hit]:
    return [
        _image("Anime", tags=["anime", "girl"]),
        _image("Landscape", tags=["landscapes"]),
        _image("Empty", tags=[]),
        _image("Untagged", tags=None),
    ]


def test_tags_any_needs_one_of_the_tags_and_excludes_untagged(tagged: list[Hit]) -> None:
    assert tagged[3].tags is None, "the record really has no tags"
    assert _find(tagged, tags_any=("girl", "landscapes")) == ["Anime", "Landscape"]


def test_tags_all_needs_every_tag(tagged: list[Hit]) -> None:
    assert _find(tagged, tags_all=("anime", "girl")) == ["Anime"]
    assert _find(tagged, tags_all=("anime", "landscapes")) == []


def test_tags_none_keeps_records_without_tags(tagged: list[Hit]) -> None:
    assert _find(tagged, tags_none=("anime",)) == ["Landscape", "Empty", "Untagged"]


def test_cross_search_treats_records_without_tags_field_as_untagged() -> None:
    clip = _hit(Category.CLIP, {"name": "Clip"})
    hits = [clip, _image("Anime", tags=["anime"])]
    assert _find(hits, None, tags_none=("anime",)) == ["Clip"]
    assert _find(hits, None, tags_any=("anime",)) == ["Anime"]


def test_name_contains_is_case_insensitive_by_casefold() -> None:
    hits = [_image("Anime Mix"), _image("my ANIME"), _image("Straße Model"), _image("Other")]
    assert _find(hits, name_contains="aNiMe") == ["Anime Mix", "my ANIME"]
    # casefold, not lower: "ß" folds to "ss"
    assert _find(hits, name_contains="STRASSE") == ["Straße Model"]


def test_cross_search_nsfw_never_matches_records_without_the_field() -> None:
    hits = [_hit(Category.CLIP, {"name": "Clip"}), _image("Safe", nsfw=False)]
    assert _find(hits, None, nsfw=False) == ["Safe"]


@pytest.fixture
def texts() -> list[Hit]:
    return [
        _text("Org/Model-7B"),
        _text("aphrodite/Org/Model-7B"),
        _text("koboldcpp/Model-7B"),
        _text("Org/Model-7B-Q4_K_M"),
    ]


def test_text_backend_keeps_only_that_prefix(texts: list[Hit]) -> None:
    assert _find(texts, TEXT, backend="koboldcpp") == ["koboldcpp/Model-7B"]
    assert _find(texts, TEXT, backend="aphrodite") == ["aphrodite/Org/Model-7B"]


def test_text_exclude_backend_variations(texts: list[Hit]) -> None:
    assert _find(texts, TEXT, exclude_backend_variations=True) == ["Org/Model-7B", "Org/Model-7B-Q4_K_M"]


def test_text_quantized_filter(texts: list[Hit]) -> None:
    assert _find(texts, TEXT, quantized=True) == ["Org/Model-7B-Q4_K_M"]
    assert "Org/Model-7B-Q4_K_M" not in _find(texts, TEXT, quantized=False)
    assert len(_find(texts, TEXT, quantized=False)) == 3


def test_text_filters_are_ignored_outside_text() -> None:
    images = [_image("aphrodite/x"), _image("Plain")]
    # An unknown backend is not even validated outside text_generation.
    assert _find(images, IMAGE, backend="vllm", exclude_backend_variations=True, quantized=True) == [
        "aphrodite/x",
        "Plain",
    ]


def test_filters_are_anded() -> None:
    hits = [
        _image("Both", nsfw=True, tags=["anime"]),
        _image("OnlyNsfw", nsfw=True, tags=["other"]),
        _image("OnlyAnime", nsfw=False, tags=["anime"]),
    ]
    assert _find(hits, nsfw=True, tags_any=("anime",)) == ["Both"]
    assert _find(hits, nsfw=True, tags_any=("anime",), name_contains="only") == []


# -- de-duplication ---------------------------------------------------------------------------------------------


def test_duplicates_by_name_keep_the_first() -> None:
    first = _hit(IMAGE, image_record("Same", description="first"), key="a")
    second = _hit(IMAGE, image_record("Same", description="second"), key="b")
    page = search([first, second, _image("Other")], SearchQuery())
    assert [h.key for h in page.hits] == ["a", "Other"]
    assert page.total == 2


def test_deduplication_happens_after_filtering() -> None:
    first = _hit(IMAGE, image_record("Same", nsfw=False), key="sfw")
    second = _hit(IMAGE, image_record("Same", nsfw=True), key="nsfw")
    page = search([first, second], SearchQuery(nsfw=True), IMAGE)
    assert [h.key for h in page.hits] == ["nsfw"]


# -- sorting ----------------------------------------------------------------------------------------------------


def test_sort_by_name_ascending_and_descending() -> None:
    hits = [_image("b"), _image("c"), _image("a")]
    assert _find(hits, sort_by="name") == ["a", "b", "c"]
    assert _find(hits, sort_by="name", sort_desc=True) == ["c", "b", "a"]


def test_nulls_sort_after_values_ascending_and_first_descending() -> None:
    hits = [_image("none", description=None), _image("z", description="z"), _image("a", description="a")]
    assert _find(hits, sort_by="description") == ["a", "z", "none"]
    assert _find(hits, sort_by="description", sort_desc=True) == ["none", "z", "a"]


def test_sort_by_nested_path() -> None:
    hits = [
        _image("late", metadata={"created_at": 30}),
        _image("unknown"),
        _image("early", metadata={"created_at": 10}),
    ]
    assert _find(hits, sort_by="metadata__created_at") == ["early", "late", "unknown"]
    assert _find(hits, sort_by="metadata__created_at", sort_desc=True) == ["unknown", "late", "early"]


def test_text_sort_accepts_attribute_and_stored_name_of_parameters() -> None:
    hits = [_text("Big", parameters=70_000_000_000), _text("Small", parameters=1_000_000_000)]
    assert _find(hits, TEXT, sort_by="parameters") == ["Small", "Big"]
    assert _find(hits, TEXT, sort_by="parameters_count") == ["Small", "Big"]


def test_incomparable_sort_values_are_an_invalid_query() -> None:
    hits = [_image("a", requirements={"clip_skip": 2}), _image("b", requirements={"clip_skip": "two"})]
    with pytest.raises(InvalidQuery, match="values of 'requirements__clip_skip' cannot be compared"):
        search(hits, SearchQuery(sort_by="requirements__clip_skip"), IMAGE)


# -- validation -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (SearchQuery(nsfw=True), "nsfw"),
        (SearchQuery(baseline="x"), "baseline"),
        (SearchQuery(inpainting=True), "inpainting"),
        (SearchQuery(tags_any=("a",)), "tags"),
        (SearchQuery(tags_all=("a",)), "tags"),
        (SearchQuery(tags_none=("a",)), "tags"),
    ],
)
def test_filter_on_a_field_the_category_lacks_is_refused(query: SearchQuery, field: str) -> None:
    with pytest.raises(
        InvalidQuery,
        match=f"^Filter not supported for this category: Field '{field}' does not exist on ClipModelRecord. Valid",
    ):
        search([], query, Category.CLIP)


def test_inpainting_is_an_image_only_filter() -> None:
    with pytest.raises(InvalidQuery, match="Field 'inpainting' does not exist on TextGenerationModelRecord"):
        search([], SearchQuery(inpainting=True), TEXT)


def test_unknown_sort_field_is_refused_with_the_valid_fields() -> None:
    with pytest.raises(InvalidQuery, match="^Invalid sort_by field: Field 'bogus' does not exist on Image") as error:
        search([], SearchQuery(sort_by="bogus__x"), IMAGE)
    assert "'baseline'" in error.value.detail


def test_cross_search_sorts_only_on_common_fields() -> None:
    with pytest.raises(InvalidQuery, match="Field 'baseline' does not exist on GenericModelRecord"):
        search([], SearchQuery(sort_by="baseline"), None)
    assert _find([_image("b"), _image("a")], None, sort_by="name") == ["a", "b"]


def test_unknown_backend_is_refused_for_text() -> None:
    with pytest.raises(InvalidQuery, match=r"^Unknown backend 'vllm'. Valid backends: \['aphrodite', 'koboldcpp'\]"):
        search([], SearchQuery(backend="vllm"), TEXT)


def test_unknown_source_is_refused_and_any_is_accepted() -> None:
    with pytest.raises(InvalidQuery, match="^Unknown source 'civitai'"):
        search([], SearchQuery(source="civitai"), IMAGE)
    assert search([_image("a")], SearchQuery(source="any"), IMAGE).total == 1


# -- paging -----------------------------------------------------------------------------------------------------


def test_paging_counts_every_match_and_reports_more() -> None:
    hits = [_image(f"m{i}") for i in range(5)]
    page = search(hits, SearchQuery(offset=1, limit=2), IMAGE)
    assert (_names(page.hits), page.total, page.offset, page.limit, page.has_more) == (["m1", "m2"], 5, 1, 2, True)
    last = search(hits, SearchQuery(offset=3, limit=2), IMAGE)
    assert (_names(last.hits), last.has_more) == (["m3", "m4"], False)
    beyond = search(hits, SearchQuery(offset=10, limit=2), IMAGE)
    assert (beyond.hits, beyond.total, beyond.has_more) == ([], 5, False)


def test_paging_applies_after_sorting() -> None:
    hits = [_image("c"), _image("a"), _image("b")]
    assert _find(hits, sort_by="name", limit=1, offset=1) == ["b"]


# -- parameter models -------------------------------------------------------------------------------------------


def test_search_params_refuse_unknown_parameters() -> None:
    with pytest.raises(ValidationError, match="bogus"):
        SearchParams.model_validate({"bogus": "1"})


def test_cross_search_params_refuse_per_category_parameters() -> None:
    with pytest.raises(ValidationError, match="baseline"):
        CrossSearchParams.model_validate({"baseline": "flux_1"})


@pytest.mark.parametrize(
    "values",
    [{"limit": 0}, {"limit": MAX_LIMIT + 1}, {"offset": -1}, {"offset": MAX_OFFSET + 1}],
    ids=["limit-0", "limit-too-big", "offset-negative", "offset-too-big"],
)
def test_params_bound_limit_and_offset(values: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        SearchParams.model_validate(values)
    with pytest.raises(ValidationError):
        CrossSearchParams.model_validate(values)


def test_params_accept_the_bounds() -> None:
    params = SearchParams.model_validate({"limit": MAX_LIMIT, "offset": MAX_OFFSET})
    assert (params.limit, params.offset) == (MAX_LIMIT, MAX_OFFSET)


def test_params_become_a_query() -> None:
    query = SearchParams.model_validate(
        {"nsfw": "true", "tags_any": ["a", "b"], "backend": "koboldcpp", "source": "any", "limit": "5"}
    ).to_query()
    assert query == SearchQuery(nsfw=True, tags_any=("a", "b"), backend="koboldcpp", source="any", limit=5)
    cross = CrossSearchParams.model_validate({"tags_none": ["x"], "sort_by": "name"}).to_query()
    assert cross == SearchQuery(tags_none=("x",), sort_by="name")


@settings(max_examples=300, deadline=None)
@given(
    names=st.lists(st.text(alphabet="aAbB-/ ßẞİ", min_size=1, max_size=8).filter(str.strip), max_size=12, unique=True),
    needle=st.text(alphabet="aAbB-/ ßẞİ\x00", max_size=4),
)
def test_the_name_index_finds_exactly_the_names_that_contain_the_needle(names: list[str], needle: str) -> None:
    hits = [_hit(Category.CLIP, {"name": name}) for name in names]
    found = SearchIndex(hits).search(SearchQuery(name_contains=needle, limit=500), Category.CLIP).hits
    assert [h.key for h in found] == [h.key for h in hits if needle.casefold() in h.record.name.casefold()]
