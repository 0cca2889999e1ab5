"""Write routes (API.md §9, §11): every one of them queues a change for review and answers 202.

Each route makes one call, ``Proposals.propose``, which owns the order of the checks. The typed
routes document their body as the category's record type; every route validates it once, in the service.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body

from modelref.domain.audit import Operation
from modelref.domain.categories import Category
from modelref.domain.changes import PendingChangeRecord
from modelref.domain.convert import has_legacy_format
from modelref.domain.formats import Format
from modelref.domain.records import RECORD_CLASSES, RecordBase
from modelref.http.auth import LegacyRequestorDep, RequestorDep
from modelref.http.deps import ServicesDep
from modelref.http.openapi import BODY_SCHEMA
from modelref.http.routing import api_router, legacy_category
from modelref.http.schemas import WRITE
from modelref.services.proposals import Proposal

JsonBody = Annotated[dict[str, Any], Body()]
QUEUED: dict[str, Any] = {
    "status_code": 202,
    "response_model": PendingChangeRecord,
    "response_model_exclude_none": True,
}
"""Every write answers 202 with the queued change, null fields left out."""


def _body_of(*classes: type[RecordBase]) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON body as one of these record types (see ``http/openapi.py``).

    The body is validated once, by the service's write rules (as the path category's record type, with
    the same 422 shape on every write route); the schema says what is expected.
    """
    return {BODY_SCHEMA: [cls.__name__ for cls in classes]}


ANY_RECORD = _body_of(*RECORD_CLASSES.values())


def _typed_v2_writes(router: APIRouter, category: Category) -> None:
    create_id, update_id = f"create_v2_{category.value}", f"update_v2_{category.value}"
    typed = _body_of(RECORD_CLASSES[category])

    def create(services: ServicesDep, caller: RequestorDep, body: JsonBody) -> PendingChangeRecord:
        proposal = Proposal(Format.V2, category, Operation.CREATE, create_id, body)
        return services.proposals.propose(proposal, caller)

    def update(services: ServicesDep, caller: RequestorDep, model_name: str, body: JsonBody) -> PendingChangeRecord:
        proposal = Proposal(Format.V2, category, Operation.UPDATE, update_id, body, model_name)
        return services.proposals.propose(proposal, caller)

    create.__doc__ = f"Propose a new {category.value} model (queued for review: 202)."
    update.__doc__ = f"Propose a change to a {category.value} model; the path name must equal the body's."
    router.add_api_route(
        f"/{category.value}", create, methods=["POST"], operation_id=create_id, openapi_extra=typed, **QUEUED
    )
    router.add_api_route(
        f"/{category.value}/model/{{model_name:name}}",
        update,
        methods=["PUT"],
        operation_id=update_id,
        openapi_extra=typed,
        **QUEUED,
    )


def v2_router() -> APIRouter:
    router = api_router("/model_references/v2", ["v2"], authenticated=True, responses=WRITE)
    for category in Category:
        _typed_v2_writes(router, category)

    @router.post("/{model_category_name}/add", operation_id="create_v2_model", openapi_extra=ANY_RECORD, **QUEUED)
    def create_any(
        services: ServicesDep, caller: RequestorDep, model_category_name: Category, body: JsonBody
    ) -> PendingChangeRecord:
        """Propose a new model; the body is validated as the path category's record type."""
        proposal = Proposal(Format.V2, model_category_name, Operation.CREATE, "create_v2_model", body)
        return services.proposals.propose(proposal, caller)

    @router.put(
        "/{model_category_name}/model/{model_name:name}",
        operation_id="update_v2_model",
        openapi_extra=ANY_RECORD,
        **QUEUED,
    )
    def update_any(
        services: ServicesDep, caller: RequestorDep, model_category_name: Category, model_name: str, body: JsonBody
    ) -> PendingChangeRecord:
        """Propose a change to a model (the typed route of each category answers for known ones)."""
        proposal = Proposal(Format.V2, model_category_name, Operation.UPDATE, "update_v2_model", body, model_name)
        return services.proposals.propose(proposal, caller)

    @router.delete("/{model_category_name}/model/{model_name:name}", operation_id="delete_v2_model", **QUEUED)
    def delete(
        services: ServicesDep, caller: RequestorDep, model_category_name: Category, model_name: str
    ) -> PendingChangeRecord:
        """Propose deleting a model; the queued payload is the record as it is now."""
        proposal = Proposal(Format.V2, model_category_name, Operation.DELETE, "delete_v2_model", None, model_name)
        return services.proposals.propose(proposal, caller)

    @router.post("/{model_category_name:unclaimed}", include_in_schema=False, **QUEUED)
    def create_unknown(
        services: ServicesDep, caller: RequestorDep, model_category_name: Category, body: JsonBody
    ) -> PendingChangeRecord:
        """POST to a category with no typed route: an unknown category is a 422, not a 405."""
        proposal = Proposal(Format.V2, model_category_name, Operation.CREATE, "create_v2_model", body)
        return services.proposals.propose(proposal, caller)

    return router


def _typed_v1_writes(router: APIRouter, category: Category) -> None:
    create_id = f"create_legacy_{category.value}_model"
    update_id = (
        "update_legacy_model" if category is Category.IMAGE_GENERATION else f"update_legacy_{category.value}_model"
    )

    def create(services: ServicesDep, caller: LegacyRequestorDep, body: JsonBody) -> PendingChangeRecord:
        proposal = Proposal(Format.LEGACY, category, Operation.CREATE, create_id, body)
        return services.proposals.propose(proposal, caller)

    def update(services: ServicesDep, caller: LegacyRequestorDep, body: JsonBody) -> PendingChangeRecord:
        proposal = Proposal(Format.LEGACY, category, Operation.UPDATE, update_id, body)
        return services.proposals.propose(proposal, caller)

    create.__doc__ = f"Propose a new {category.value} model in the legacy shape."
    update.__doc__ = f"Propose a change to a {category.value} model in the legacy shape (name from the body)."
    router.add_api_route(f"/{category.value}", create, methods=["POST"], operation_id=create_id, **QUEUED)
    router.add_api_route(f"/{category.value}", update, methods=["PUT"], operation_id=update_id, **QUEUED)


def v1_router() -> APIRouter:
    """Legacy-shape writes, open only on a PRIMARY whose canonical format is legacy (else 503)."""
    router = api_router("/model_references/v1", ["v1"], authenticated=True, responses=WRITE)
    for category in Category:
        if has_legacy_format(category):
            _typed_v1_writes(router, category)

    @router.delete("/{model_category_name}/model/{model_name:name}", operation_id="delete_legacy_model", **QUEUED)
    def delete(
        services: ServicesDep, caller: LegacyRequestorDep, model_category_name: str, model_name: str
    ) -> PendingChangeRecord:
        """Propose deleting a model (legacy-canonical deployments)."""
        category = legacy_category(model_category_name)
        proposal = Proposal(Format.LEGACY, category, Operation.DELETE, "delete_legacy_model", None, model_name)
        return services.proposals.propose(proposal, caller)

    return router
