"""v2 search (API.md §4): per category and across all categories, one query engine for both."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from modelref.http.bodies import send
from modelref.http.deps import ReadsDep
from modelref.http.schemas import ERRORS, CrossSearchParams, SearchParams, SearchResponse

router = APIRouter(prefix="/model_references/v2", tags=["search"], responses=ERRORS)


@router.get("/search", operation_id="search_all_models", response_model=SearchResponse)
async def search_all(request: Request, reads: ReadsDep, params: Annotated[CrossSearchParams, Query()]) -> Response:
    """Search every category; sort only on fields every record has."""
    return send(request, reads.search(None, params.to_query()))


@router.get("/{category}/search", operation_id="search_models", response_model=SearchResponse)
async def search_category(
    request: Request, reads: ReadsDep, category: str, params: Annotated[SearchParams, Query()]
) -> Response:
    """Filter, sort and page one category (all filters ANDed; results de-duplicated by name)."""
    return send(request, reads.search(category, params.to_query()))
