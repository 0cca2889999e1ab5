"""Write routes (API.md §9, §11): every one of them queues a change for review and answers 202."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from modelref.domain.audit import Operation
from modelref.domain.categories import CATEGORY_INFO, Category, parse_category
from modelref.domain.changes import PendingChange
from modelref.domain.records import RECORD_CLASSES
from modelref.errors import InvalidRecord, NotFound
from modelref.http.auth import ApiKey, AuthDep
from modelref.http.deps import ReviewDep
from modelref.http.schemas import ERRORS
from modelref.services.auth import Role
from modelref.services.reads import shown

JsonBody = Annotated[dict[str, Any], Body()]
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    401: ERRORS[404] | {"description": "Missing or invalid apikey, or the key lacks the role"},
    409: ERRORS[404] | {"description": "Already exists"},
    503: ERRORS[404] | {"description": "Not writable here, or the AI-Horde is unavailable"},
}


def queued(change: PendingChange) -> JSONResponse:
    """202 with the queued change, null fields left out."""
    return JSONResponse(change.model_dump(mode="json", exclude_none=True), status_code=202)


def _body_schema(category: Category) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{RECORD_CLASSES[category].__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def _write_category(name: str) -> Category:
    category = parse_category(name)
    if category is None:
        raise InvalidRecord(f"Unknown category '{shown(name)}'. Valid: {[c.value for c in Category]}")
    return category


def v2_router() -> APIRouter:
    router = APIRouter(prefix="/model_references/v2", tags=["v2"], responses=WRITE_ERRORS)

    def propose(
        review: ReviewDep,
        auth: AuthDep,
        key: str,
        category: Category,
        operation: Operation,
        body: Any,
        route: str,
        path_name: str | None = None,
    ) -> JSONResponse:
        record = review.validate_v2(category, body) if body is not None else None
        review.check_path_name(record, path_name)  # before the key is resolved, as upstream does
        user = auth.require(key, Role.REQUESTOR)
        change = review.propose(user, category, operation, record, route=route, path_name=path_name)
        return queued(change)

    for category in Category:

        def create(
            review: ReviewDep, auth: AuthDep, key: ApiKey, body: JsonBody, category: Category = category
        ) -> JSONResponse:
            return propose(review, auth, key, category, Operation.CREATE, body, f"create_v2_{category.value}")

        def update(
            review: ReviewDep,
            auth: AuthDep,
            key: ApiKey,
            model_name: str,
            body: JsonBody,
            category: Category = category,
        ) -> JSONResponse:
            return propose(
                review, auth, key, category, Operation.UPDATE, body, f"update_v2_{category.value}", model_name
            )

        create.__doc__ = f"Propose a new {category.value} model (queued for review: 202)."
        update.__doc__ = f"Propose a change to a {category.value} model; the path name must equal the body's."
        router.add_api_route(
            f"/{category.value}",
            create,
            methods=["POST"],
            status_code=202,
            operation_id=f"create_v2_{category.value}",
            openapi_extra=_body_schema(category),
        )
        router.add_api_route(
            f"/{category.value}/model/{{model_name:path}}",
            update,
            methods=["PUT"],
            status_code=202,
            operation_id=f"update_v2_{category.value}",
            openapi_extra=_body_schema(category),
        )

    @router.post("/{category}/add", status_code=202, operation_id="create_v2_model")
    def create_any(review: ReviewDep, auth: AuthDep, key: ApiKey, category: str, body: JsonBody) -> JSONResponse:
        """Propose a new model; the body is validated as the path category's record type."""
        return propose(review, auth, key, _write_category(category), Operation.CREATE, body, "create_v2_model")

    @router.put("/{category}/model/{model_name:path}", status_code=202, operation_id="update_v2_model")
    def update_any(
        review: ReviewDep, auth: AuthDep, key: ApiKey, category: str, model_name: str, body: JsonBody
    ) -> JSONResponse:
        """Propose a change to a model (the typed route of each category answers for known ones)."""
        return propose(
            review, auth, key, _write_category(category), Operation.UPDATE, body, "update_v2_model", model_name
        )

    @router.delete("/{category}/model/{model_name:path}", status_code=202, operation_id="delete_v2_model")
    def delete(review: ReviewDep, auth: AuthDep, key: ApiKey, category: str, model_name: str) -> JSONResponse:
        """Propose deleting a model; the queued payload is the record as it is now."""
        found = _write_category(category)
        user = auth.require(key, Role.REQUESTOR)
        return queued(
            review.propose(user, found, Operation.DELETE, None, route="delete_v2_model", path_name=model_name)
        )

    return router


def v1_router() -> APIRouter:
    """Legacy-shape writes, open only on a PRIMARY whose canonical format is legacy (else 503)."""
    router = APIRouter(prefix="/model_references/v1", tags=["v1"], responses=WRITE_ERRORS)

    for category in [c for c in Category if CATEGORY_INFO[c].legacy_file is not None]:

        def write(
            review: ReviewDep, auth: AuthDep, key: ApiKey, body: JsonBody, operation: Operation, category: Category
        ) -> JSONResponse:
            review.require_v1_writes()
            name, payload = review.validate_legacy(category, body)
            route = f"{'create' if operation is Operation.CREATE else 'update'}_legacy_{category.value}_model"
            checked = review.legacy_existence(category, operation, name)
            user = auth.require(key, Role.REQUESTOR)
            return queued(review.propose_legacy(user, category, operation, checked, payload, route))

        def create(
            review: ReviewDep, auth: AuthDep, key: ApiKey, body: JsonBody, category: Category = category
        ) -> JSONResponse:
            return write(review, auth, key, body, Operation.CREATE, category)

        def update(
            review: ReviewDep, auth: AuthDep, key: ApiKey, body: JsonBody, category: Category = category
        ) -> JSONResponse:
            return write(review, auth, key, body, Operation.UPDATE, category)

        create.__doc__ = f"Propose a new {category.value} model in the legacy shape."
        update.__doc__ = f"Propose a change to a {category.value} model in the legacy shape (name from the body)."
        router.add_api_route(
            f"/{category.value}",
            create,
            methods=["POST"],
            status_code=202,
            operation_id=f"create_legacy_{category.value}_model",
        )
        update_id = (
            "update_legacy_model" if category is Category.IMAGE_GENERATION else f"update_legacy_{category.value}_model"
        )
        router.add_api_route(f"/{category.value}", update, methods=["PUT"], status_code=202, operation_id=update_id)

    @router.delete("/{category}/model/{model_name:path}", status_code=202, operation_id="delete_legacy_model")
    def delete(review: ReviewDep, auth: AuthDep, key: ApiKey, category: str, model_name: str) -> JSONResponse:
        """Propose deleting a model (legacy-canonical deployments)."""
        review.require_v1_writes()
        found = parse_category(category)
        if found is None or CATEGORY_INFO[found].legacy_file is None:
            raise NotFound(f"Model category '{shown(category)}' not found")
        checked = review.legacy_existence(found, Operation.DELETE, model_name)
        user = auth.require(key, Role.REQUESTOR)
        return queued(review.propose_legacy(user, found, Operation.DELETE, checked, None, "delete_legacy_model"))

    return router
