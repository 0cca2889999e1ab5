"""What each route documents besides its success body: the error envelope and the statuses it answers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    """One located problem of a 422 (FastAPI's shape; ``input`` and ``ctx`` are bounded echoes)."""

    loc: list[str | int] | None = None
    msg: str
    type: str | None = None
    input: Any = None
    ctx: dict[str, Any] | None = None


class ErrorResponse(BaseModel):
    """Every error answer: a message, or (422) the list of located problems."""

    detail: str | list[ErrorDetail]


_DESCRIPTIONS = {
    400: "Bad request (a rule of the operation is not met)",
    401: "Missing or invalid apikey, or the key lacks the role",
    404: "Not found",
    409: "Already exists",
    413: "Request body too large",
    422: "Invalid input: a list of located problems, or a message",
    503: "Not available on this deployment, or a service it depends on is down (see Retry-After)",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` documentation of these error statuses."""
    return {status: {"model": ErrorResponse, "description": _DESCRIPTIONS[status]} for status in statuses}


READ = errors(404, 422, 503)
SEARCH = errors(400, 422, 503)
WRITE = errors(400, 401, 404, 409, 413, 422, 503)
QUEUE = errors(400, 401, 404, 413, 422, 503)
