"""v1 reads (API.md §10): the frozen legacy shape, derived from the current v2 data."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from modelref.domain.categories import Category
from modelref.http.bodies import send
from modelref.http.deps import ReadsDep
from modelref.http.schemas import ERRORS, ContainsMessage

router = APIRouter(prefix="/model_references/v1", tags=["v1"], responses=ERRORS)

INFO = (
    "This is the legacy model reference API, which uses the format originally found at the github "
    "repositories: - https://github.com/Haidra-Org/AI-Horde-image-model-reference - "
    "https://github.com/Haidra-Org/AI-Horde-text-model-reference"
)


@router.get("/info", operation_id="read_legacy_reference_api_info")
async def info() -> ContainsMessage:
    return ContainsMessage(message=INFO)


@router.get("/model_categories", operation_id="read_legacy_references_names")
async def model_categories() -> list[str]:
    return [c.value for c in Category]


@router.get("/text_generation", operation_id="read_legacy_text_generation_reference")
def text_generation(request: Request, reads: ReadsDep, include_group: bool = False) -> Response:
    """The text models in db.json shape, backend duplicates included; optionally with group summaries.

    A plain function: building the group summaries the first time runs in the threadpool.
    """
    return send(request, reads.v1_text(include_group))


@router.get("/{category}", operation_id="read_legacy_reference")
async def read_category(request: Request, reads: ReadsDep, category: str) -> Response:
    """A category in the legacy shape. Accepts `stable_diffusion`, `db.json` and a trailing `.json`."""
    return send(request, reads.v1_category(category))
