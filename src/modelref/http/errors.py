"""The one place where errors become HTTP answers: ``{"detail": …}`` plus an ``X-Error-Code`` header."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from modelref import errors

log = logging.getLogger(__name__)

STATUS: dict[type[errors.ModelRefError], int] = {
    errors.NotFound: 404,
    errors.AlreadyExists: 409,
    errors.NameMismatch: 400,
    errors.InvalidRecord: 422,
    errors.InvalidSource: 400,
    errors.InvalidQuery: 400,
    errors.InvalidName: 400,
    errors.InvalidPayload: 400,
    errors.InvalidTransition: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotWritable: 503,
    errors.Unavailable: 503,
    errors.ExportFailed: 500,
}


def status_of(error: errors.ModelRefError) -> int:
    return STATUS.get(type(error), 500)


async def _domain_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, errors.ModelRefError)
    return JSONResponse({"detail": error.detail}, status_of(error), headers={"X-Error-Code": error.code})


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return JSONResponse({"detail": "Internal server error"}, 500, headers={"X-Error-Code": "internal"})


async def _invalid_body(_request: Request, error: Exception) -> JSONResponse:
    """A record that failed the write rules: FastAPI's 422 shape, located in the body."""
    assert isinstance(error, ValidationError)
    detail = [
        {"type": e["type"], "loc": ["body", *e["loc"]], "msg": e["msg"], "input": e.get("input")}
        for e in error.errors(include_url=False)
    ]
    return JSONResponse({"detail": jsonable_encoder(detail)}, 422, headers={"X-Error-Code": "invalid_record"})


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.ModelRefError, _domain_error)
    app.add_exception_handler(ValidationError, _invalid_body)
    app.add_exception_handler(Exception, _unexpected)
