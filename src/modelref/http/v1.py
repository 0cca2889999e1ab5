"""v1 reads (API.md §10): the frozen legacy shape, derived from the current v2 data."""

from __future__ import annotations

from fastapi import Request, Response

from modelref.domain.categories import Category
from modelref.domain.info import ContainsMessage
from modelref.http import passthrough
from modelref.http.deps import ReadsDep
from modelref.http.routing import api_router
from modelref.http.schemas import READ

router = api_router("/model_references/v1", ["v1"], responses=READ)

INFO = (
    "This is the legacy model reference API, which uses the format originally found at the github "
    "repositories: - https://github.com/Haidra-Org/AI-Horde-image-model-reference - "
    "https://github.com/Haidra-Org/AI-Horde-text-model-reference"
)


@router.get("/info", operation_id="read_legacy_reference_api_info")
async def info() -> ContainsMessage:
    return ContainsMessage(message=INFO)


@router.get("/model_categories", operation_id="read_legacy_references_names", response_model=list[Category])
async def model_categories(request: Request) -> Response:
    return passthrough.respond(request, passthrough.CATEGORY_NAMES)


@router.get(
    "/text_generation",
    operation_id="read_legacy_text_generation_reference",
    response_model=dict[str, dict[str, object]],
)
def text_generation(request: Request, reads: ReadsDep, include_group: bool = False) -> Response:
    """The text models in db.json shape, backend duplicates included; optionally with group summaries.

    A plain function: building the group summaries the first time runs in the threadpool.
    """
    return passthrough.respond(request, passthrough.v1_text(reads, include_group))


@router.get("/{model_category_name}", operation_id="read_legacy_reference", response_model=dict[str, dict[str, object]])
async def read_category(request: Request, reads: ReadsDep, model_category_name: str) -> Response:
    """A category in the legacy shape. Accepts `stable_diffusion`, `db.json` and a trailing `.json`."""
    return passthrough.respond(request, passthrough.v1_category(reads, model_category_name))
