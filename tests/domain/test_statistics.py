from __future__ import annotations

from typing import Any

import pytest

from modelref.domain.categories import Category
from modelref.domain.statistics import TOP_N, compute_statistics, group_text_documents
from modelref.domain.textnames import base_name

NOW = 1_700_000_000


def _download(url: str) -> dict[str, Any]:
    return {"file_name": url.rsplit("/", 1)[-1], "file_url": url, "sha256sum": "FIXME"}


def _image(name: str, *urls: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "baseline": "stable_diffusion_xl",
        "nsfw": False,
        **fields,
        "config": {"download": [_download(u) for u in urls]},
    }


@pytest.fixture
def images() -> list[dict[str, Any]]:
    return [
        _image(
            "One",
            "https://huggingface.co/a/one.safetensors",
            nsfw=True,
            tags=["anime", "girl"],
            style="anime",
            size_on_disk_bytes=100,
            trigger=["x"],
            inpainting=True,
            requirements={"clip_skip": 2},
            showcases=["https://example.org/1.webp"],
        ),
        _image(
            "Two",
            "https://civitai.com/b.safetensors",
            "https://huggingface.co/c.safetensors",
            tags=["anime"],
            style="realistic",
            size_on_disk_bytes=300,
            trigger=[],
            requirements={},
            showcases=[],
        ),
        {"name": "Three", "baseline": "flux_1", "nsfw": False, "style": "anime", "size_on_disk_bytes": 0},
    ]


def test_image_counts(images: list[dict[str, Any]]) -> None:
    stats = compute_statistics(Category.IMAGE_GENERATION, images, NOW)
    assert (stats.total_models, stats.returned_models, stats.nsfw_count, stats.sfw_count) == (3, 3, 1, 2)
    assert (
        stats.models_with_trigger_words,
        stats.models_with_inpainting,
        stats.models_with_requirements,
        stats.models_with_showcases,
    ) == (1, 1, 1, 1)
    assert stats.computed_at == NOW
    assert (stats.parameter_buckets, stats.models_without_param_info) == ([], 0)


def test_baseline_distribution_by_count_with_percentages(images: list[dict[str, Any]]) -> None:
    distribution = compute_statistics(Category.IMAGE_GENERATION, images, NOW).baseline_distribution
    assert list(distribution) == ["stable_diffusion_xl", "flux_1"]
    assert [(b.count, b.percentage) for b in distribution.values()] == [(2, 66.67), (1, 33.33)]


def test_download_stats(images: list[dict[str, Any]]) -> None:
    downloads = compute_statistics(Category.IMAGE_GENERATION, images, NOW).download_stats
    assert (downloads.total_models_with_downloads, downloads.total_download_entries) == (2, 3)
    assert list(downloads.hosts.items()) == [("huggingface.co", 2), ("civitai.com", 1)]
    # size 0 is no size information
    assert (downloads.models_with_size_info, downloads.total_size_bytes, downloads.average_size_bytes) == (
        2,
        400,
        200.0,
    )


def test_top_tags_and_styles(images: list[dict[str, Any]]) -> None:
    stats = compute_statistics(Category.IMAGE_GENERATION, images, NOW)
    assert [(t.tag, t.count, t.percentage) for t in stats.top_tags] == [("anime", 2, 66.67), ("girl", 1, 33.33)]
    assert [(t.tag, t.count) for t in stats.top_styles] == [("anime", 2), ("realistic", 1)]


def test_ties_keep_first_seen_order_and_only_the_top_are_listed() -> None:
    tags = [f"t{i:02}" for i in range(TOP_N + 5)]
    documents: list[dict[str, Any]] = [
        {"name": "a", "tags": list(reversed(tags))},
        {"name": "b", "tags": ["t00", "", None]},
    ]
    top = compute_statistics(Category.LORA, documents, NOW).top_tags
    assert len(top) == TOP_N
    assert (top[0].tag, top[0].count) == ("t00", 2)
    assert [t.tag for t in top[1:4]] == ["t24", "t23", "t22"]


def test_odd_urls_and_sizes_are_skipped() -> None:
    documents: list[dict[str, Any]] = [
        {"name": "a", "config": {"download": [_download("file.bin"), _download("http://[::1")]}},
        {"name": "b", "size_on_disk_bytes": True},
        {"name": "c", "size_on_disk_bytes": "12"},
        {"name": "d", "size_on_disk_bytes": 10.5},
        {"name": "e", "config": {"download": "not a list of objects"}},
    ]
    stats = compute_statistics(Category.MISCELLANEOUS, documents, NOW).download_stats
    assert stats.hosts == {}
    assert (stats.total_models_with_downloads, stats.total_download_entries) == (1, 2)
    assert (stats.models_with_size_info, stats.total_size_bytes) == (1, 10)


