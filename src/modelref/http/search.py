"""v2 search (API.md §4): per category and across all categories, one query engine for both."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from modelref.domain.query import CrossSearchParams, SearchParams, SearchResponse
from modelref.domain.usage import PopularModelResult, PopularParams
from modelref.http import passthrough
from modelref.http.deps import LiveDep, ReadsDep
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


@router.get(
    "/{model_category_name}/popular",
    operation_id="popular_models_model_references_v2__model_category_name__popular_get",
    response_model=list[PopularModelResult],
)
async def popular_models(
    request: Request, live: LiveDep, model_category_name: str, params: Annotated[PopularParams, Query()]
) -> Response:
    """Models ranked by live AI-Horde usage (image_generation and text_generation; other categories: ``[]``).
    ``[]`` too, not an error, when the AI-Horde cannot answer and no recent data is held: see /api/heartbeat."""
    category = searchable_category(model_category_name)
    return passthrough.respond(request, passthrough.answered(await live.popular(category, params)))
