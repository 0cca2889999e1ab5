"""v2 reads (API.md §3): info, categories, whole category and single model, typed per category."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from modelref.domain.categories import Category
from modelref.domain.records import RECORD_CLASSES
from modelref.http.bodies import send
from modelref.http.deps import ReadsDep
from modelref.http.schemas import ERRORS, ContainsMessage

INFO = (
    "This is the v2 model reference API, which uses the new format established by horde_model_reference: "
    "typed records per category, search, statistics and a reviewed write workflow."
)


async def info() -> ContainsMessage:
    """Describe the v2 API."""
    return ContainsMessage(message=INFO)


async def model_categories() -> list[str]:
    """List all category names."""
    return [c.value for c in Category]


def _typed_reads(router: APIRouter, category: Category) -> None:
    record_type = RECORD_CLASSES[category]

    async def read_all(request: Request, reads: ReadsDep) -> Response:
        return send(request, reads.v2_category(category.value))

    async def read_one(request: Request, reads: ReadsDep, model_name: str) -> Response:
        return send(request, reads.v2_record(category.value, model_name))

    read_all.__doc__ = f"All {category.value} models, as {{name: record}}. 404 when the category is empty."
    read_one.__doc__ = f"One {category.value} model by its key; the name may contain '/'."
    router.add_api_route(
        f"/{category.value}",
        read_all,
        methods=["GET"],
        operation_id=f"read_v2_{category.value}_all",
        response_model=dict[str, record_type],  # type: ignore[valid-type]
    )
    router.add_api_route(
        f"/{category.value}/model/{{model_name:path}}",
        read_one,
        methods=["GET"],
        operation_id=f"read_v2_{category.value}_one",
        response_model=record_type,
    )


def build_router() -> APIRouter:
    """The v2 reference routes: typed per category first, then the generic ones (which therefore
    only ever see unknown categories)."""
    router = APIRouter(prefix="/model_references/v2", tags=["v2"], responses=ERRORS)
    router.add_api_route("/info", info, methods=["GET"], operation_id="read_v2_reference_api_info")
    router.add_api_route(
        "/model_categories", model_categories, methods=["GET"], operation_id="read_v2_references_names"
    )
    for category in Category:
        _typed_reads(router, category)

    @router.get("/{category}", operation_id="read_v2_reference")
    async def read_category(request: Request, reads: ReadsDep, category: str) -> Response:
        """All models of a category, as {name: record}."""
        return send(request, reads.v2_category(category))

    @router.get("/{category}/model/{model_name:path}", operation_id="read_v2_single_model")
    async def read_single_model(request: Request, reads: ReadsDep, category: str, model_name: str) -> Response:
        """One model by its key (the name may contain '/', raw or percent-encoded)."""
        return send(request, reads.v2_record(category, model_name))

    return router
