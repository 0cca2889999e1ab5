"""Category statistics and the analyses that join them to live AI-Horde data (API.md §7, §15 E2)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from modelref.domain.categories import Category
from modelref.domain.risk import CategoryDeletionRiskResponse, DeletionRiskParams
from modelref.domain.statistics import CategoryStatistics, StatisticsParams
from modelref.domain.usage import CombinedModelStatistics, WithStatsParams
from modelref.http import passthrough
from modelref.http.deps import LiveDep, ReadsDep
from modelref.http.routing import api_router
from modelref.http.schemas import READ, errors

router = api_router("/model_references/statistics", ["v2", "statistics"], responses=READ)
LIVE = errors(400)


@router.get("/{model_category_name}", operation_id="read_v2_category_statistics", response_model=CategoryStatistics)
async def statistics(
    request: Request, reads: ReadsDep, model_category_name: Category, params: Annotated[StatisticsParams, Query()]
) -> Response:
    """Counts, distributions and sizes over the category's records (made when the data changes). A known
    category without records has zeros. An unknown parameter is a 422."""
    return passthrough.respond(request, passthrough.statistics(reads, model_category_name, params))


@router.get(
    "/{model_category_name}/with-stats",
    operation_id="read_models_with_stats",
    response_model=dict[str, CombinedModelStatistics],
    responses=LIVE,
)
async def with_stats(
    request: Request, live: LiveDep, model_category_name: Category, params: Annotated[WithStatsParams, Query()]
) -> Response:
    """Every model merged with its live AI-Horde data (image_generation and text_generation; others: 400).
    503 when the AI-Horde cannot answer and no recent data is held."""
    return passthrough.respond(request, passthrough.answered(await live.with_stats(model_category_name, params)))


@router.get(
    "/{model_category_name}/deletion-risk",
    operation_id="read_v2_category_deletion_risk",
    response_model=CategoryDeletionRiskResponse,
    responses=LIVE,
)
async def deletion_risk(
    request: Request, live: LiveDep, model_category_name: Category, params: Annotated[DeletionRiskParams, Query()]
) -> Response:
    """Which models nobody uses, nobody serves or are badly described (image_generation and text_generation;
    others: 400). ``preset`` keeps one kind of candidate; ``limit``/``offset`` page. 503 when the AI-Horde
    cannot answer and no recent data is held."""
    return passthrough.respond(request, passthrough.answered(await live.deletion_risk(model_category_name, params)))
