"""Answer a request with pre-built bytes (see ``responses.render``)."""

from __future__ import annotations

from fastapi import Request, Response

from modelref.http.responses import render
from modelref.services.catalog import Blob
from modelref.services.reads import Body


def send(request: Request, body: Body | Blob) -> Response:
    blob, last_updated = (body.blob, body.last_updated) if isinstance(body, Body) else (body, None)
    status, headers, content = render(
        blob,
        head=request.method == "HEAD",
        accept_encoding=request.headers.get("accept-encoding", ""),
        if_none_match=request.headers.get("if-none-match"),
        if_modified_since=request.headers.get("if-modified-since"),
        last_modified=last_updated,
    )
    response = Response(content=content, status_code=status)
    for name, value in headers:
        if name != b"content-length":
            response.headers[name.decode()] = value.decode()
    return response
