"""Category statistics (API.md §7 T1)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from modelref.domain.categories import Category
from modelref.domain.query import MAX_OFFSET
from modelref.domain.statistics import CategoryStatistics
from modelref.http.deps import ReadsDep
from modelref.http.routing import api_router
from modelref.http.schemas import READ

router = api_router("/model_references/statistics", ["v2", "statistics"], responses=READ)


@router.get("/{model_category_name}", operation_id="read_v2_category_statistics")
def statistics(
    reads: ReadsDep,
    model_category_name: Category,
    group_text_models: bool = False,
    limit: Annotated[int | None, Query(ge=1, le=MAX_OFFSET)] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> CategoryStatistics:
    """Counts, distributions and sizes over the category's records (computed off the event loop)."""
    return reads.statistics(model_category_name, group_text_models, limit, offset)
