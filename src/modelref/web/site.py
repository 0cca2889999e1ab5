"""What each page and form of the UI does, in order: read (or change) through the services, then render.

A route hands ``Site`` who is looking and its typed inputs and gets back a ``Page`` (HTML with a status) or a
``Redirect``; the services are the API's own, so the UI has no second path to the data and never calls
the API over HTTP. Errors the services raise become pages with the status the API would answer.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio.to_thread
import orjson
from pydantic import ValidationError

from modelref.domain.audit import ChangeStatus, Operation
from modelref.domain.categories import Category
from modelref.domain.changes import ChangeFilter
from modelref.domain.formats import Format
from modelref.domain.info import ReplicaStatus
from modelref.domain.query import SearchParams, SearchQuery
from modelref.domain.queue import ApplyPendingChangeRequest, PendingBatchRequest
from modelref.domain.risk import DeletionRiskParams, RiskPreset
from modelref.domain.sessions import WebSession
from modelref.domain.usage import HORDE_KINDS, PopularParams, PopularSort
from modelref.errors import InvalidBody, ModelRefError, Unauthorized
from modelref.services.apply import Applier
from modelref.services.auth import Auth, Authorizer, Role
from modelref.services.history import History
from modelref.services.live import Live
from modelref.services.proposals import Proposal, Proposals
from modelref.services.reads import Reads
from modelref.services.review import Review
from modelref.services.sessions import Sessions
from modelref.services.textutils import TextTools
from modelref.web.pages import RISK_PAGE, Browse, CategoryRow, Pages, Viewer, field_errors

log = logging.getLogger(__name__)

LIST_FILTERS = ("tags_any", "tags_all", "tags_none")
MAX_DRAFT = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Page:
    html: str
    status: int = 200


@dataclass(frozen=True, slots=True)
class Redirect:
    location: str


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A sign-in that worked: the cookie's token and where to go."""

    token: str
    location: str


Outcome = Page | Redirect


