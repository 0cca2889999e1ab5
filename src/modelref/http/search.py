"""v2 search (API.md §4): per category and across all categories, one query engine for both."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from modelref.domain.query import CrossSearchParams, SearchParams, SearchResponse
from modelref.http import passthrough
from modelref.http.deps import ReadsDep
from modelref.http.routing import api_router, searchable_category
from modelref.http.schemas import SEARCH

router = api_router("/model_references/v2", ["v2", "search"], responses=SEARCH)


@router.get("/search", operation_id="search_all_model_references_v2_search_get", response_model=SearchResponse)
async def search_all(request: Request, reads: ReadsDep, params: Annotated[CrossSearchParams, Query()]) -> Response:
    """Search every category; sort only on fields every record has. An unknown parameter is a 422."""
    return passthrough.respond(request, passthrough.v2_search(reads, None, params))


@router.get(
    "/{model_category_name}/search",
    operation_id="search_category_model_references_v2__model_category_name__search_get",
    response_model=SearchResponse,
)
async def search_category(
    request: Request, reads: ReadsDep, model_category_name: str, params: Annotated[SearchParams, Query()]
) -> Response:
    """Filter, sort and page one category (all filters ANDed; results de-duplicated by name)."""
    category = searchable_category(model_category_name)
    return passthrough.respond(request, passthrough.v2_search(reads, category, params))
