"""The reads that join the reference to live AI-Horde data: popular, with-stats, deletion risk (API.md P1, T2,
§15 E2).

Each answer is a pure function of the category's snapshot, the AI-Horde answers it used and the parameters:
it is computed once (off the event loop), encoded once, and tagged by those inputs, so a repeated request
costs a dictionary lookup and its ETag is the same in every process holding the same data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

import anyio.to_thread
import orjson
from pydantic import TypeAdapter

from modelref.domain.categories import Category
from modelref.domain.inputs import shown
from modelref.domain.risk import (
    CategoryDeletionRiskResponse,
    DeletionRiskParams,
    RiskAnalysis,
    RiskPolicy,
    RiskPreset,
    analyse,
    deletion_risk,
)
from modelref.domain.risk import grouped as group
from modelref.domain.tags import content_tag
from modelref.domain.usage import (
    HORDE_KINDS,
    CombinedModelStatistics,
    HordeKind,
    PopularModelResult,
    PopularParams,
    UsageIndex,
    WithStatsParams,
    popular,
    with_stats,
)
from modelref.errors import EmptyCategory, InvalidQuery, NoUsageData, Unavailable
from modelref.services.catalog import Snapshot
from modelref.services.memo import Recent
from modelref.services.reads import Answer, Reads
from modelref.services.usage import LiveData, LiveUsage

EMPTY_LIST: Final = Answer(b"[]", content_tag(b"[]"))
_WITH_STATS: Final = TypeAdapter(dict[str, CombinedModelStatistics])
log = logging.getLogger(__name__)
RISK_CATEGORIES: Final = "Deletion risk analysis is only supported for image_generation and text_generation categories"


Job = tuple[tuple[Any, ...], Callable[[], Answer]]
"""An answer's key (what it is made from) and how to make it."""

ANSWERS_BUDGET: Final = 32 * 1024 * 1024
"""The most bytes of made answers kept (a text deletion-risk answer is about 600 kB)."""