class Site:
    def __init__(
        self,
        *,
        reads: Reads[Any],
        live: Live,
        text: TextTools,
        history: History,
        review: Review,
        proposals: Proposals,
        applier: Applier,
        auth: Auth,
        sessions: Sessions,
        replica: Callable[[], ReplicaStatus] | None,
        status_of: Callable[[ModelRefError], int],
    ) -> None:
        self.reads = reads
        self.live = live
        self.text = text
        self.history = history
        self.review = review
        self.proposals = proposals
        self.applier = applier
        self.auth = auth
        self.sessions = sessions
        self.replica = replica
        self.status_of = status_of
        self.pages = Pages()

    def viewer(self, session: WebSession | None, csrf: str, path: str) -> Viewer:
        deployment = self.reads.deployment
        return Viewer(session, csrf, deployment, self.replica() if self.replica else None, path)

    def visit(self, token: str | None, csrf_cookie: str | None, path: str) -> tuple[Viewer, str | None]:
        """Who is looking, from the cookies: the session a token names, and the CSRF token forms carry (the
        session's, or before sign-in the cookie's; a new one, returned second, when there is none)."""
        session = self.sessions.find(token)
        if session is not None:
            return self.viewer(session, session.csrf, path), None
        if csrf_cookie and 32 <= len(csrf_cookie) <= 128:
            return self.viewer(None, csrf_cookie, path), None
        fresh = secrets.token_urlsafe(32)
        return self.viewer(None, fresh, path), fresh

    def _no_category(self, viewer: Viewer, name: str) -> Page:
        return Page(self.pages.error(viewer, 404, f"There is no model category '{name[:80]}'."), 404)

    def _error(self, viewer: Viewer, error: ModelRefError) -> Page:
        status = self.status_of(error)
        return Page(self.pages.error(viewer, status, error.detail), status)

    # -- reading ------------------------------------------------------------------------------------------------

    def home(self, viewer: Viewer) -> Page:
        rows = []
        for category in Category:
            snapshot = self.reads.catalog.get(category)
            rows.append(CategoryRow(category, len(snapshot.hits), snapshot.last_updated, snapshot.received))
        return Page(self.pages.home(viewer, rows))

    def search(self, viewer: Viewer, text: str) -> Page:
        text = text.strip()[:200]
        if not text:
            return Page(self.pages.search(viewer, text, None, None))
        try:
            page = self.reads.search_page(None, SearchQuery(name_contains=text, limit=100))
        except ModelRefError as error:
            return Page(self.pages.search(viewer, text, None, error.detail), self.status_of(error))
        return Page(self.pages.search(viewer, text, page, None))

    def category(self, viewer: Viewer, name: str, query: Mapping[str, list[str]]) -> Page:
        category = _category(name)
        if category is None:
            return self._no_category(viewer, name)
        browse = _browse(query)
        try:
            snapshot = self.reads.snapshot(category)
        except ModelRefError as error:
            return self._error(viewer, error)
        baselines = sorted({hit.baseline for hit in snapshot.hits if hit.baseline})
        page = None
        if browse.error is None:
            try:
                page = self.reads.search_page(category, browse.params.to_query())
            except ModelRefError as error:  # a filter this category does not have
                browse = Browse(browse.params, browse.raw, error.detail)
        status = 200 if browse.error is None else 400
        return Page(self.pages.category(viewer, category, browse, page, baselines=baselines), status)

    async def model(self, viewer: Viewer, name: str, key: str) -> Page:
        category = _category(name)
        if category is None:
            return self._no_category(viewer, name)
        try:
            document = self.reads.document(category, key)
            usage = await self.live.model_usage(category, key)
            group = None
            group_name = document.get("text_model_group")
            if category is Category.TEXT_GENERATION and isinstance(group_name, str) and group_name:
                try:
                    group = self.text.group(group_name)
                except ModelRefError:  # a REPLICA without the structure yet: the page without the group
                    group = None
            session = viewer.session
            history = []
            if session is not None and session.is_approver:  # the audit trail is an approver's, as in the API
                history = await anyio.to_thread.run_sync(self.history.record, category, key)
        except ModelRefError as error:
            return self._error(viewer, error)
        html = self.pages.model(viewer, category, key, document, usage=usage, group=group, history=history)
        return Page(html)

    def group(self, viewer: Viewer, name: str) -> Page:
        try:
            return Page(self.pages.group(viewer, self.text.group(name)))
        except ModelRefError as error:
            return self._error(viewer, error)

    async def statistics(self, viewer: Viewer, name: str) -> Page:
        category = _category(name)
        if category is None:
            return self._no_category(viewer, name)
        try:
            statistics = self.reads.snapshot(category).statistics(grouped=False)
            wanted = PopularParams(limit=20, sort_by=PopularSort.USAGE_MONTH)
            ranking = await self.live.ranking(category, wanted) if category in HORDE_KINDS else None
        except ModelRefError as error:
            return self._error(viewer, error)
        return Page(self.pages.statistics(viewer, statistics, ranking))

    async def risk(self, viewer: Viewer, name: str, preset: str, offset: int, switch_to: str = "") -> Outcome:
        """A page of the deletion-risk table; *switch_to*: the category the form's select asks for."""
        if switch_to and switch_to != name:
            return Redirect(f"/ui/{quote(switch_to)}/deletion-risk" + (f"?preset={quote(preset)}" if preset else ""))
        category = _category(name)
        if category not in HORDE_KINDS:
            message = "Deletion risk is analysed for image_generation and text_generation only."
            return Page(self.pages.error(viewer, 404, message), 404)
        assert category is not None
        chosen = next((p for p in RiskPreset if p.value == preset), None)
        if preset and chosen is None:
            return Page(self.pages.risk(viewer, category, None, None, f"Unknown preset '{preset[:80]}'."), 400)
        try:
            params = DeletionRiskParams(preset=preset or None, limit=RISK_PAGE, offset=max(0, offset))
            report = await self.live.risk_report(category, params)
        except ModelRefError as error:
            return Page(self.pages.risk(viewer, category, chosen, None, error.detail), self.status_of(error))
        return Page(self.pages.risk(viewer, category, chosen, report, None))

    def health(self, viewer: Viewer, kind: str, offset: int) -> Page:
        try:
            health = self.text.health()
        except ModelRefError as error:
            return self._error(viewer, error)
        return Page(self.pages.health(viewer, health, kind or None, offset))

    # -- signing in ---------------------------------------------------------------------------------------------

    def signin_form(self, viewer: Viewer, next_path: str, message: str | None = None, status: int = 200) -> Page:
        if not viewer.writable:
            return Page(self.pages.read_only(viewer, "Signing in"))
        return Page(self.pages.signin(viewer, message, _local(next_path)), status)

    def signin(self, viewer: Viewer, apikey: str, next_path: str, *, replacing: str | None) -> SignedIn | Page:
        """Check the key and open a session (closing the one *replacing* names); the form again when refused."""
        if not viewer.writable:
            return Page(self.pages.read_only(viewer, "Signing in"))
        apikey = apikey.strip()
        if not apikey or len(apikey) > 200:
            return self.signin_form(viewer, next_path, "Enter your AI-Horde API key.", 400)
        try:
            token = self.sessions.open(apikey)
        except Unauthorized as error:
            return self.signin_form(viewer, next_path, error.detail, 401)
        except ModelRefError as error:
            return self.signin_form(viewer, next_path, error.detail, self.status_of(error))
        self.sessions.close(replacing)
        return SignedIn(token, _local(next_path))

    def signout(self, token: str | None) -> Redirect:
        self.sessions.close(token)
        return Redirect("/")

    # -- the review queue ---------------------------------------------------------------------------------------

    def _caller(self, viewer: Viewer, role: Role, what: str) -> Authorizer | Page:
        """The signed-in caller with *role*, or the page to show instead: read-only on a REPLICA, else the
        sign-in form (200), saying which role is missing when someone without it is signed in."""
        if not viewer.writable:
            return Page(self.pages.read_only(viewer, what))
        session = viewer.session
        has_role = session is not None and (session.is_approver if role is Role.APPROVER else session.is_requestor)
        if session is None or not has_role:
            missing = f"{what} needs the {role.value} role; {session.username} does not have it." if session else None
            return self.signin_form(viewer, viewer.path, missing)
        return Authorizer(self.auth, session.apikey, role, Format.V2)

    def queue(self, viewer: Viewer, status: str) -> Page:
        caller = self._caller(viewer, Role.APPROVER, "The review queue")
        if isinstance(caller, Page):
            return caller
        wanted = next((s for s in ChangeStatus if s.value == status), ChangeStatus.PENDING)
        try:
            page = self.review.changes(caller, ChangeFilter(statuses=[wanted]), 0, 500)
        except ModelRefError as error:
            return self._error(viewer, error)
        return Page(self.pages.queue(viewer, page.items, wanted))

    def change(self, viewer: Viewer, change_id: int, message: str | None = None, status: int = 200) -> Page:
        caller = self._caller(viewer, Role.APPROVER, "Reviewing a change")
        if isinstance(caller, Page):
            return caller
        try:
            change = self.review.change(caller, change_id)
            diff = self.review.diff(caller, change_id)
        except ModelRefError as error:
            return self._error(viewer, error)
        return Page(self.pages.change(viewer, change, diff, message), status)

    def decide(self, viewer: Viewer, change_id: int, *, approve: bool, text: str) -> Outcome:
        caller = self._caller(viewer, Role.APPROVER, "Reviewing a change")
        if isinstance(caller, Page):
            return caller
        try:
            if approve:
                request = PendingBatchRequest(batch_title=text[:120] or f"Change {change_id}", approved_ids=[change_id])
            else:
                request = PendingBatchRequest(
                    batch_title=f"Rejected change {change_id}", rejected_ids=[change_id], reject_reason=text[:500]
                )
        except ValidationError as error:
            return self.change(viewer, change_id, _first_message(error), 400)
        try:
            self.review.decide(caller, request)
        except ModelRefError as error:
            return self.change(viewer, change_id, error.detail, self.status_of(error))
        return Redirect(f"/ui/review/{change_id}")

    def apply(self, viewer: Viewer, change_id: int, job_id: str) -> Outcome:
        caller = self._caller(viewer, Role.APPROVER, "Applying a change")
        if isinstance(caller, Page):
            return caller
        try:
            request = ApplyPendingChangeRequest(job_id=job_id[:120] or None)
            self.applier.apply_one(caller, change_id, request)
        except ValidationError as error:
            return self.change(viewer, change_id, _first_message(error), 400)
        except ModelRefError as error:
            return self.change(viewer, change_id, error.detail, self.status_of(error))
        return Redirect(f"/ui/review/{change_id}")

    # -- proposing ----------------------------------------------------------------------------------------------

    def propose_form(self, viewer: Viewer, name: str, editing: str) -> Page:
        category = _category(name)
        if category is None:
            return self._no_category(viewer, name)
        caller = self._caller(viewer, Role.REQUESTOR, "Proposing a change")
        if isinstance(caller, Page):
            return caller
        if editing:
            try:
                draft = orjson.dumps(self.reads.document(category, editing), option=orjson.OPT_INDENT_2).decode()
            except ModelRefError as error:
                return self._error(viewer, error)
        else:
            draft = orjson.dumps({"name": "", "record_type": category.value}, option=orjson.OPT_INDENT_2).decode()
        return Page(self.pages.propose(viewer, category, draft, editing=editing or None))

    def propose(self, viewer: Viewer, name: str, draft: str, editing: str) -> Outcome:
        category = _category(name)
        if category is None:
            return self._no_category(viewer, name)
        caller = self._caller(viewer, Role.REQUESTOR, "Proposing a change")
        if isinstance(caller, Page):
            return caller
        editing = editing or ""
        if len(draft) > MAX_DRAFT:
            message = "The record is larger than a mebibyte; no model record is that large."
            return Page(
                self.pages.propose(viewer, category, draft[:2000], editing=editing or None, message=message), 413
            )
        try:
            body = orjson.loads(draft)
        except orjson.JSONDecodeError as error:
            problems = [{"loc": ["record"], "msg": f"Not valid JSON: {error}"}]
            errors = field_errors(problems)
            return Page(self.pages.propose(viewer, category, draft, editing=editing or None, errors=errors), 422)
        operation = Operation.UPDATE if editing else Operation.CREATE
        proposal = Proposal(Format.V2, category, operation, f"ui_{operation.value}", body, editing or None)
        try:
            change = self.proposals.propose(proposal, caller)
        except InvalidBody as error:
            errors = field_errors(error.problems)
            return Page(self.pages.propose(viewer, category, draft, editing=editing or None, errors=errors), 422)
        except ModelRefError as error:
            status = self.status_of(error)
            page = self.pages.propose(viewer, category, draft, editing=editing or None, message=error.detail)
            return Page(page, status)
        if viewer.session is not None and viewer.session.is_approver:
            return Redirect(f"/ui/review/{change.change_id}")
        return Page(self.pages.queued(viewer, change), 202)


def _category(name: str) -> Category | None:
    return next((c for c in Category if c.value == name), None)


def _browse(query: Mapping[str, list[str]]) -> Browse:
    """The browser's form from the URL: blank fields left out, tag lists comma-separated; refused parameters
    name what is wrong."""
    raw: dict[str, str | list[str]] = {}
    values: dict[str, Any] = {}
    for key, given in query.items():
        if key in LIST_FILTERS:
            tags = [t.strip() for part in given for t in part.split(",") if t.strip()]
            raw[key] = ",".join(tags)
            if tags:
                values[key] = tags
            continue
        text = given[-1] if given else ""
        raw[key] = text
        if text.strip():
            values[key] = text.strip()
    values.setdefault("limit", 50)
    try:
        return Browse(SearchParams.model_validate(values), raw)
    except ValidationError as error:
        return Browse(SearchParams(), raw, _first_message(error))


def _first_message(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))


def _local(path: str) -> str:
    """*path* when it is a path on this site, else the start page (no open redirect)."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or len(path) > 2000:
        return "/"
    return quote(path, safe="/?=&%:+,;@-._~")
