"""Category statistics (API.md §7 T1)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from modelref.http.deps import ReadsDep
from modelref.http.schemas import ERRORS, MAX_OFFSET, CategoryStatistics

router = APIRouter(prefix="/model_references/statistics", tags=["statistics"], responses=ERRORS)


@router.get("/{category}", operation_id="read_v2_category_statistics")
def statistics(
    reads: ReadsDep,
    category: str,
    group_text_models: bool = False,
    limit: Annotated[int | None, Query(ge=1, le=MAX_OFFSET)] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> CategoryStatistics:
    """Counts, distributions and sizes over the category's records (computed off the event loop)."""
    return CategoryStatistics(**reads.statistics(category, group_text_models, limit, offset))
