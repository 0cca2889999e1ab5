"""Live usage from the AI-Horde, joined to reference models (DATA.md §15.1–15.3).

The AI-Horde's answers are parsed once, at the client's edge, into ``HordeUsage`` (one kind's model status,
usage counters and, when asked, workers). ``UsageIndex`` indexes it once — every lookup is case-insensitive —
and joins it to a canonical model name: ``combined`` gives a model's ``CombinedModelStatistics``, ``popular``
ranks a category's models by a metric.

Names: the AI-Horde reports a text model under its canonical name ``N``, ``aphrodite/N`` and ``koboldcpp/M``
(``M`` = ``N`` without its organisation), in any case (DATA.md §8.5).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from modelref.domain.categories import Category
from modelref.domain.legacy_text import backend_variants
from modelref.domain.textnames import base_name


class HordeKind(StrEnum):
    """The AI-Horde's two kinds of model with usage data."""

    IMAGE = "image"
    TEXT = "text"


HORDE_KINDS: Final[Mapping[Category, HordeKind]] = {
    Category.IMAGE_GENERATION: HordeKind.IMAGE,
    Category.TEXT_GENERATION: HordeKind.TEXT,
}
"""The categories the AI-Horde reports usage for; every other category has none."""


LARGEST: Final = 2**40
"""No AI-Horde counter comes near this (a trillion); larger ones are cut to it, so that sums stay in 64 bits."""


