"""The passthrough reads: answered from pre-built bytes, by the fast path and by the FastAPI routes.

``TABLE`` lists every such read as a path pattern (relative to ``/api``) and its answer. The fast path
matches a request against it and answers only a plain success; the FastAPI routes for the same paths
call the same answer functions, and own every error answer, the validation and the OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import Request, Response
from pydantic import BaseModel, ConfigDict

from modelref.domain.categories import Category
from modelref.domain.formats import Format
from modelref.domain.query import CrossSearchParams, SearchParams
from modelref.domain.statistics import StatisticsParams
from modelref.http.encoding import Blob, encode, render
from modelref.http.routing import known_category, legacy_category, searchable_category
from modelref.services.reads import Answer as ReadAnswer
from modelref.services.reads import Body, Reads

V2 = "/model_references/v2"
V1 = "/model_references/v1"
STATISTICS = "/model_references/statistics"
CATEGORY_NAMES = Body(encode(orjson.dumps([c.value for c in Category])), None)
"""``model_categories`` of both versions: the same list, tagged like every other read."""


def v2_category(reads: Reads[Blob], name: str) -> Body[Blob]:
    return reads.v2_category(known_category(name))


def v2_record(reads: Reads[Blob], category: Category, name: str) -> Body[Blob]:
    return reads.v2_record(category, name)


def v2_search(reads: Reads[Blob], category: Category | None, params: CrossSearchParams) -> Body[Blob]:
    return answered(reads.search(category, params.to_query()))


def answered(answer: ReadAnswer) -> Body[Blob]:
    """An answer made per request (tagged by its inputs), as a body the fast path's renderer serves."""
    return Body(Blob(answer.body, answer.etag), None)


def statistics(reads: Reads[Blob], category: Category, params: StatisticsParams) -> Body[Blob]:
    return answered(reads.statistics(category, params.group_text_models, params.limit, params.offset))


def poll(reads: Reads[Blob], api: Format) -> Body[Blob]:
    return answered(reads.poll(api))


def v1_category(reads: Reads[Blob], name: str) -> Body[Blob]:
    category = legacy_category(name)
    if category is Category.TEXT_GENERATION:
        return v1_text(reads, include_group=False)
    return reads.v1_category(category)


def v1_text(reads: Reads[Blob], include_group: bool, *, build: bool = True) -> Body[Blob]:
    """db.json, with group summaries when asked. *build* False (the fast path, on the event loop) raises
    NotBuilt instead of building the summaries: the route, in the thread pool, builds them once."""
    body = reads.v1_text(include_group, build=build)
    if body is None:
        raise NotBuilt("the group summaries are built by the route, off the event loop")
    return body


class NotBuilt(Exception):
    """A body the fast path leaves to the route to build."""


class V1TextParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_group: bool = False


Query = dict[str, Any]
Answer = Callable[[Reads[Blob], dict[str, str], Query], Body[Blob]]


@dataclass(frozen=True, slots=True)
class Read:
    """One passthrough read: its path (``{name}`` segments; ``{name:rest}`` may contain ``/``) and answer."""

    path: str
    answer: Answer
    takes_query: bool = False
    """Whether query parameters are part of the read (a plain read with a query goes to the route)."""


TABLE: tuple[Read, ...] = (
    Read(f"{V2}/model_categories", lambda reads, _, __: CATEGORY_NAMES),
    Read(f"{V1}/model_categories", lambda reads, _, __: CATEGORY_NAMES),
    Read(f"{V2}/metadata/last_updated", lambda reads, _, __: poll(reads, Format.V2)),
    Read(f"{V2}/search", lambda reads, _, q: v2_search(reads, None, CrossSearchParams.model_validate(q)), True),
    Read(
        f"{V2}/{{category}}/search",
        lambda reads, p, q: v2_search(reads, searchable_category(p["category"]), SearchParams.model_validate(q)),
        True,
    ),
    Read(
        f"{V2}/{{category}}/model/{{name:rest}}",
        lambda reads, p, _: v2_record(reads, Category(p["category"]), p["name"]),
    ),
    Read(f"{V2}/{{category}}", lambda reads, p, _: v2_category(reads, p["category"])),
    Read(
        f"{V1}/text_generation",
        lambda reads, _, q: v1_text(reads, V1TextParams.model_validate(q).include_group, build=False),
        True,
    ),
    Read(f"{V1}/{{category}}", lambda reads, p, _: v1_category(reads, p["category"])),
    Read(
        f"{STATISTICS}/{{category}}",
        lambda reads, p, q: statistics(reads, Category(p["category"]), StatisticsParams.model_validate(q)),
        True,
    ),
)


_LIST_PARAMS = frozenset({"tags_any", "tags_all", "tags_none"})


def parse_query(query_string: bytes) -> Query:
    """Query parameters as the parameter models take them (tag filters as lists; no repeats otherwise)."""
    params: Query = {}
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if key in _LIST_PARAMS:
            params.setdefault(key, []).append(value)
        elif key in params:
            raise ValueError("repeated parameter")  # let the route decide what a repeat means
        else:
            params[key] = value
    return params


def _segments(path: str) -> list[str]:
    return path.split("/")[1:]


_COMPILED = tuple((_segments(read.path), read) for read in TABLE)


def match(path: str) -> tuple[Read, dict[str, str]] | None:
    """The passthrough read a path (under ``/api``) names, with its path parameters."""
    parts = _segments(path)
    for pattern, read in _COMPILED:
        params: dict[str, str] = {}
        for index, segment in enumerate(pattern):
            if segment.endswith(":rest}"):
                rest = "/".join(parts[index:])
                if rest:
                    params[segment[1:-6]] = rest
                    return read, params
                break
            if index >= len(parts):
                break
            if segment.startswith("{"):
                params[segment[1:-1]] = parts[index]
            elif segment != parts[index]:
                break
        else:
            if len(parts) == len(pattern):
                return read, params
    return None


def answer(reads: Reads[Blob], path: str, query_string: bytes) -> Body[Blob] | None:
    """The answer to a passthrough read, or None when *path* is not one (errors are raised)."""
    found = match(path)
    if found is None:
        return None
    read, params = found
    if query_string and not read.takes_query:
        return None
    return read.answer(reads, params, parse_query(query_string) if query_string else {})


def respond(request: Request, body: Body[Blob]) -> Response:
    """A route's answer with a pre-built body (the same ``render`` the fast path uses)."""
    status, headers, content = render(  # a HEAD arrives here as a GET: the server leaves the body out
        body.payload,
        accept_encoding=request.headers.get("accept-encoding", ""),
        if_none_match=request.headers.get("if-none-match"),
        if_modified_since=request.headers.get("if-modified-since"),
        last_modified=body.last_updated,
    )
    response = Response(content=content, status_code=status)
    for name, value in headers:
        if name != b"content-length":
            response.headers[name.decode()] = value.decode()
    return response
