"""Category statistics computed from the stored records (DATA.md §13)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from modelref.domain.categories import Category
from modelref.domain.textnames import base_name

PARAMETER_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("< 3B", 0, 3_000_000_000),
    ("3B-6B", 3_000_000_000, 6_000_000_000),
    ("6B-9B", 6_000_000_000, 9_000_000_000),
    ("9B-13B", 9_000_000_000, 13_000_000_000),
    ("13B-20B", 13_000_000_000, 20_000_000_000),
    ("20B-35B", 20_000_000_000, 35_000_000_000),
    ("35B-70B", 35_000_000_000, 70_000_000_000),
    ("> 70B", 70_000_000_000, None),
)
TOP_N = 20


class BaselineStats(BaseModel):
    baseline: str
    count: int
    percentage: float


class TagStats(BaseModel):
    tag: str
    count: int
    percentage: float


class DownloadStats(BaseModel):
    total_models_with_downloads: int
    total_download_entries: int
    total_size_bytes: int
    models_with_size_info: int
    average_size_bytes: float
    hosts: dict[str, int]


class ParameterBucketStats(BaseModel):
    bucket_label: str
    min_params: int
    max_params: int | None
    count: int
    percentage: float


class CategoryStatistics(BaseModel):
    """Counts and distributions over a category's records (API.md §16.10)."""

    category: Category
    total_models: int
    returned_models: int
    offset: int = 0
    limit: int | None = None
    nsfw_count: int
    sfw_count: int
    baseline_distribution: dict[str, BaselineStats]
    download_stats: DownloadStats
    top_tags: list[TagStats]
    top_styles: list[TagStats]
    parameter_buckets: list[ParameterBucketStats]
    models_without_param_info: int
    models_with_trigger_words: int
    models_with_inpainting: int
    models_with_requirements: int
    models_with_showcases: int
    computed_at: int
    """When the data these statistics describe last changed (Unix seconds; when unknown, when computed)."""


class StatisticsParams(BaseModel):
    """API.md T1: ``limit`` and ``offset`` are echoed (statistics carry no list to cut). An unknown parameter
    is refused (422), as on every read with parameters."""

    model_config = ConfigDict(extra="forbid")

    group_text_models: bool = False
    limit: int | None = Field(None, ge=1, le=2**31 - 1)
    offset: int = Field(0, ge=0, le=2**31 - 1)


def _pct(count: int, total: int) -> float:
    return round(count / total * 100, 2) if total else 0.0


def _ranked(counter: Counter[str], total: int, limit: int | None = None) -> list[TagStats]:
    # Counter.most_common keeps first-seen order among equal counts.
    return [TagStats(tag=k, count=n, percentage=_pct(n, total)) for k, n in counter.most_common(limit)]


def _downloads(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    config = document.get("config")
    downloads = config.get("download") if isinstance(config, Mapping) else None
    return [d for d in downloads or () if isinstance(d, Mapping)]


def group_text_documents(items: Iterable[tuple[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Merge text records by group (DATA.md §13.2): the first member stands for the group."""
    groups: dict[str, dict[str, Any]] = {}
    for key, document in items:
        group = base_name(key)
        if group not in groups:
            merged = dict(document)
            merged["name"] = group
            merged["config"] = {"download": list(_downloads(document))}
            groups[group] = merged
        else:
            groups[group]["config"]["download"].extend(_downloads(document))
    return list(groups.values())


def compute_statistics(category: Category, documents: Sequence[Mapping[str, Any]], now: int) -> CategoryStatistics:
    """Statistics over stored documents (DATA.md §13); ``offset``/``limit`` are the caller's to set."""
    total = len(documents)
    nsfw = sum(1 for d in documents if d.get("nsfw"))
    baselines: Counter[str] = Counter(str(d["baseline"]) for d in documents if d.get("baseline"))
    tags: Counter[str] = Counter(t for d in documents for t in (d.get("tags") or ()) if t)
    styles: Counter[str] = Counter(str(d["style"]) for d in documents if d.get("style"))
    hosts: Counter[str] = Counter()
    with_downloads = entries = with_size = total_size = 0
    for document in documents:
        downloads = _downloads(document)
        with_downloads += bool(downloads)
        entries += len(downloads)
        for download in downloads:
            url = download.get("file_url")
            if isinstance(url, str) and url:
                try:
                    host = urlsplit(url).netloc
                except ValueError:
                    continue
                if host:
                    hosts[host] += 1
        size = document.get("size_on_disk_bytes")
        if isinstance(size, int | float) and not isinstance(size, bool) and size > 0:
            with_size += 1
            total_size += int(size)

    buckets: list[ParameterBucketStats] = []
    without_params = 0
    if category is Category.TEXT_GENERATION:
        counts = [0] * len(PARAMETER_BUCKETS)
        for document in documents:
            parameters = document.get("parameters", document.get("parameters_count"))
            if not isinstance(parameters, int) or isinstance(parameters, bool) or parameters <= 0:
                without_params += 1
                continue
            for index, (_, low, high) in enumerate(PARAMETER_BUCKETS):
                if parameters >= low and (high is None or parameters < high):
                    counts[index] += 1
                    break
        buckets = [
            ParameterBucketStats(
                bucket_label=label, min_params=low, max_params=high, count=n, percentage=_pct(n, total)
            )
            for (label, low, high), n in zip(PARAMETER_BUCKETS, counts, strict=True)
            if n
        ]

    image = category is Category.IMAGE_GENERATION
    return CategoryStatistics(
        category=category,
        total_models=total,
        returned_models=total,
        nsfw_count=nsfw,
        sfw_count=total - nsfw,
        baseline_distribution={
            b: BaselineStats(baseline=b, count=n, percentage=_pct(n, total)) for b, n in baselines.most_common()
        },
        download_stats=DownloadStats(
            total_models_with_downloads=with_downloads,
            total_download_entries=entries,
            total_size_bytes=total_size,
            models_with_size_info=with_size,
            average_size_bytes=round(total_size / with_size, 2) if with_size else 0.0,
            hosts=dict(hosts.most_common()),
        ),
        top_tags=_ranked(tags, total, TOP_N),
        top_styles=_ranked(styles, total, TOP_N),
        parameter_buckets=buckets,
        models_without_param_info=without_params,
        models_with_trigger_words=sum(1 for d in documents if d.get("trigger")) if image else 0,
        models_with_inpainting=sum(1 for d in documents if d.get("inpainting")) if image else 0,
        models_with_requirements=sum(1 for d in documents if d.get("requirements")) if image else 0,
        models_with_showcases=sum(1 for d in documents if d.get("showcases")),
        computed_at=now,
    )
