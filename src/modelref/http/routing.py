"""How routes are made: strict JSON bodies, path convertors, and the category parsed at the edge.

- Request bodies are parsed with orjson: ``NaN``, ``Infinity``, ``1e999`` and lone surrogates are
  refused as invalid JSON (422) instead of reaching a record (and the database) as values no JSON
  document can hold.
- ``{model_name:name}`` is a path parameter that may contain ``/`` but is never empty, so
  ``…/model`` and ``…/model/`` are plain 404s, not redirects.
- ``{model_category_name:unclaimed}`` matches a segment that is not one of the literal v2 routes, for the
  catch-all that answers an unknown category on POST with 422 rather than 405.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any

import anyio.to_thread
import orjson
from anyio import CapacityLimiter
from anyio.lowlevel import RunVar
from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from starlette.convertors import PathConvertor, StringConvertor, register_url_convertor

from modelref.domain.categories import Category, parse_category
from modelref.domain.inputs import shown
from modelref.errors import NotFound, UnknownCategory


class _NameConvertor(PathConvertor):
    regex = ".+"


class _UnclaimedConvertor(StringConvertor):
    regex = "(?!(?:info|model_categories|search|metadata|pending_queue|me)$)[^/]+"


register_url_convertor("name", _NameConvertor())
register_url_convertor("unclaimed", _UnclaimedConvertor())


class _StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())  # orjson.JSONDecodeError is a json.JSONDecodeError
        return self._json


class StrictJsonRoute(APIRoute):
    """A route whose JSON body is parsed strictly (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictJsonRequest(request.scope, request.receive))

        return strict


AUTHENTICATED_THREADS = 16
"""The most threads the routes that may wait on the AI-Horde occupy at once."""
_authenticated: RunVar[CapacityLimiter] = RunVar("modelref_authenticated_threads")


def _limiter() -> CapacityLimiter:
    try:
        return _authenticated.get()
    except LookupError:
        limiter = CapacityLimiter(AUTHENTICATED_THREADS)
        _authenticated.set(limiter)
        return limiter


def _off_the_read_pool(endpoint: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    @functools.wraps(endpoint)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await anyio.to_thread.run_sync(functools.partial(endpoint, *args, **kwargs), limiter=_limiter())

    return run


class AuthenticatedRoute(StrictJsonRoute):
    """A route whose service may wait on the AI-Horde (to resolve a key). Its blocking work runs on
    threads of its own, at most ``AUTHENTICATED_THREADS`` at once, so a slow or hung AI-Horde never
    leaves the read routes without a thread."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _off_the_read_pool(endpoint)
        super().__init__(path, endpoint, **kwargs)


def api_router(prefix: str, tags: list[str], *, authenticated: bool = False, **kwargs: Any) -> APIRouter:
    """An APIRouter whose routes parse JSON strictly (and, when *authenticated*, keep off the read pool)."""
    route_class = AuthenticatedRoute if authenticated else StrictJsonRoute
    return APIRouter(prefix=prefix, tags=list(tags), route_class=route_class, **kwargs)


VALID = ", ".join(c.value for c in Category)


def known_category(name: str) -> Category:
    """A category named in a path where an unknown one is simply not found (v2 category reads, 404)."""
    category = parse_category(name)
    if category is None:
        raise NotFound(f"Model category '{shown(name)}' not found. Valid categories: {VALID}")
    return category


def searchable_category(name: str) -> Category:
    """A category named by a search or popularity route (unknown: 422 naming the valid ones)."""
    category = parse_category(name)
    if category is None:
        raise UnknownCategory(f"Unknown category '{shown(name)}'. Valid: {[c.value for c in Category]}")
    return category


_V1_ALIASES = {"stable_diffusion": Category.IMAGE_GENERATION, "db": Category.TEXT_GENERATION}


def legacy_category(name: str) -> Category:
    """A v1 category spelling: any category name, ``stable_diffusion``, ``db``, with or without ``.json``
    (unknown: 422 in the legacy API's words)."""
    stem = name.removesuffix(".json")
    category = _V1_ALIASES.get(stem) or parse_category(stem)
    if category is None:
        raise UnknownCategory(
            f"Invalid model category: '{shown(name)}'. '{shown(name)}' is not a valid MODEL_REFERENCE_CATEGORY"
        )
    return category
