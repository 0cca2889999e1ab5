"""The one place where errors become HTTP answers: ``{"detail": …}`` plus an ``X-Error-Code`` header.

Echoed input is bounded: a 422 repeats at most a short prefix of each string it quotes, so a huge
invalid value never comes back as a huge answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Match

from modelref import errors
from modelref.domain.inputs import shown

log = logging.getLogger(__name__)

STATUS: dict[type[errors.ModelRefError], int] = {
    errors.NotFound: 404,
    errors.AlreadyExists: 409,
    errors.NameMismatch: 400,
    errors.InvalidRecord: 422,
    errors.InvalidBody: 422,
    errors.UnknownCategory: 422,
    errors.InvalidSource: 400,
    errors.InvalidQuery: 400,
    errors.InvalidName: 400,
    errors.InvalidPayload: 400,
    errors.InvalidTransition: 400,
    errors.NoUsageData: 400,
    errors.QuotaExceeded: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotServed: 503,
    errors.NotWritable: 503,
    errors.Unavailable: 503,
    errors.ExportFailed: 500,
}
MESSAGE = 300
"""The longest message a 422 item carries."""
ITEMS = 10
"""The most list items or object keys a quoted value shows."""


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
HTTP_CODES = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
"""X-Error-Code of the framework's own answers."""


def _routed(request: Request, method: str) -> bool:
    """Whether a route takes this request's path with *method*."""
    scope = {**request.scope, "method": method}
    return any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes)


def status_of(error: errors.ModelRefError) -> int:
    if isinstance(error, errors.IncompleteApply):
        return status_of(error.cause)
    for kind in type(error).__mro__:  # the nearest class with a status (a new subclass inherits its parent's)
        if kind in STATUS:
            return STATUS[kind]
    return 500


def bounded(value: Any, depth: int = 0) -> Any:
    """*value* with long strings cut, long lists and objects shortened, and deep nesting elided."""
    if isinstance(value, str):
        return shown(value)
    if isinstance(value, bytes):
        return bounded(value.decode("utf-8", "replace"), depth)
    if depth >= 3 and isinstance(value, Mapping | Sequence):
        return "…"
    if isinstance(value, Mapping):
        return {bounded(str(k)): bounded(v, depth + 1) for k, v in list(value.items())[:ITEMS]}
    if isinstance(value, Sequence):
        return [bounded(v, depth + 1) for v in list(value)[:ITEMS]]
    if isinstance(value, BaseModel):
        return bounded(value.model_dump(mode="json"), depth)
    return value


def _problem(item: Mapping[str, Any], prefix: Sequence[str | int] = ()) -> dict[str, Any]:
    problem: dict[str, Any] = {
        "type": item.get("type", "value_error"),
        "loc": [*prefix, *(bounded(part) if isinstance(part, str) else part for part in item.get("loc", ()))],
        "msg": str(item.get("msg", ""))[:MESSAGE],
        "input": bounded(item.get("input")),
    }
    if item.get("ctx"):
        problem["ctx"] = bounded(
            {k: v if isinstance(v, int | float | bool | None) else str(v) for k, v in item["ctx"].items()}
        )
    return problem


def _answer(error: errors.ModelRefError, status: int, body: Any) -> JSONResponse:
    headers = {"X-Error-Code": error.code}
    if isinstance(error, errors.Unavailable) and error.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    return JSONResponse(jsonable_encoder(body), status, headers=headers)


async def _domain_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, errors.ModelRefError)
    if isinstance(error, errors.InvalidBody):
        return _answer(error, 422, {"detail": [_problem(p, ("body",)) for p in error.problems]})
    if isinstance(error, errors.IncompleteApply):
        outcome = (
            error.outcome.model_dump(mode="json", exclude_none=True) if isinstance(error.outcome, BaseModel) else {}
        )
        # The whole outcome, and the failure's message as every error answer carries it.
        return _answer(error.cause, status_of(error), {"detail": error.detail, **outcome})
    return _answer(error, status_of(error), {"detail": error.detail})


async def _invalid_request(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    detail = [_problem(item) for item in error.errors()]
    return JSONResponse({"detail": jsonable_encoder(detail)}, 422, headers={"X-Error-Code": "invalid_request"})


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    """Starlette's own answers (404 unknown path, 405 wrong method); a 405 lists every allowed method."""
    assert isinstance(error, HTTPException)
    headers = dict(error.headers or {})
    if error.status_code == 405:
        allowed = [method for method in METHODS if _routed(request, method)]
        if "GET" in allowed:
            allowed.insert(allowed.index("GET") + 1, "HEAD")  # every read answers HEAD as well
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    headers.setdefault("X-Error-Code", HTTP_CODES.get(error.status_code, f"http_{error.status_code}"))
    return JSONResponse({"detail": error.detail}, error.status_code, headers=headers)


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return JSONResponse({"detail": "Internal server error"}, 500, headers={"X-Error-Code": "internal"})


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.ModelRefError, _domain_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
