"""The read fast path: answer the hot passthrough reads straight from the snapshots.

An ASGI middleware in front of FastAPI's router for GET/HEAD of whole categories, single models and
searches. It answers only when everything is in order; anything else (an unknown category or model, a
bad parameter, an error) falls through to the FastAPI route, which owns every error answer. Both use
the same ``Reads`` service and the same ``render``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from modelref.errors import ModelRefError
from modelref.http.responses import render
from modelref.http.schemas import CrossSearchParams, SearchParams
from modelref.services.reads import Body, Reads

_V2 = "/model_references/v2/"
_V1 = "/model_references/v1/"
_LIST_PARAMS = frozenset({"tags_any", "tags_all", "tags_none"})


def _params(query_string: bytes) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if key in _LIST_PARAMS:
            params.setdefault(key, []).append(value)
        elif key in params:
            raise ValueError("repeated parameter")  # let FastAPI decide what a repeat means
        else:
            params[key] = value
    return params


def _answer(reads: Reads, path: str, query_string: bytes) -> Body | None:
    """The body for a hot read, or None when the request is not one (or not a plain success)."""
    if path.startswith(_V2):
        rest = path[len(_V2) :]
        category, slash, tail = rest.partition("/")
        if not slash:
            if category == "search":
                params = CrossSearchParams.model_validate(_params(query_string))
                return Body(reads.search(None, params.to_query()), None)
            return reads.v2_category(category) if not query_string else None
        if tail == "search":
            params = SearchParams.model_validate(_params(query_string))
            return Body(reads.search(category, params.to_query()), None)
        if tail.startswith("model/") and len(tail) > 6 and not query_string:
            return reads.v2_record(category, tail[6:])
        return None
    if path.startswith(_V1):
        category = path[len(_V1) :]
        if "/" in category or query_string:
            return None
        return reads.v1_category(category)
    return None


class RootPath:
    """Serve every route under ``/api`` as well as bare: requests under the prefix get it as their
    ASGI ``root_path`` (what a proxy mounting the app at /api would set)."""

    def __init__(self, app: ASGIApp, root_path: str = "/api") -> None:
        self.app = app
        self.root_path = root_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not scope.get("root_path"):
            path: str = scope["path"]
            if path == self.root_path or path.startswith(self.root_path + "/"):
                scope = {**scope, "root_path": self.root_path}
        await self.app(scope, receive, send)


class HeadAsGet:
    """Route HEAD like GET for every read. The server itself leaves the body out of a HEAD answer
    (it keeps its own copy of the request scope), so the headers are exactly those of the GET."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "HEAD":
            scope = {**scope, "method": "GET"}
        await self.app(scope, receive, send)


class FastPath:
    """The outermost middleware of the app (see the module docstring)."""

    def __init__(self, app: ASGIApp, root_path: str = "/api") -> None:
        self.app = app
        self.root_path = root_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        reads: Reads | None = getattr(scope["app"].state, "reads", None)
        path: str = scope["path"]
        if self.root_path and path.startswith(self.root_path + "/"):
            path = path[len(self.root_path) :]
        body = None
        # A browser's cross-origin request takes the full stack, where the CORS middleware answers it.
        if reads is not None and b"origin" not in headers:
            try:
                body = _answer(reads, path, scope["query_string"])
            except (ModelRefError, ValidationError, ValueError, KeyError):
                body = None  # the route will give the proper error answer
        if body is None:
            await self.app(scope, receive, send)
            return
        status, response_headers, content = render(
            body.blob,
            head=scope["method"] == "HEAD",
            accept_encoding=headers.get(b"accept-encoding", b"").decode("latin-1"),
            if_none_match=_text(headers.get(b"if-none-match")),
            if_modified_since=_text(headers.get(b"if-modified-since")),
            last_modified=body.last_updated,
        )
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": content})


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return dict(scope["headers"])


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")
