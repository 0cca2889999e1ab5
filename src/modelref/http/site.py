"""The web UI's routes: cookies, CSRF tokens and security headers; everything else is ``web.Site``'s.

The session cookie holds a random token only (``HttpOnly``, ``SameSite=Strict``; ``Secure`` over HTTPS); the
key stays on the server. Every form that changes something carries a CSRF token: the session's, or before
sign-in one kept in a cookie of its own. UI pages carry a Content-Security-Policy without inline scripts or
styles; the API docs keep theirs.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Form, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from modelref.domain.queue import MAX_ID
from modelref.http.deps import ServicesDep, services_of
from modelref.services.sessions import LIFETIME
from modelref.web.pages import Viewer
from modelref.web.site import Outcome, Page, Redirect, SignedIn, Site

SESSION_COOKIE = "modelref_session"
CSRF_COOKIE = "modelref_csrf"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
STATIC = FilePath(__file__).resolve().parents[1] / "web" / "static"

PREFIX = "/ui"
router = APIRouter(prefix=PREFIX, include_in_schema=False)
log = logging.getLogger(__name__)
Text = Annotated[str, Form(max_length=1_100_000)]
Short = Annotated[str, Form(max_length=2_000)]
Token = Annotated[str, Form(max_length=200)]
"""A form's CSRF token (missing: refused like a wrong one, 403)."""
ChangeId = Annotated[int, Path(ge=1, le=MAX_ID)]


def install(api: FastAPI) -> None:
    """Errors on the UI's paths as pages (with the UI's headers); the API keeps its JSON errors. Call after
    ``errors.install``: the API's handlers answer everything else."""
    for kind in (RequestValidationError, StarletteHTTPException, Exception):
        api_handler = api.exception_handlers[kind]

        async def handler(request: Request, error: Exception, api_handler: Any = api_handler) -> Response:
            if not is_ui(request.scope):
                answer: Response = await api_handler(request, error)
                return answer
            return _error_page(request, error)

        api.add_exception_handler(kind, handler)


def _error_page(request: Request, error: Exception) -> Response:
    if isinstance(error, RequestValidationError):
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
        status, message = 422, f"{where or 'request'}: {str(first.get('msg', 'invalid'))[:200]}"
    elif isinstance(error, StarletteHTTPException):
        status, message = error.status_code, "There is no such page." if error.status_code == 404 else str(error.detail)
    else:
        log.exception("unexpected error on %s", request.url.path)
        status, message = 500, "Something went wrong on our side; try again, and tell the operators if it persists."
    services = services_of(request.app.state)
    if services is None:
        return HTMLResponse(message, status_code=503)
    viewer = services.site.viewer(None, "", request.url.path)
    visit = Visit(viewer, services.site, None)
    return respond(request, visit, Page(services.site.pages.error(viewer, status, message), status))


def is_ui(scope: Scope) -> bool:
    """Whether a request is for the UI: ``/ui…`` or ``/static/…``, not under ``/api`` (where the UI is not
    served: only the API is)."""
    path = str(scope.get("path", ""))
    return not scope.get("root_path") and (path == PREFIX or path.startswith((PREFIX + "/", "/static/")))


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC)


def wants_html(request: Request) -> bool:
    """A browser asking for the start page (not through ``/api``, which keeps its JSON answer)."""
    return not request.scope.get("root_path") and "text/html" in request.headers.get("accept", "")


@dataclass(frozen=True, slots=True)
class Visit:
    """Who is looking, and the pre-sign-in CSRF token to set when there was none."""

    viewer: Viewer
    site: Site
    new_csrf: str | None


def _visit(request: Request, site: Site) -> Visit:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    viewer, new_csrf = site.visit(request.cookies.get(SESSION_COOKIE), request.cookies.get(CSRF_COOKIE), path)
    return Visit(viewer, site, new_csrf)


async def visit(request: Request, services: ServicesDep) -> Visit:
    if request.scope.get("root_path"):  # /api/ui/…: the API's, which has no such route
        raise StarletteHTTPException(404)
    return await anyio.to_thread.run_sync(_visit, request, services.site)


VisitDep = Annotated[Visit, Depends(visit)]


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def respond(request: Request, visit: Visit, outcome: Outcome) -> Response:
    response: Response
    if isinstance(outcome, Redirect):
        response = RedirectResponse(outcome.location, status_code=303)
    else:
        response = HTMLResponse(outcome.html, status_code=outcome.status)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    if visit.new_csrf is not None:
        response.set_cookie(
            CSRF_COOKIE, visit.new_csrf, httponly=True, samesite="strict", secure=_secure(request), path="/"
        )
    return response


def _forged(visit: Visit, csrf: str) -> bool:
    expected = visit.viewer.csrf
    return visit.new_csrf is not None or not csrf or not hmac.compare_digest(csrf.encode(), expected.encode())


def _refused(request: Request, visit: Visit) -> Response:
    message = "This form has expired or did not come from this site. Reload the page and try again."
    return respond(request, visit, Page(visit.site.pages.error(visit.viewer, 403, message), 403))


async def home(request: Request, services: ServicesDep) -> Response:
    """The start page, for ``/`` when a browser asks."""
    found = await visit(request, services)
    return respond(request, found, found.site.home(found.viewer))


