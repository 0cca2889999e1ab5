"""v2 reads (API.md §3, §15 E1): info, categories, whole category and single model, typed per category,
and the "beta" view of proposed models."""

from __future__ import annotations

from fastapi import Request, Response

from modelref.domain.categories import Category
from modelref.domain.info import ContainsMessage
from modelref.domain.records import RECORD_CLASSES, AnyRecord, RecordBase
from modelref.http import passthrough
from modelref.http.auth import ApproverDep
from modelref.http.deps import ReadsDep, ServicesDep
from modelref.http.routing import api_router
from modelref.http.schemas import READ, errors

INFO = (
    "This is the v2 model reference API, which uses the new format established by horde_model_reference: "
    "typed records per category, search, statistics and a reviewed write workflow."
)
router = api_router("/model_references/v2", ["v2"], responses=READ)


@router.get("/info", operation_id="read_v2_reference_api_info")
async def info() -> ContainsMessage:
    """Describe the v2 API."""
    return ContainsMessage(message=INFO)


@router.get("/model_categories", operation_id="read_v2_references_names", response_model=list[Category])
async def model_categories(request: Request) -> Response:
    """List all category names."""
    return passthrough.respond(request, passthrough.CATEGORY_NAMES)


def _typed_reads(category: Category) -> None:
    record_type = RECORD_CLASSES[category]

    async def read_all(request: Request, reads: ReadsDep) -> Response:
        return passthrough.respond(request, passthrough.v2_category(reads, category.value))

    async def read_one(request: Request, reads: ReadsDep, model_name: str) -> Response:
        return passthrough.respond(request, passthrough.v2_record(reads, category, model_name))

    read_all.__doc__ = f"All {category.value} models, as {{name: record}}. 404 when the category is empty."
    read_one.__doc__ = f"One {category.value} model by its key; the name may contain '/'."
    router.add_api_route(
        f"/{category.value}",
        read_all,
        methods=["GET"],
        tags=["v2"],
        operation_id=f"read_v2_{category.value}_all",
        response_model=dict[str, record_type],  # type: ignore[valid-type]
    )
    router.add_api_route(
        f"/{category.value}/model/{{model_name:name}}",
        read_one,
        methods=["GET"],
        tags=["v2"],
        operation_id=f"read_v2_{category.value}_one",
        response_model=record_type,
    )


for _category in Category:
    _typed_reads(_category)


@router.get("/{model_category_name}", operation_id="read_v2_reference", response_model=dict[str, AnyRecord])
async def read_category(request: Request, reads: ReadsDep, model_category_name: str) -> Response:
    """All models of a category, as {name: record} (the typed route of each category answers for known ones)."""
    return passthrough.respond(request, passthrough.v2_category(reads, model_category_name))


@router.get(
    "/{model_category_name}/model/{model_name:name}", operation_id="read_v2_single_model", response_model=AnyRecord
)
async def read_single_model(
    request: Request, reads: ReadsDep, model_category_name: Category, model_name: str
) -> Response:
    """One model by its key (the name may contain '/', raw or percent-encoded)."""
    return passthrough.respond(request, passthrough.v2_record(reads, model_category_name, model_name))


beta = api_router("/model_references/v2", ["v2"], authenticated=True, responses=READ)


@beta.get(
    "/{model_category_name}/pending",
    operation_id="read_v2_reference_pending",
    responses=errors(401),
    response_model=dict[str, AnyRecord],
    response_model_exclude_none=True,
)
def read_pending(services: ServicesDep, caller: ApproverDep, model_category_name: Category) -> dict[str, RecordBase]:
    """The "beta" models: pending and approved creates and updates of a category, as v2 records (approvers)."""
    return services.review.proposals(caller, model_category_name)
