"""Deletion risk: which models nobody uses, nobody serves, or are badly described (DATA.md §14).

``assess`` joins every record of a category to its live usage and flags it; ``group_by_base_name`` merges text
variants; ``deletion_risk`` makes the whole answer (grouping, preset, paging, summary). Pure functions over
stored documents and a ``UsageIndex``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from statistics import mean
from typing import Any, Final
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from modelref.domain.categories import Category
from modelref.domain.textnames import base_name
from modelref.domain.usage import Backend, UsageIndex


class RiskPolicy(BaseModel):
    """The thresholds and host preferences of the analysis (the existing service's defaults)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    preferred_hosts: tuple[str, ...] = ("huggingface.co",)
    """A download host containing one of these is preferred (others are flagged ``has_non_preferred_host``)."""
    ignore_text_download_hosts: bool = True
    """Text records carry no downloads to judge: their download flags stay off."""
    image_low_usage_percent: float = Field(0.0065, ge=0, le=100)
    """An image model with less than this share (percent) of the category's monthly requests is low-usage."""
    text_low_usage_percent: float = Field(0.02, ge=0, le=100)
    """The same for text models."""
    text_critical_usage: int = Field(10, ge=0)
    """A text model with fewer monthly requests than this and fewer workers than the next is critical."""
    text_critical_workers: int = Field(1, ge=0)


class RiskPreset(StrEnum):
    DELETION_CANDIDATES = "deletion_candidates"
    ZERO_USAGE = "zero_usage"
    NO_WORKERS = "no_workers"
    MISSING_DATA = "missing_data"
    HOST_ISSUES = "host_issues"
    CRITICAL = "critical"
    LOW_USAGE = "low_usage"


class DeletionRiskFlags(BaseModel):
    zero_usage_day: bool = False
    zero_usage_month: bool = False
    zero_usage_total: bool = False
    no_active_workers: bool = False
    has_multiple_hosts: bool = False
    has_non_preferred_host: bool = False
    has_unknown_host: bool = False
    no_download_urls: bool = False
    missing_description: bool = False
    missing_baseline: bool = False
    low_usage: bool = False


_FLAGS: Final = tuple(DeletionRiskFlags.model_fields)


class UsageTrend(BaseModel):
    day_to_month_ratio: float | None = None
    month_to_total_ratio: float | None = None


class BackendVariationStats(BaseModel):
    backend: Backend
    variant_name: str
    worker_count: int
    performance: float | None = None
    usage_day: int
    usage_month: int
    usage_total: int


class ModelDeletionRiskInfo(BaseModel):
    name: str
    category: Category
    deletion_risk_flags: DeletionRiskFlags
    at_risk: bool
    risk_score: int
    worker_count: int
    usage_day: int
    usage_month: int
    usage_total: int
    usage_hour: int | None = None
    usage_minute: int | None = None
    usage_percentage_of_category: float
    usage_trend: UsageTrend
    cost_benefit_score: float | None
    size_gb: float | None
    baseline: str | None
    nsfw: bool | None
    has_description: bool
    download_count: int
    download_hosts: list[str]
    backend_variations: list[BackendVariationStats] | None = None
    is_critical: bool
    has_warning: bool


class CategoryDeletionRiskSummary(BaseModel):
    total_models: int
    models_at_risk: int
    models_critical: int
    models_with_warnings: int
    models_with_zero_day_usage: int
    models_with_zero_month_usage: int
    models_with_zero_total_usage: int
    models_with_no_active_workers: int
    models_with_no_downloads: int
    models_with_non_preferred_hosts: int
    models_with_multiple_hosts: int
    models_with_low_usage: int
    average_risk_score: float
    category_total_month_usage: int


class CategoryDeletionRiskResponse(BaseModel):
    """API.md §16.11."""

    category: Category
    category_total_month_usage: int
    total_count: int
    returned_count: int
    offset: int = 0
    limit: int | None = None
    models: list[ModelDeletionRiskInfo]
    summary: CategoryDeletionRiskSummary


_GIB: Final = 1024**3


@dataclass(frozen=True, slots=True)
class _Downloads:
    count: int
    hosts: list[str]
    flags: dict[str, bool]


def _downloads(document: Mapping[str, Any], preferred: Sequence[str]) -> _Downloads:
    config = document.get("config")
    entries = config.get("download") if isinstance(config, Mapping) else None
    urls = [d.get("file_url") for d in entries or () if isinstance(d, Mapping)]
    hosts: dict[str, None] = {}
    unknown = False
    for url in urls:
        try:
            parts = urlsplit(url) if isinstance(url, str) else None
        except ValueError:
            parts = None
        if parts is None:
            unknown = True
        elif parts.scheme and parts.netloc:
            hosts[parts.netloc] = None
    if not urls:
        return _Downloads(0, [], {"no_download_urls": True})
    found = list(hosts)
    return _Downloads(
        len(urls),
        found,
        {
            "no_download_urls": not found,
            "has_multiple_hosts": len(found) > 1,
            "has_non_preferred_host": bool(found) and not any(p in h for h in found for p in preferred),
            "has_unknown_host": unknown,
        },
    )


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _size_gb(document: Mapping[str, Any]) -> float | None:
    size = document.get("size_on_disk_bytes")
    if isinstance(size, int | float) and not isinstance(size, bool) and size > 0:
        return round(size / _GIB, 2)
    return None


def _cost_benefit(month: int, size_gb: float | None) -> float | None:
    return round(month / size_gb, 2) if size_gb else None


_VARIATION_FIELDS: Final = set(BackendVariationStats.model_fields)
_HOST_FLAGS: Final = ("has_multiple_hosts", "has_non_preferred_host", "has_unknown_host", "no_download_urls")


def _settled(category: Category, policy: RiskPolicy, flags: Mapping[str, bool], **fields: Any) -> ModelDeletionRiskInfo:
    """A model's risk from its flags and counters: at risk, score, critical, warning (DATA.md §14.1, §14.3).

    Made by one ``model_validate`` of plain values (nested ones included): the fastest way to a model.
    """
    score = sum(flags.values())
    if category is Category.TEXT_GENERATION:
        critical = (
            fields["usage_month"] < policy.text_critical_usage and fields["worker_count"] < policy.text_critical_workers
        )
    else:
        critical = flags.get("zero_usage_month", False) and flags.get("no_active_workers", False)
    return ModelDeletionRiskInfo.model_validate(
        {
            "category": category,
            "deletion_risk_flags": flags,
            "at_risk": score > 0,
            "risk_score": score,
            "is_critical": critical,
            "has_warning": any(flags.get(f, False) for f in _HOST_FLAGS),
            **fields,
        }
    )


def _weighted_ratio(
    members: Sequence[ModelDeletionRiskInfo], ratio: Callable[[UsageTrend], float | None]
) -> float | None:
    """Σ(ratio × month) over members with a non-zero ratio, divided by Σ month over all members."""
    weights = sum(m.usage_month for m in members)
    parts = [(r, m.usage_month) for m in members if (r := ratio(m.usage_trend))]
    if not parts or not weights:
        return None
    return sum(r * w for r, w in parts) / weights


def _merge(
    category: Category, policy: RiskPolicy, name: str, members: Sequence[ModelDeletionRiskInfo]
) -> ModelDeletionRiskInfo:
    first = members[0]
    flags = {f: any(getattr(m.deletion_risk_flags, f) for m in members) for f in _FLAGS}
    sizes = [m.size_gb for m in members if m.size_gb is not None]
    size_gb = mean(sizes) if sizes else None
    month = sum(m.usage_month for m in members)
    return _settled(
        category,
        policy,
        flags,
        name=name,
        worker_count=max(m.worker_count for m in members),
        usage_day=sum(m.usage_day for m in members),
        usage_month=month,
        usage_total=sum(m.usage_total for m in members),
        usage_hour=None,
        usage_minute=None,
        usage_percentage_of_category=round(sum(m.usage_percentage_of_category for m in members), 4),
        usage_trend={
            "day_to_month_ratio": _weighted_ratio(members, lambda t: t.day_to_month_ratio),
            "month_to_total_ratio": _weighted_ratio(members, lambda t: t.month_to_total_ratio),
        },
        cost_benefit_score=_cost_benefit(month, size_gb),
        size_gb=round(size_gb, 2) if size_gb is not None else None,
        baseline=first.baseline,
        nsfw=first.nsfw,
        has_description=all(m.has_description for m in members),
        download_count=sum(m.download_count for m in members),
        download_hosts=list(dict.fromkeys(h for m in members for h in m.download_hosts)),
        backend_variations=None,
    )


def group_by_base_name(
    infos: Sequence[ModelDeletionRiskInfo], category: Category, policy: RiskPolicy
) -> list[ModelDeletionRiskInfo]:
    """Text variants merged per group (DATA.md §14.6), groups in order of first appearance."""
    groups: dict[str, list[ModelDeletionRiskInfo]] = {}
    for info in infos:
        groups.setdefault(base_name(info.name), []).append(info)
    merged = []
    for name, members in groups.items():
        if len(members) == 1:
            merged.append(members[0].model_copy(update={"name": name, "backend_variations": None}))
        else:
            merged.append(_merge(category, policy, name, members))
    return merged


_PRESETS: Final[Mapping[RiskPreset, Callable[[ModelDeletionRiskInfo], bool]]] = {
    RiskPreset.DELETION_CANDIDATES: lambda m: m.at_risk or m.usage_percentage_of_category < 0.01 or m.worker_count == 0,
    RiskPreset.ZERO_USAGE: lambda m: m.usage_month == 0,
    RiskPreset.NO_WORKERS: lambda m: m.worker_count == 0,
    RiskPreset.MISSING_DATA: lambda m: (
        m.deletion_risk_flags.missing_description or m.deletion_risk_flags.missing_baseline
    ),
    RiskPreset.HOST_ISSUES: lambda m: m.has_warning,
    RiskPreset.CRITICAL: lambda m: m.is_critical,
    RiskPreset.LOW_USAGE: lambda m: m.deletion_risk_flags.low_usage,
}


_SUMMARY_FLAGS: Final = {
    "models_with_zero_day_usage": "zero_usage_day",
    "models_with_zero_month_usage": "zero_usage_month",
    "models_with_zero_total_usage": "zero_usage_total",
    "models_with_no_active_workers": "no_active_workers",
    "models_with_no_downloads": "no_download_urls",
    "models_with_non_preferred_hosts": "has_non_preferred_host",
    "models_with_multiple_hosts": "has_multiple_hosts",
    "models_with_low_usage": "low_usage",
}


def summarize(infos: Sequence[ModelDeletionRiskInfo]) -> CategoryDeletionRiskSummary:
    """DATA.md §14.4, over the given models."""
    counts = dict.fromkeys(("models_at_risk", "models_critical", "models_with_warnings", *_SUMMARY_FLAGS), 0)
    score = month = 0
    for info in infos:
        flags = info.deletion_risk_flags
        counts["models_at_risk"] += info.at_risk
        counts["models_critical"] += info.is_critical
        counts["models_with_warnings"] += info.has_warning
        for field_name, flag in _SUMMARY_FLAGS.items():
            counts[field_name] += getattr(flags, flag)
        score += info.risk_score
        month += info.usage_month
    return CategoryDeletionRiskSummary(
        total_models=len(infos),
        average_risk_score=round(score / len(infos), 2) if infos else 0.0,
        category_total_month_usage=month,
        **counts,
    )


@dataclass(frozen=True, slots=True)
class RiskAnalysis:
    """Every model of a category assessed (and grouped, when asked): what presets and pages are cut from."""

    category: Category
    models: list[ModelDeletionRiskInfo]
    ungrouped_count: int
    category_total_month_usage: int
    summary: CategoryDeletionRiskSummary


def analyse(
    category: Category,
    models: Sequence[tuple[str, Mapping[str, Any]]],
    index: UsageIndex,
    policy: RiskPolicy,
    *,
    variations: bool = False,
) -> RiskAnalysis:
    """Every model flagged (DATA.md §14.1–14.3), most used first: what every ungrouped deletion-risk answer is
    cut from. *variations* (text only): each model's usage is its own, broken down by backend.

    A model the AI-Horde reports nothing for has zero usage (the existing service leaves its zero-usage flags
    off, so a model nobody uses or serves was never critical: DATA.md §14.1 "Trap").
    """
    text = category is Category.TEXT_GENERATION
    joined = [(name, document, index.combined(name, variations=variations and text)) for name, document in models]
    category_month = sum(s.usage_stats.month for _, _, s in joined if s.usage_stats)
    low_usage_percent = policy.text_low_usage_percent if text else policy.image_low_usage_percent
    judge_hosts = not (text and policy.ignore_text_download_hosts)
    infos: list[ModelDeletionRiskInfo] = []
    for name, document, stats in joined:
        usage = stats.usage_stats
        day, month, total = (usage.day, usage.month, usage.total) if usage else (0, 0, 0)
        share = month / category_month * 100 if category_month else 0.0
        downloads = _downloads(document, policy.preferred_hosts)
        description = document.get("description")
        has_description = isinstance(description, str) and bool(description.strip())
        flags = {
            "zero_usage_day": day == 0,
            "zero_usage_month": month == 0,
            "zero_usage_total": total == 0,
            "no_active_workers": stats.worker_count == 0,
            "missing_description": not has_description,
            "missing_baseline": not document.get("baseline"),
            "low_usage": bool(category_month) and share < low_usage_percent,
            **(downloads.flags if judge_hosts else {}),
        }
        size_gb = _size_gb(document)
        baseline = document.get("baseline")
        nsfw = document.get("nsfw")
        variations_found = stats.backend_variations
        info = _settled(
            category,
            policy,
            flags,
            name=name,
            worker_count=stats.worker_count,
            usage_day=day,
            usage_month=month,
            usage_total=total,
            usage_hour=None,
            usage_minute=None,
            usage_percentage_of_category=round(share, 4),
            usage_trend={"day_to_month_ratio": _ratio(day, month), "month_to_total_ratio": _ratio(month, total)},
            cost_benefit_score=_cost_benefit(month, size_gb),
            size_gb=size_gb,
            baseline=str(baseline) if baseline is not None else None,
            nsfw=nsfw if isinstance(nsfw, bool) else None,
            has_description=has_description,
            download_count=downloads.count,
            download_hosts=downloads.hosts,
            backend_variations=(
                [v.model_dump(include=_VARIATION_FIELDS) for v in variations_found.values()]
                if variations_found is not None
                else None
            ),
        )
        infos.append(info)
    infos.sort(key=lambda i: i.usage_month, reverse=True)  # stable: ties keep the category's order
    return RiskAnalysis(category, infos, len(infos), category_month, summarize(infos))


def grouped(analysis: RiskAnalysis, policy: RiskPolicy) -> RiskAnalysis:
    """The same analysis with text variants merged per group (DATA.md §14.6); other categories unchanged."""
    if analysis.category is not Category.TEXT_GENERATION:
        return analysis
    infos = group_by_base_name(analysis.models, analysis.category, policy)
    return RiskAnalysis(
        analysis.category, infos, analysis.ungrouped_count, analysis.category_total_month_usage, summarize(infos)
    )


def deletion_risk(
    analysis: RiskAnalysis, preset: RiskPreset | None = None, limit: int | None = None, offset: int = 0
) -> CategoryDeletionRiskResponse:
    """The answer of API.md T2: a preset keeps the models it names (``total_count`` = the count before it, the
    summary over the kept ones); a page cuts ``models[offset:offset+limit]`` (``total_count`` = the count
    before paging, the summary over all of them)."""
    models, total, summary = analysis.models, analysis.ungrouped_count, analysis.summary
    if preset is not None:
        keep = _PRESETS[preset]
        models = [m for m in models if keep(m)]
        summary = summarize(models)
    if limit is not None or offset:
        total = len(models)
        models = models[offset : None if limit is None else offset + limit]
    return CategoryDeletionRiskResponse(
        category=analysis.category,
        category_total_month_usage=analysis.category_total_month_usage,
        total_count=total,
        returned_count=len(models),
        offset=offset,
        limit=limit,
        models=models,
        summary=summary,
    )


class DeletionRiskParams(BaseModel):
    """API.md T2. ``preset`` is checked by the service (an unknown one is a 400 naming the valid ones)."""

    model_config = ConfigDict(extra="forbid")

    group_text_models: bool = False
    include_backend_variations: bool = False
    preset: str | None = Field(None, max_length=200)
    limit: int | None = Field(None, ge=1, le=2**31 - 1)
    offset: int = Field(0, ge=0, le=2**31 - 1)