def _whole(value: object) -> object:
    """The AI-Horde sends some counters as floats (``"jobs": 2.0``): finite numbers become whole numbers, and
    numbers beyond any real counter are cut to ``LARGEST``."""
    if isinstance(value, float) and math.isfinite(value):
        value = round(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return max(-LARGEST, min(LARGEST, value))
    return value


Whole = Annotated[int, BeforeValidator(_whole)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class HordeModelStatus(_Payload):
    """One entry of ``v2/status/models``: a model and the workers serving it now."""

    name: str
    count: Whole = 0
    performance: float = 0.0
    queued: Whole = 0
    jobs: Whole = 0
    eta: Whole = 0


class HordeStats(_Payload):
    """``v2/stats/{img,text}/models``: requests per model name over a day, a month and all time."""

    day: dict[str, Whole] = Field(default_factory=dict)
    month: dict[str, Whole] = Field(default_factory=dict)
    total: dict[str, Whole] = Field(default_factory=dict)


class HordeWorker(_Payload):
    """One entry of ``v2/workers``: the fields a worker summary reports."""

    id: str
    name: str = ""
    models: list[str] = Field(default_factory=list)
    performance: str = ""
    online: bool = False
    trusted: bool = False
    uptime: Whole = 0
    max_length: Whole | None = None
    max_context_length: Whole | None = None
    bridge_agent: str | None = None
    nsfw: bool | None = None


@dataclass(frozen=True, slots=True)
class HordeUsage:
    """What the AI-Horde said about one kind of model; ``workers`` None when they were not asked for."""

    status: tuple[HordeModelStatus, ...]
    stats: HordeStats
    workers: tuple[HordeWorker, ...] | None = None
    observed_at: int = 0
    """When the AI-Horde gave the oldest of these answers (Unix seconds)."""


class KindUsage(BaseModel):
    """How fresh one kind's usage data is (reported by /heartbeat)."""

    age_seconds: float | None
    """Seconds since the AI-Horde last gave the status and usage counters (the older of the two); null: never."""
    stale: bool
    """Older than the cache period: a refresh is due or failing."""
    last_error: str | None
    """Why the last refresh failed, when it did (cleared by a success)."""


class UsageStats(BaseModel):
    day: int
    month: int
    total: int


class WorkerSummary(BaseModel):
    id: str
    name: str
    performance: str
    online: bool
    trusted: bool
    uptime: int
    max_length: int | None = None
    max_context_length: int | None = None
    bridge_agent: str | None = None
    nsfw: bool | None = None


class Backend(StrEnum):
    """Under which name the AI-Horde reported a text model (DATA.md §15.2, backend variations)."""

    CANONICAL = "canonical"
    APHRODITE = "aphrodite"
    KOBOLDCPP = "koboldcpp"


class BackendVariation(BaseModel):
    backend: Backend
    variant_name: str
    worker_count: int
    performance: float | None = None
    queued: int | None = None
    queued_jobs: int | None = None
    eta: int | None = None
    usage_day: int
    usage_month: int
    usage_total: int


class CombinedModelStatistics(BaseModel):
    """A model's live data (API.md §16.12); ``popular`` leaves the null fields out, ``with-stats`` keeps them."""

    model_config = ConfigDict(frozen=True)

    queued_jobs: int | None = None
    performance: float | None = None
    eta: int | None = None
    queued: int | None = None
    usage_stats: UsageStats | None = None
    worker_summaries: dict[str, WorkerSummary] | None = None
    backend_variations: dict[Backend, BackendVariation] | None = None
    worker_count: int = 0
    observed_at: int = 0
    """When the AI-Horde gave the data (Unix seconds)."""


class PopularSort(StrEnum):
    WORKER_COUNT = "worker_count"
    USAGE_DAY = "usage_day"
    USAGE_MONTH = "usage_month"
    USAGE_TOTAL = "usage_total"


class PopularModelResult(BaseModel):
    """A model with its live data (API.md §16.12): ``record`` is the stored record without null fields."""

    name: str
    record: dict[str, Any]
    stats: CombinedModelStatistics


_QUANT_SUFFIX = re.compile(
    r"[-_](?:Q[2-8]_K(?:_[SMLH])?|Q[2-8]_[01]|Q[2-8]|GGUF|GGML|GPTQ|AWQ|EXL2|fp16|fp32|int8|int4)$", re.IGNORECASE
)
_BACKEND_PREFIXES: Final = tuple((f"{b.value}/", b) for b in (Backend.APHRODITE, Backend.KOBOLDCPP))
_NO_USAGE: Final = (0, 0, 0)


def _backend(name: str) -> tuple[Backend, str]:
    """The backend a (lower-case) AI-Horde name is reported under, and the name without its prefix."""
    for prefix, backend in _BACKEND_PREFIXES:
        if name.startswith(prefix):
            return backend, name[len(prefix) :]
    return Backend.CANONICAL, name


@functools.lru_cache(maxsize=16_384)
def _sibling_key(name: str) -> str:
    """Backend prefix + name without organisation and quantization suffix: quant-only siblings share it."""
    backend, rest = _backend(name.lower())
    prefix = "" if backend is Backend.CANONICAL else f"{backend.value}/"
    return prefix + _QUANT_SUFFIX.sub("", rest.rpartition("/")[2])


def _family_key(name: str) -> str:
    """The group key of any AI-Horde name, compared without case (DATA.md §9.2, §15.2)."""
    return base_name(name).lower()


@functools.lru_cache(maxsize=16_384)
def model_variants(name: str) -> tuple[str, ...]:
    """``N``, ``aphrodite/N``, ``koboldcpp/M``: the names the AI-Horde may report a model under."""
    return tuple(dict.fromkeys((name, *backend_variants(name))))


class UsageIndex:
    """One kind's AI-Horde data indexed for joins; built once per answer, read by any number of requests."""

    def __init__(self, usage: HordeUsage) -> None:
        self.observed_at = usage.observed_at
        self.has_workers = usage.workers is not None
        self._status: dict[str, HordeModelStatus] = {}
        for status in usage.status:
            known = self._status.get(status.name.lower())
            if known is None or status.count > known.count:
                self._status[status.name.lower()] = status
        # Names that differ only in case are one model to the AI-Horde's clients: their counts add up.
        self._counts: dict[str, list[int]] = {}
        for period, counts in enumerate((usage.stats.day, usage.stats.month, usage.stats.total)):
            for name, count in counts.items():
                self._counts.setdefault(name.lower(), [0, 0, 0])[period] += count
        self._families: dict[str, list[str]] = {}
        self._siblings: dict[str, list[str]] = {}
        for name in self._counts:
            self._families.setdefault(_family_key(name), []).append(name)
            self._siblings.setdefault(_sibling_key(name), []).append(name)
        self._workers: dict[str, list[HordeWorker]] = {}
        self._combined: dict[tuple[str, bool, bool], CombinedModelStatistics] = {}
        self._summaries: dict[str, WorkerSummary] = {}
        for worker in usage.workers or ():
            for model in dict.fromkeys(m.lower() for m in worker.models):
                self._workers.setdefault(model, []).append(worker)

    def _summary(self, worker: HordeWorker) -> WorkerSummary:
        """The worker's summary, made once per index (a worker serves many models)."""
        found = self._summaries.get(worker.id)
        if found is None:
            found = self._summaries[worker.id] = WorkerSummary.model_validate(worker, from_attributes=True)
        return found

    def _sum(self, names: Iterable[str]) -> tuple[int, int, int]:
        day = month = total = 0
        for name in names:
            counts = self._counts.get(name)
            if counts is not None:
                day, month, total = day + counts[0], month + counts[1], total + counts[2]
        return day, month, total

    def status(self, name: str) -> HordeModelStatus | None:
        """The status of the variant with the most workers (DATA.md §15.2)."""
        found = [s for v in model_variants(name) if (s := self._status.get(v.lower())) is not None]
        return max(found, key=lambda s: s.count) if found else None

    def usage(self, name: str) -> tuple[int, int, int]:
        """Day, month and total requests over the model's variants and every AI-Horde name of its group."""
        names = {v.lower() for v in model_variants(name)}
        names.update(self._families.get(_family_key(name), ()))
        return self._sum(names)

    def own_usage(self, name: str) -> dict[Backend, tuple[int, int, int]]:
        """Requests per backend over the model's own variants and their quant-only siblings (no other size)."""
        names: set[str] = set()
        for variant in model_variants(name):
            names.add(variant.lower())
            names.update(self._siblings.get(_sibling_key(variant), ()))
        per_backend: dict[Backend, tuple[int, int, int]] = {}
        for found in names:
            day, month, total = self._sum((found,))
            if day or month or total:
                backend = _backend(found)[0]
                known = per_backend.get(backend, _NO_USAGE)
                per_backend[backend] = (known[0] + day, known[1] + month, known[2] + total)
        return per_backend

    def workers(self, name: str) -> list[HordeWorker]:
        """The workers serving the model under any of its names (each once)."""
        found: dict[str, HordeWorker] = {}
        for variant in model_variants(name):
            for worker in self._workers.get(variant.lower(), ()):
                found.setdefault(worker.id, worker)
        return list(found.values())

    def _variations(self, name: str, own: Mapping[Backend, tuple[int, int, int]]) -> dict[Backend, BackendVariation]:
        variants = {Backend.CANONICAL: name} | {_backend(v)[0]: v for v in model_variants(name)[1:]}
        statuses: dict[Backend, HordeModelStatus] = {}
        for backend, variant in variants.items():
            status = self._status.get(variant.lower())
            if status is not None:
                statuses[backend] = status
        variations: dict[Backend, BackendVariation] = {}
        for backend in Backend:
            status = statuses.get(backend)
            day, month, total = own.get(backend, _NO_USAGE)
            if status is None and not (day or month or total):
                continue
            variations[backend] = BackendVariation(
                backend=backend,
                variant_name=status.name if status else variants[backend],
                worker_count=status.count if status else 0,
                performance=status.performance if status else None,
                queued=status.queued if status else None,
                queued_jobs=status.jobs if status else None,
                eta=status.eta if status else None,
                usage_day=day,
                usage_month=month,
                usage_total=total,
            )
        return variations

    def combined(self, name: str, *, workers: bool = False, variations: bool = False) -> CombinedModelStatistics:
        """The model's live data (DATA.md §15.2). *variations*: usage of this model only (no other sizes of
        its group), broken down by backend. *workers*: its workers (when this index has them).

        Made once per index and question (every analysis of one AI-Horde answer asks again); never modified.
        """
        key = (name, workers and self.has_workers, variations)
        found = self._combined.get(key)
        if found is None:
            found = self._combined[key] = self._combine(name, workers=key[1], variations=variations)
        return found

    def _combine(self, name: str, *, workers: bool, variations: bool) -> CombinedModelStatistics:
        status = self.status(name)
        backend_variations = None
        if variations:
            own = self.own_usage(name)
            day, month, total = (sum(c[i] for c in own.values()) for i in range(3))
            backend_variations = self._variations(name, own)
        else:
            day, month, total = self.usage(name)
        summaries = None
        if workers:
            summaries = {w.id: self._summary(w) for w in self.workers(name)} or None
        worker_count = len(summaries) if summaries else status.count if status else 0
        return CombinedModelStatistics(
            queued_jobs=status.jobs if status else None,
            performance=status.performance if status else None,
            eta=status.eta if status else None,
            queued=status.queued if status else None,
            usage_stats=UsageStats(day=day, month=month, total=total) if day or month or total else None,
            worker_summaries=summaries,
            backend_variations=backend_variations,
            worker_count=worker_count,
            observed_at=self.observed_at,
        )


def _metric(stats: CombinedModelStatistics, sort_by: PopularSort) -> int:
    if sort_by is PopularSort.WORKER_COUNT:
        return stats.worker_count
    usage = stats.usage_stats
    if usage is None:
        return 0
    return {
        PopularSort.USAGE_DAY: usage.day,
        PopularSort.USAGE_MONTH: usage.month,
        PopularSort.USAGE_TOTAL: usage.total,
    }[sort_by]


def without_nulls(value: Any) -> Any:
    """A JSON value without the null fields of its objects, at any depth."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def popular(
    models: Sequence[tuple[str, Mapping[str, Any]]],
    index: UsageIndex,
    sort_by: PopularSort,
    limit: int,
    *,
    workers: bool = False,
) -> list[PopularModelResult]:
    """Every model ranked by *sort_by*, most first (ties keep the category's order; no data ranks as 0),
    cut to *limit* (API.md P1, DATA.md §15.3)."""
    joined = [(name, document, index.combined(name, workers=workers)) for name, document in models]
    joined.sort(key=lambda item: _metric(item[2], sort_by), reverse=True)  # sorted() is stable
    return [
        PopularModelResult(name=name, record=without_nulls(dict(document)), stats=stats)
        for name, document, stats in joined[:limit]
    ]


class PopularParams(BaseModel):
    """API.md P1. An unknown parameter is refused (422), as on every read with parameters."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(10, ge=1, le=100)
    sort_by: PopularSort = PopularSort.WORKER_COUNT
    include_workers: bool = False


class WithStatsSort(StrEnum):
    WORKER_COUNT = "worker_count"
    USAGE_TOTAL = "usage_total"
    USAGE_MONTH = "usage_month"
    NAME = "name"


def _known_sort(value: object) -> object:
    """An unknown ``sort_by`` keeps the category's order (the existing service's no-op); a huge one is refused."""
    if isinstance(value, str):
        if len(value) > 64:
            raise ValueError("sort_by is at most 64 characters")
        return value if value in WithStatsSort.__members__.values() else None
    return value


class WithStatsParams(BaseModel):
    """API.md §15 E2: ``sort_by`` outside the known fields keeps the category's order, as the existing
    service does."""

    model_config = ConfigDict(extra="forbid")

    include_workers: bool = False
    include_backend_variations: bool = False
    min_worker_count: int | None = Field(None, ge=0, le=2**31 - 1)
    sort_by: Annotated[WithStatsSort | None, BeforeValidator(_known_sort)] = None
    sort_desc: bool = True


def with_stats(
    models: Sequence[tuple[str, Mapping[str, Any]]], index: UsageIndex, params: WithStatsParams
) -> dict[str, CombinedModelStatistics]:
    """Every model's live data (API.md §15 E2), filtered by worker count and sorted when asked."""
    joined = [
        (name, index.combined(name, workers=params.include_workers, variations=params.include_backend_variations))
        for name, _ in models
    ]
    if params.min_worker_count is not None:
        joined = [(n, s) for n, s in joined if s.worker_count >= params.min_worker_count]
    sort = params.sort_by
    if sort is WithStatsSort.NAME:
        joined.sort(key=lambda item: item[0].lower(), reverse=params.sort_desc)
    elif sort is not None:
        metric = PopularSort(sort.value)
        joined.sort(key=lambda item: _metric(item[1], metric), reverse=params.sort_desc)
    return dict(joined)