class Live:
    """Popular models, per-model live statistics and deletion risk, over the catalog and the AI-Horde."""

    def __init__(self, reads: Reads[Any], usage: LiveUsage, policy: RiskPolicy | None = None) -> None:
        self.reads = reads
        self.usage = usage
        self.policy = policy or RiskPolicy()
        self._indexes: Recent[tuple[str, bool], UsageIndex] = Recent(8)
        self._analyses: Recent[tuple[Any, ...], RiskAnalysis] = Recent(8)
        self._answers: Recent[tuple[Any, ...], Answer] = Recent(512, lambda a: len(a.body), ANSWERS_BUDGET)
        self._models: Recent[tuple[Any, ...], Any] = Recent(16)
        """The web UI's answers as models (a page reads them; it never needs their bytes)."""
        usage.on_refresh(self.warm)

    # -- as models, for the web UI: None when the AI-Horde cannot say -----------------------------------------

    async def ranking(self, category: Category, params: PopularParams) -> list[PopularModelResult] | None:
        """The models ranked by live usage; None for a category without usage data, or no usable AI-Horde data."""
        found = await self._live_or_none(category, params.include_workers)
        if found is None:
            return None
        snapshot, live = found
        key = ("ranking", category, snapshot.fingerprint, live.tag, *params.model_dump().values())
        ranked: list[PopularModelResult] = await anyio.to_thread.run_sync(
            self._models.get, key, lambda: self._ranked(snapshot, live, params)
        )
        return ranked

    async def model_usage(self, category: Category, name: str) -> CombinedModelStatistics | None:
        """One model's live data; None when the AI-Horde cannot say (or the category has no usage data)."""
        found = await self._live_or_none(category, workers=True)
        if found is None:
            return None
        snapshot, live = found
        key = ("with-stats", category, snapshot.fingerprint, live.tag)
        every: dict[str, CombinedModelStatistics] = await anyio.to_thread.run_sync(
            self._models.get,
            key,
            lambda: with_stats(snapshot.documents(), self._index(live), WithStatsParams(include_workers=True)),
        )
        return every.get(name)

    async def risk_report(self, category: Category, params: DeletionRiskParams) -> CategoryDeletionRiskResponse:
        """Deletion risk as a model, with the errors of ``deletion_risk``."""
        preset = _preset(params.preset)
        snapshot, live = await self._live_category(category, RISK_CATEGORIES, workers=False)
        report: CategoryDeletionRiskResponse = await anyio.to_thread.run_sync(
            self._models.get,
            _risk_key(snapshot, live, params, preset),
            lambda: self._report(snapshot, live, params, preset),
        )
        return report

    async def _live_or_none(self, category: Category, workers: bool) -> tuple[Snapshot[Any], LiveData] | None:
        kind = HORDE_KINDS.get(category)
        if kind is None:
            return None
        snapshot = self.reads.snapshot(category)
        live = await self.usage.get(kind, workers=workers)
        return None if live is None else (snapshot, live)

    def _ranked(self, snapshot: Snapshot[Any], live: LiveData, params: PopularParams) -> list[PopularModelResult]:
        index = self._index(live)
        return popular(snapshot.documents(), index, params.sort_by, params.limit, workers=params.include_workers)

    def _report(
        self, snapshot: Snapshot[Any], live: LiveData, params: DeletionRiskParams, preset: RiskPreset | None
    ) -> CategoryDeletionRiskResponse:
        category = snapshot.category
        grouped, variations = _risk_view(category, params)
        view = (category, snapshot.fingerprint, live.tag)

        def assess() -> RiskAnalysis:
            return analyse(category, snapshot.documents(), self._index(live), self.policy, variations=variations)

        analysis = self._analyses.get((*view, False, variations), assess)
        if grouped:
            analysis = self._analyses.get((*view, True, False), lambda: group(analysis, self.policy))
        return deletion_risk(analysis, preset, params.limit, params.offset)

    # -- as bytes, for the API --------------------------------------------------------------------------------

    async def popular(self, category: Category, params: PopularParams) -> Answer:
        """Models ranked by live usage; ``[]`` for a category without usage data and when the AI-Horde
        cannot answer within the wait (``/heartbeat`` says why)."""
        kind = HORDE_KINDS.get(category)
        if kind is None:
            return EMPTY_LIST
        snapshot = self.reads.snapshot(category)
        live = await self.usage.get(kind, workers=params.include_workers)
        if live is None:
            return EMPTY_LIST
        return await self._answer(self._popular(snapshot, live, params))

    async def with_stats(self, category: Category, params: WithStatsParams) -> Answer:
        """Every model's live data, nulls included (API.md §15 E2); 503 when the AI-Horde cannot answer."""
        snapshot, live = await self._live_category(
            category,
            f"Category '{category.value}' does not support Horde statistics. "
            "Only image_generation and text_generation are supported.",
            workers=params.include_workers,
        )
        return await self._answer(self._with_stats(snapshot, live, params))

    async def deletion_risk(self, category: Category, params: DeletionRiskParams) -> Answer:
        """Deletion risk of every model (API.md T2): 400 for other categories and unknown presets, 404 for an
        empty category, 503 when the AI-Horde cannot answer."""
        preset = _preset(params.preset)
        snapshot, live = await self._live_category(category, RISK_CATEGORIES, workers=False)
        return await self._answer(self._risk(snapshot, live, params, preset))

    def warm(self, kind: HordeKind) -> None:
        """Make the usual answers from the AI-Horde's newest answers, before anyone asks (``LiveUsage`` calls
        this on its own thread after a refresh): the first request after a change finds them made."""
        category = next(c for c, k in HORDE_KINDS.items() if k is kind)
        snapshot = self.reads.catalog.get(category)
        live = self.usage.held(kind)
        if live is None or not snapshot.received or not snapshot.hits:
            return
        jobs = [
            self._popular(snapshot, live, PopularParams()),
            self._with_stats(snapshot, live, WithStatsParams()),
            self._risk(snapshot, live, DeletionRiskParams(), None),
        ]
        with_workers = self.usage.held(kind, workers=True)
        if with_workers is not None and with_workers.usage.workers is not None:  # someone asked for them before
            jobs.append(self._popular(snapshot, with_workers, PopularParams(include_workers=True)))
        if category is Category.TEXT_GENERATION:
            jobs.append(self._risk(snapshot, live, DeletionRiskParams(group_text_models=True), None))
            jobs.append(self._risk(snapshot, live, DeletionRiskParams(include_backend_variations=True), None))
        for key, make in jobs:
            try:
                self._answers.get(key, make)
            except Exception:  # one answer that cannot be made must not keep the others from being made
                log.exception("making the %s answer %s", kind.value, key[0])

    def _popular(self, snapshot: Snapshot[Any], live: LiveData, params: PopularParams) -> Job:
        def make() -> Answer:
            ranked = self._ranked(snapshot, live, params)
            return _answer(orjson.dumps([r.model_dump(mode="json", exclude_none=True) for r in ranked]))

        key = ("popular", snapshot.category, snapshot.fingerprint, live.tag, *params.model_dump().values())
        return key, make

    def _with_stats(self, snapshot: Snapshot[Any], live: LiveData, params: WithStatsParams) -> Job:
        def make() -> Answer:
            return _answer(_WITH_STATS.dump_json(with_stats(snapshot.documents(), self._index(live), params)))

        key = ("with-stats", snapshot.category, snapshot.fingerprint, live.tag, *params.model_dump().values())
        return key, make

    def _risk(
        self, snapshot: Snapshot[Any], live: LiveData, params: DeletionRiskParams, preset: RiskPreset | None
    ) -> Job:
        def make() -> Answer:
            return _answer(self._report(snapshot, live, params, preset).model_dump_json().encode())

        return _risk_key(snapshot, live, params, preset), make

    async def _live_category(
        self, category: Category, unsupported: str, *, workers: bool
    ) -> tuple[Snapshot[Any], LiveData]:
        """The snapshot of a category with usage data and its live data, in the order of checks the existing
        service has: the category (400), its records (404), the AI-Horde (503)."""
        kind = HORDE_KINDS.get(category)
        if kind is None:
            raise NoUsageData(unsupported)
        snapshot = self.reads.snapshot(category)
        if not snapshot.hits:
            raise EmptyCategory(f"Category '{category.value}' not found or has no models")
        live = await self.usage.get(kind, workers=workers)
        if live is None:
            state = self.usage.breaker.state()
            reason = self.usage.status()[kind].last_error or "no answer yet"
            raise Unavailable(
                f"AI Horde API is currently unavailable ({reason}) and no usage data younger than "
                f"{self.usage.max_age:.0f} s is held; try again later (see /api/heartbeat).",
                retry_after=state.seconds_until_retry or 5,
            )
        return snapshot, live

    def _index(self, live: LiveData) -> UsageIndex:
        return self._indexes.get((live.tag, live.usage.workers is not None), lambda: UsageIndex(live.usage))

    async def _answer(self, job: Job) -> Answer:
        """The answer made before for the job's key, or made now on a worker thread."""
        key, make = job
        found = self._answers.peek(key)
        if found is not None:
            return found
        return await anyio.to_thread.run_sync(self._answers.get, key, make)


def _answer(body: bytes) -> Answer:
    """An answer tagged by its bytes (live data carries the time the AI-Horde gave it, which each process
    fetches on its own)."""
    return Answer(body, content_tag(body))


def _risk_view(category: Category, params: DeletionRiskParams) -> tuple[bool, bool]:
    """Whether the analysis is grouped, and whether it has backend variations (text only; grouping wins)."""
    text = category is Category.TEXT_GENERATION
    grouped = params.group_text_models and text
    return grouped, params.include_backend_variations and text and not grouped


def _risk_key(
    snapshot: Snapshot[Any], live: LiveData, params: DeletionRiskParams, preset: RiskPreset | None
) -> tuple[Any, ...]:
    """What a deletion-risk answer is made from (the same key for its bytes and its model)."""
    view = _risk_view(snapshot.category, params)
    return ("risk", snapshot.category, snapshot.fingerprint, live.tag, *view, preset, params.limit, params.offset)


def _preset(name: str | None) -> RiskPreset | None:
    if name is None:
        return None
    try:
        return RiskPreset(name)
    except ValueError:
        valid = ", ".join(p.value for p in RiskPreset)
        raise InvalidQuery(f"Invalid preset: Unknown preset: {shown(name)!r}. Valid presets: {valid}") from None