@router.get("")
def start(request: Request, visit: VisitDep) -> Response:
    return respond(request, visit, Redirect("/"))


@router.get("/search")
def search(request: Request, visit: VisitDep, q: Annotated[str, Query(max_length=2_000)] = "") -> Response:
    return respond(request, visit, visit.site.search(visit.viewer, q))


@router.get("/signin")
def signin_form(request: Request, visit: VisitDep, next: Annotated[str, Query(max_length=2_000)] = "/") -> Response:
    return respond(request, visit, visit.site.signin_form(visit.viewer, next))


@router.post("/signin")
def signin(request: Request, visit: VisitDep, apikey: Short = "", csrf: Token = "", next: Short = "/") -> Response:
    if _forged(visit, csrf):
        return _refused(request, visit)
    outcome = visit.site.signin(visit.viewer, apikey, next, replacing=request.cookies.get(SESSION_COOKIE))
    if not isinstance(outcome, SignedIn):
        return respond(request, visit, outcome)
    response = respond(request, visit, Redirect(outcome.location))
    response.set_cookie(
        SESSION_COOKIE,
        outcome.token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
        max_age=int(LIFETIME),
    )
    return response


@router.get("/signout")
def signout_page(request: Request, visit: VisitDep) -> Response:
    """Signing out is a form (POST); a link here goes to the start page, which has it."""
    return respond(request, visit, Redirect("/"))


@router.post("/signout")
def signout(request: Request, visit: VisitDep, csrf: Token = "") -> Response:
    if visit.viewer.session is not None and _forged(visit, csrf):
        return _refused(request, visit)  # a live session ends only from a form of this site
    response = respond(request, visit, visit.site.signout(request.cookies.get(SESSION_COOKIE)))
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request))
    return response


@router.get("/review")
def queue(request: Request, visit: VisitDep, status: Annotated[str, Query(max_length=40)] = "pending") -> Response:
    return respond(request, visit, visit.site.queue(visit.viewer, status))


@router.get("/review/{change_id}")
def change(request: Request, visit: VisitDep, change_id: ChangeId) -> Response:
    return respond(request, visit, visit.site.change(visit.viewer, change_id))


@router.post("/review/{change_id}/approve")
def approve(
    request: Request, visit: VisitDep, change_id: ChangeId, csrf: Token = "", batch_title: Short = ""
) -> Response:
    if _forged(visit, csrf):
        return _refused(request, visit)
    return respond(request, visit, visit.site.decide(visit.viewer, change_id, approve=True, text=batch_title))


@router.post("/review/{change_id}/reject")
def reject(request: Request, visit: VisitDep, change_id: ChangeId, csrf: Token = "", reason: Short = "") -> Response:
    if _forged(visit, csrf):
        return _refused(request, visit)
    return respond(request, visit, visit.site.decide(visit.viewer, change_id, approve=False, text=reason))


@router.post("/review/{change_id}/apply")
def apply(request: Request, visit: VisitDep, change_id: ChangeId, csrf: Token = "", job_id: Short = "") -> Response:
    if _forged(visit, csrf):
        return _refused(request, visit)
    return respond(request, visit, visit.site.apply(visit.viewer, change_id, job_id))


@router.get("/propose/{category}")
def propose_form(
    request: Request, visit: VisitDep, category: str, name: Annotated[str, Query(max_length=2_000)] = ""
) -> Response:
    return respond(request, visit, visit.site.propose_form(visit.viewer, category, name))


@router.post("/propose/{category}")
def propose(
    request: Request, visit: VisitDep, category: str, record: Text = "", csrf: Token = "", editing: Short = ""
) -> Response:
    if _forged(visit, csrf):
        return _refused(request, visit)
    return respond(request, visit, visit.site.propose(visit.viewer, category, record, editing))


@router.get("/text_generation/groups/health")
def health(
    request: Request,
    visit: VisitDep,
    issue_type: Annotated[str, Query(max_length=80)] = "",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    return respond(request, visit, visit.site.health(visit.viewer, issue_type, offset))


@router.get("/text_generation/group/{name:path}")
def group(request: Request, visit: VisitDep, name: str) -> Response:
    return respond(request, visit, visit.site.group(visit.viewer, name))


@router.get("/{category}/model/{name:path}")
async def model(request: Request, visit: VisitDep, category: str, name: str) -> Response:
    return respond(request, visit, await visit.site.model(visit.viewer, category, name))


@router.get("/{category}/statistics")
async def statistics(request: Request, visit: VisitDep, category: str) -> Response:
    return respond(request, visit, await visit.site.statistics(visit.viewer, category))


@router.get("/{category}/deletion-risk")
async def risk(
    request: Request,
    visit: VisitDep,
    category: str,
    preset: Annotated[str, Query(max_length=80)] = "",
    chosen: Annotated[str, Query(alias="category", max_length=80)] = "",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    return respond(request, visit, await visit.site.risk(visit.viewer, category, preset, offset, switch_to=chosen))


@router.get("/{category}")
def category(request: Request, visit: VisitDep, category: str) -> Response:
    query: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        query.setdefault(key, []).append(value)
    return respond(request, visit, visit.site.category(visit.viewer, category, query))