def test_image_only_counts_are_zero_elsewhere() -> None:
    documents = [{"name": "a", "trigger": ["x"], "inpainting": True, "requirements": {"a": 1}, "showcases": ["u"]}]
    stats = compute_statistics(Category.LORA, documents, NOW)
    assert (stats.models_with_trigger_words, stats.models_with_inpainting, stats.models_with_requirements) == (0, 0, 0)
    assert stats.models_with_showcases == 1


def test_no_documents() -> None:
    stats = compute_statistics(Category.TEXT_GENERATION, [], NOW)
    assert (stats.total_models, stats.nsfw_count, stats.sfw_count, stats.baseline_distribution) == (0, 0, 0, {})
    assert stats.download_stats.average_size_bytes == 0.0
    assert stats.parameter_buckets == []


def test_text_parameter_buckets() -> None:
    billions = [2, 3, 7, 7.5, 70, 120]
    documents: list[dict[str, Any]] = [{"name": f"m{b}", "parameters": int(b * 1e9)} for b in billions]
    documents += [
        {"name": "legacy", "parameters_count": 13_000_000_000},
        {"name": "zero", "parameters": 0},
        {"name": "missing"},
        {"name": "bool", "parameters": True},
        {"name": "text", "parameters": "7B"},
    ]
    stats = compute_statistics(Category.TEXT_GENERATION, documents, NOW)
    assert [(b.bucket_label, b.count) for b in stats.parameter_buckets] == [
        ("< 3B", 1),
        ("3B-6B", 1),  # lower bounds are inclusive
        ("6B-9B", 2),
        ("13B-20B", 1),
        ("> 70B", 2),  # 70B itself starts the last bucket
    ]
    assert stats.models_without_param_info == 4
    last = stats.parameter_buckets[-1]
    assert (last.min_params, last.max_params, last.percentage) == (70_000_000_000, None, round(2 / 11 * 100, 2))
    assert stats.parameter_buckets[0].max_params == 3_000_000_000


def test_parameter_buckets_only_for_text() -> None:
    stats = compute_statistics(Category.IMAGE_GENERATION, [_image("a", parameters=7_000_000_000)], NOW)
    assert (stats.parameter_buckets, stats.models_without_param_info) == ([], 0)


# -- group_text_documents ---------------------------------------------------------------------------------------


def test_text_documents_merge_by_group_with_the_first_standing_for_it() -> None:
    first: dict[str, Any] = {
        "name": "Org/Llama-3-8B",
        "parameters": 8_000_000_000,
        "config": {"download": [_download("u://a/1")]},
    }
    second: dict[str, Any] = {
        "name": "Org/Llama-3-70B",
        "parameters": 70_000_000_000,
        "config": {"download": [_download("u://a/2")]},
    }
    other: dict[str, Any] = {"name": "Org/Mistral-7B", "parameters": 7_000_000_000}
    assert base_name(first["name"]) == base_name(second["name"]) == "Llama-3"

    groups = group_text_documents([(d["name"], d) for d in (first, second, other)])
    assert [g["name"] for g in groups] == ["Llama-3", "Mistral"]
    llama = groups[0]
    assert llama["parameters"] == 8_000_000_000
    assert [d["file_url"] for d in llama["config"]["download"]] == ["u://a/1", "u://a/2"]
    assert groups[1]["config"] == {"download": []}
    # the stored documents are left as they were
    assert first["name"] == "Org/Llama-3-8B"
    assert len(first["config"]["download"]) == 1


def test_grouping_uses_the_key_not_the_name() -> None:
    groups = group_text_documents([("koboldcpp/Llama-3-8B", {"name": "whatever"})])
    assert [g["name"] for g in groups] == ["Llama-3"]


def test_grouped_statistics_count_groups() -> None:
    documents = [
        ("Org/Llama-3-8B", {"name": "Org/Llama-3-8B", "parameters": 8_000_000_000}),
        ("Org/Llama-3-70B", {"name": "Org/Llama-3-70B", "parameters": 70_000_000_000}),
    ]
    stats = compute_statistics(Category.TEXT_GENERATION, group_text_documents(documents), NOW)
    assert stats.total_models == 1
    assert [(b.bucket_label, b.count) for b in stats.parameter_buckets] == [("6B-9B", 1)]
