"""Write routes (API.md §9, §11): every one of them queues a change for review and answers 202.

No ``from __future__ import annotations`` here: the typed routes annotate their body with the category's
record class, chosen at runtime, and FastAPI must see the class itself.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from modelref.domain.audit import Operation
from modelref.domain.categories import CATEGORY_INFO, Category, parse_category
from modelref.domain.changes import PendingChange
from modelref.domain.records import RECORD_CLASSES, RecordBase
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


def _write_category(name: str) -> Category:
    category = parse_category(name)
    if category is None:
        raise InvalidRecord(f"Unknown category '{shown(name)}'. Valid: {[c.value for c in Category]}")
    return category


def _propose(
    review: ReviewDep,
    auth: AuthDep,
    key: str,
    category: Category,
    operation: Operation,
    body: Any,
    route: str,
    path_name: str | None = None,
) -> JSONResponse:
    """422 body → 400 path/body name → key and role → guards, name rules, existence → 202."""
    record = review.validate_v2(category, body)
    review.check_path_name(record, path_name)  # before the key is resolved, as upstream does
    user = auth.require(key, Role.REQUESTOR)
    return queued(review.propose(user, category, operation, record, route=route, path_name=path_name))


def _typed_v2_writes(router: APIRouter, category: Category) -> None:
    record_type = RECORD_CLASSES[category]
    TypedBody = Annotated[record_type, Body()]  # type: ignore[valid-type]

    def sent(body: RecordBase) -> dict[str, Any]:
        # What the client sent (less unknown keys), for the write rules to read once more.
        return body.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def create(review: ReviewDep, auth: AuthDep, key: ApiKey, body: TypedBody) -> JSONResponse:
        return _propose(review, auth, key, category, Operation.CREATE, sent(body), f"create_v2_{category.value}")

    def update(review: ReviewDep, auth: AuthDep, key: ApiKey, model_name: str, body: TypedBody) -> JSONResponse:
        route = f"update_v2_{category.value}"
        return _propose(review, auth, key, category, Operation.UPDATE, sent(body), route, model_name)

    create.__doc__ = f"Propose a new {category.value} model (queued for review: 202)."
    update.__doc__ = f"Propose a change to a {category.value} model; the path name must equal the body's."
    for path, endpoint, method, verb in (
        (f"/{category.value}", create, "POST", "create"),
        (f"/{category.value}/model/{{model_name:path}}", update, "PUT", "update"),
    ):
        router.add_api_route(
            path, endpoint, methods=[method], status_code=202, operation_id=f"{verb}_v2_{category.value}"
        )


def v2_router() -> APIRouter:
    router = APIRouter(prefix="/model_references/v2", tags=["v2"], responses=WRITE_ERRORS)
    for category in Category:
        _typed_v2_writes(router, category)

    @router.post("/{category}/add", status_code=202, operation_id="create_v2_model")
    def create_any(review: ReviewDep, auth: AuthDep, key: ApiKey, category: str, body: JsonBody) -> JSONResponse:
        """Propose a new model; the body is validated as the path category's record type."""
        return _propose(review, auth, key, _write_category(category), Operation.CREATE, body, "create_v2_model")

    @router.put("/{category}/model/{model_name:path}", status_code=202, operation_id="update_v2_model")
    def update_any(
        review: ReviewDep, auth: AuthDep, key: ApiKey, category: str, model_name: str, body: JsonBody
    ) -> JSONResponse:
        """Propose a change to a model (the typed route of each category answers for known ones)."""
        found = _write_category(category)
        return _propose(review, auth, key, found, Operation.UPDATE, body, "update_v2_model", model_name)

    @router.delete("/{category}/model/{model_name:path}", status_code=202, operation_id="delete_v2_model")
    def delete(review: ReviewDep, auth: AuthDep, key: ApiKey, category: str, model_name: str) -> JSONResponse:
        """Propose deleting a model; the queued payload is the record as it is now."""
        found = _write_category(category)
        user = auth.require(key, Role.REQUESTOR)
        return queued(
            review.propose(user, found, Operation.DELETE, None, route="delete_v2_model", path_name=model_name)
        )

    return router


def _propose_legacy(
    review: ReviewDep, auth: AuthDep, key: str, category: Category, operation: Operation, body: Any, route: str
) -> JSONResponse:
    """v1 order: 503 → 422 body → name rules 400 → existence 409/404 → key and role → 202."""
    review.require_v1_writes()
    name, payload = review.validate_legacy(category, body)
    checked = review.legacy_existence(category, operation, name)
    user = auth.require(key, Role.REQUESTOR)
    return queued(review.propose_legacy(user, category, operation, checked, payload, route))


def _typed_v1_writes(router: APIRouter, category: Category) -> None:
    create_id = f"create_legacy_{category.value}_model"
    update_id = (
        "update_legacy_model" if category is Category.IMAGE_GENERATION else f"update_legacy_{category.value}_model"
    )

    def create(review: ReviewDep, auth: AuthDep, key: ApiKey, body: JsonBody) -> JSONResponse:
        return _propose_legacy(review, auth, key, category, Operation.CREATE, body, create_id)

    def update(review: ReviewDep, auth: AuthDep, key: ApiKey, body: JsonBody) -> JSONResponse:
        return _propose_legacy(review, auth, key, category, Operation.UPDATE, body, update_id)

    create.__doc__ = f"Propose a new {category.value} model in the legacy shape."
    update.__doc__ = f"Propose a change to a {category.value} model in the legacy shape (name from the body)."
    router.add_api_route(f"/{category.value}", create, methods=["POST"], status_code=202, operation_id=create_id)
    router.add_api_route(f"/{category.value}", update, methods=["PUT"], status_code=202, operation_id=update_id)


def v1_router() -> APIRouter:
    """Legacy-shape writes, open only on a PRIMARY whose canonical format is legacy (else 503)."""
    router = APIRouter(prefix="/model_references/v1", tags=["v1"], responses=WRITE_ERRORS)
    for category in Category:
        if CATEGORY_INFO[category].legacy_file is not None:
            _typed_v1_writes(router, category)

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
