"""The ASGI application the server runs: the read fast path in front of the FastAPI app.

A plain ASGI wrapper, outside FastAPI and its middleware: a GET or HEAD of a passthrough read
(``passthrough.TABLE``) that succeeds is answered here from pre-built bytes. Everything else — another
route, an error, a bad parameter, a browser's cross-origin request — is handed to the FastAPI app,
which owns every error answer. A failure inside the fast path never answers the client: the request
goes on to the app as if the fast path were not there.

It also serves every route under ``/api`` as well as bare (the prefix becomes the ASGI ``root_path``,
as a proxy mounting the app at ``/api`` would set it), and routes HEAD like GET for the app (the server
leaves the body out of a HEAD answer).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from modelref.http.deps import services_of
from modelref.http.encoding import render
from modelref.http.passthrough import answer

log = logging.getLogger(__name__)

ROOT = "/api"
VARY = b"Accept-Encoding, Origin"
"""What the app's CORS middleware makes of a read's ``Vary`` (an answer differs by Origin): the same here."""
_READ_METHODS = ("GET", "HEAD")


class ModelRefApp:
    """The service as one ASGI callable; ``api`` is the FastAPI app behind the fast path."""

    def __init__(self, api: FastAPI, *, fast_path: bool = True) -> None:
        self.api = api
        self.fast_path = fast_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.api(scope, receive, send)
            return
        path: str = scope["path"]
        if not scope.get("root_path") and (path == ROOT or path.startswith(ROOT + "/")):
            scope = {**scope, "root_path": ROOT}
            path = path[len(ROOT) :]
        method = scope["method"]
        if method in _READ_METHODS:
            if self.fast_path and await self._answer(scope, path, send):
                return
            if method == "HEAD":
                scope = {**scope, "method": "GET"}
        await self.api(scope, receive, send)

    async def _answer(self, scope: Scope, path: str, send: Send) -> bool:
        services = services_of(self.api.state)
        if services is None:
            return False
        accept_encoding = if_none_match = if_modified_since = None
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept_encoding = value
            elif name == b"if-none-match":
                if_none_match = value
            elif name == b"if-modified-since":
                if_modified_since = value
            elif name == b"origin":
                return False  # a browser's cross-origin request: the CORS middleware answers it
        try:
            body = answer(services.reads, path, scope["query_string"])
        except Exception:
            return False
        if body is None:
            return False
        status, headers, content = render(
            body.payload,
            head=scope["method"] == "HEAD",
            accept_encoding=accept_encoding.decode("latin-1") if accept_encoding else "",
            if_none_match=if_none_match.decode("latin-1") if if_none_match is not None else None,
            if_modified_since=if_modified_since.decode("latin-1") if if_modified_since is not None else None,
            last_modified=body.last_updated,
            vary=VARY,
        )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})
        return True
