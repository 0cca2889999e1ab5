"""The UI's pages as HTML: each renders a template from who is looking (``Viewer``) and the typed answers
``Site`` gathered from the services. Every value from the data reaches the page through Jinja2's autoescaping.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import orjson
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from modelref.domain.audit import ChangeStatus
from modelref.domain.audit_views import RecordChange
from modelref.domain.categories import Category
from modelref.domain.changes import FieldDiff, PendingChangeDiff, PendingChangeRecord
from modelref.domain.convert import has_legacy_format, legacy_view
from modelref.domain.deployment import Deployment
from modelref.domain.info import ReplicaStatus
from modelref.domain.query import SearchPage, SearchParams, record_fields
from modelref.domain.records import RECORD_CLASSES
from modelref.domain.risk import CategoryDeletionRiskResponse, RiskPreset
from modelref.domain.sessions import WebSession
from modelref.domain.statistics import CategoryStatistics
from modelref.domain.textgroups import GroupHealthResponse, GroupMembersResponse
from modelref.domain.usage import HORDE_KINDS, CombinedModelStatistics, PopularModelResult
from modelref.errors import ModelRefError
from modelref.web.charts import bar_chart, split_bar

COLUMNS = (
    "baseline",
    "nsfw",
    "type",
    "style",
    "version",
    "parameters",
    "text_model_group",
    "inpainting",
    "size_on_disk_bytes",
)
"""Record fields a category's table shows, in this order, where its record type has them."""
PAGE_SIZES = (25, 50, 100, 200)
HEALTH_PAGE = 100
RISK_PAGE = 100


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking and where: the session (None: signed out), the token forms carry, the deployment."""

    session: WebSession | None
    csrf: str
    deployment: Deployment
    replica: ReplicaStatus | None = None
    path: str = "/"

    @property
    def writable(self) -> bool:
        return self.deployment.writable


@dataclass(frozen=True, slots=True)
class Browse:
    """The category browser's form as the URL gives it: the search parameters, or why they are refused."""

    params: SearchParams
    raw: Mapping[str, str | list[str]] = field(default_factory=dict)
    error: str | None = None


def _segment(name: str) -> str:
    """*name* as one path segment: '/' encoded too, so a browser never resolves '.' or '..' inside a name."""
    return quote(name, safe="")


def model_url(category: Category | str, name: str) -> str:
    return f"/ui/{Category(category).value}/model/{_segment(name)}"


def group_url(name: str) -> str:
    return f"/ui/text_generation/group/{_segment(name)}"


def _link(value: Any) -> str | None:
    """*value* when it is a web address a link may point to (http or https), else None: a ``javascript:``
    URL from the data is shown as text, never linked."""
    if not isinstance(value, str):
        return None
    return value if urlsplit(value.strip()).scheme.lower() in ("http", "https") else None


def _size(value: Any) -> str:
    if not isinstance(value, int | float) or value <= 0:
        return ""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return ""


def _when(value: float | int | None) -> str:
    if not value:
        return "—"
    return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M UTC")


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, list | dict):
        return _json(value) if isinstance(value, dict) else ", ".join(str(v) for v in value)
    return str(value)


class Pages:
    """Renders every page; one per app."""

    def __init__(self) -> None:
        self.env = Environment(
            loader=PackageLoader("modelref.web", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(size=_size, when=_when, json=_json, cell=_cell, link=_link)
        self.env.globals.update(model_url=model_url, group_url=group_url)
        for name in self.env.list_templates(extensions=["html"]):
            self.env.get_template(name)  # compiled at start-up, not by a visitor's first request

    def render(self, template: str, viewer: Viewer, **context: Any) -> str:
        return self.env.get_template(template).render(viewer=viewer, **context)

    # -- reading ------------------------------------------------------------------------------------------------

    def home(self, viewer: Viewer, rows: Sequence[CategoryRow]) -> str:
        return self.render("home.html", viewer, rows=rows, title="Model reference")

    def search(self, viewer: Viewer, query: str, page: SearchPage | None, error: str | None) -> str:
        return self.render("search.html", viewer, query=query, page=page, error=error, title=f"Search: {query}")

    def category(
        self, viewer: Viewer, category: Category, browse: Browse, page: SearchPage | None, baselines: Sequence[str]
    ) -> str:
        record_type = RECORD_CLASSES[category]
        fields = record_fields(record_type)
        hits = page.hits if page is not None else []
        columns = [c for c in COLUMNS if c in fields and any(h.document.get(c) not in (None, "", []) for h in hits)]
        params = browse.params
        raw = {k: v for k, v in browse.raw.items() if v not in ("", [])}

        def link(**changes: Any) -> str:
            merged: dict[str, Any] = {**raw, **changes}
            merged = {k: v for k, v in merged.items() if v not in (None, "", [], False)}
            return f"/ui/{category.value}?" + urlencode(merged, doseq=True)

        return self.render(
            "category.html",
            viewer,
            title=category.value,
            category=category,
            columns=columns,
            sortable=sorted(fields),
            params=params,
            raw=browse.raw,
            error=browse.error,
            page=page,
            link=link,
            page_sizes=PAGE_SIZES,
            text=category is Category.TEXT_GENERATION,
            image=category is Category.IMAGE_GENERATION,
            usage_supported=category in HORDE_KINDS,
            baselines=baselines,
        )

    def model(
        self,
        viewer: Viewer,
        category: Category,
        key: str,
        document: Mapping[str, Any],
        *,
        usage: CombinedModelStatistics | None,
        group: GroupMembersResponse | None,
        history: Sequence[RecordChange],
    ) -> str:
        legacy: Any = None
        if has_legacy_format(category):
            try:
                legacy = legacy_view(category, key, dict(document))
            except ModelRefError as error:
                legacy = {"error": error.detail}
        config = document.get("config")
        downloads = config.get("download", []) if isinstance(config, Mapping) else []
        return self.render(
            "model.html",
            viewer,
            title=key,
            category=category,
            key=key,
            document=document,
            fields=[(k, v) for k, v in document.items() if k not in ("config", "description")],
            downloads=[d for d in downloads if isinstance(d, Mapping)],
            legacy=legacy,
            usage=usage,
            usage_supported=category in HORDE_KINDS,
            group=group,
            history=history,
        )

    def group(self, viewer: Viewer, group: GroupMembersResponse) -> str:
        return self.render("group.html", viewer, title=f"Group {group.group_name}", group=group)

    def statistics(
        self, viewer: Viewer, statistics: CategoryStatistics, ranking: list[PopularModelResult] | None
    ) -> str:
        category = statistics.category
        charts: list[Chart] = []
        baselines = [(s.baseline, s.count) for s in statistics.baseline_distribution.values()]
        baselines.sort(key=lambda row: (-row[1], row[0]))
        charts.append(Chart("Models per baseline", bar_chart("Models per baseline", baselines), baselines))
        split: list[tuple[str, Any]] = [("SFW", statistics.sfw_count), ("NSFW", statistics.nsfw_count)]
        charts.append(Chart("NSFW and SFW models", split_bar("NSFW and SFW models", split), split))
        for title, found in (("Styles", statistics.top_styles), ("Most used tags", statistics.top_tags)):
            if found:
                rows = [(s.tag, s.count) for s in found]
                charts.append(Chart(title, bar_chart(title, rows), rows))
        buckets = [(b.bucket_label, b.count) for b in statistics.parameter_buckets if b.count]
        if buckets:
            charts.append(
                Chart("Models per parameter count", bar_chart("Models per parameter count", buckets), buckets)
            )
        hosts = sorted(statistics.download_stats.hosts.items(), key=lambda row: (-row[1], row[0]))
        if hosts:
            charts.append(Chart("Download hosts", bar_chart("Download hosts", hosts), hosts))
        usage_chart = None
        if ranking:
            used = [(r.name, r.stats.usage_stats.month if r.stats.usage_stats else 0) for r in ranking]
            title = "Requests this month, the 20 most used models"
            usage_chart = Chart(title, bar_chart(title, used, href=lambda name: model_url(category, name)), used)
        return self.render(
            "statistics.html",
            viewer,
            title=f"{category.value} statistics",
            category=category,
            statistics=statistics,
            charts=charts,
            usage_chart=usage_chart,
            usage_supported=category in HORDE_KINDS,
        )

    def risk(
        self,
        viewer: Viewer,
        category: Category,
        preset: RiskPreset | None,
        report: CategoryDeletionRiskResponse | None,
        error: str | None,
    ) -> str:
        def link(at: int) -> str:
            return f"/ui/{category.value}/deletion-risk?" + urlencode({"preset": preset or "", "offset": at})

        return self.render(
            "risk.html",
            viewer,
            link=link,
            page_size=RISK_PAGE,
            title=f"{category.value} deletion risk",
            category=category,
            preset=preset,
            presets=list(RiskPreset),
            report=report,
            error=error,
            categories_with_usage=list(HORDE_KINDS),
        )

    def health(self, viewer: Viewer, health: GroupHealthResponse, kind: str | None, offset: int) -> str:
        issues = [i for i in health.issues if kind is None or i.issue_type == kind]
        offset = max(0, min(offset, len(issues)))

        def link(at: int) -> str:
            return "/ui/text_generation/groups/health?" + urlencode({"issue_type": kind or "", "offset": at})

        return self.render(
            "health.html",
            viewer,
            title="Text group health",
            health=health,
            issues=issues[offset : offset + HEALTH_PAGE],
            total=len(issues),
            offset=offset,
            page_size=HEALTH_PAGE,
            link=link,
            kind=kind,
            kinds=sorted(health.issue_counts_by_type),
        )

    # -- writing ------------------------------------------------------------------------------------------------

    def signin(self, viewer: Viewer, message: str | None, next_path: str) -> str:
        return self.render("signin.html", viewer, title="Sign in", message=message, next_path=next_path)

    def read_only(self, viewer: Viewer, what: str) -> str:
        return self.render("read_only.html", viewer, title="Read-only", what=what)

    def queue(self, viewer: Viewer, changes: Sequence[PendingChangeRecord], status: ChangeStatus) -> str:
        batches: dict[int | None, list[PendingChangeRecord]] = {}
        for change in changes:
            batches.setdefault(change.batch_id, []).append(change)
        return self.render(
            "queue.html",
            viewer,
            title="Review queue",
            changes=changes,
            batches=batches,
            status=status,
            statuses=list(ChangeStatus),
        )

    def change(
        self,
        viewer: Viewer,
        change: PendingChangeRecord,
        diff: PendingChangeDiff,
        message: str | None = None,
    ) -> str:
        rows = _side_by_side(diff.current_state, diff.proposed_state, diff.field_diffs)
        return self.render(
            "change.html",
            viewer,
            title=f"Change {change.change_id}",
            change=change,
            diff=diff,
            rows=rows,
            message=message,
            job_id=f"ui-{change.change_id}-{int(time.time())}",
        )

    def propose(
        self,
        viewer: Viewer,
        category: Category,
        draft: str,
        *,
        editing: str | None,
        errors: Sequence[FieldError] = (),
        message: str | None = None,
    ) -> str:
        annotated: list[tuple[str, str, list[str]]] = []
        if errors:
            try:
                parsed = orjson.loads(draft)
            except orjson.JSONDecodeError:
                parsed = None
            by_field: dict[str, list[str]] = {}
            for error in errors:
                by_field.setdefault(error.field.split(".", 1)[0], []).append(error.message)
            if isinstance(parsed, dict):
                annotated = [(k, _json(v), by_field.pop(k, [])) for k, v in parsed.items()]
            annotated += [(k, "(missing)", messages) for k, messages in by_field.items()]
        return self.render(
            "propose.html",
            viewer,
            annotated=annotated,
            title=f"Propose {'an edit of ' + editing if editing else 'a new ' + category.value + ' record'}",
            category=category,
            draft=draft,
            editing=editing,
            errors=errors,
            message=message,
        )

    def queued(self, viewer: Viewer, change: PendingChangeRecord) -> str:
        return self.render("queued.html", viewer, title=f"Change {change.change_id} queued", change=change)

    def error(self, viewer: Viewer, status: int, message: str) -> str:
        return self.render("error.html", viewer, title=f"Error {status}", status=status, message=message)


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart with its title (shown as its caption) and the numbers it draws (shown in a table beside it)."""

    title: str
    svg: Markup
    rows: list[tuple[str, Any]]


@dataclass(frozen=True, slots=True)
class CategoryRow:
    """A category on the home page."""

    category: Category
    count: int
    last_updated: float | None
    received: bool


@dataclass(frozen=True, slots=True)
class FieldError:
    """A validation error as the propose form shows it: where, and what is wrong."""

    field: str
    message: str


@dataclass(frozen=True, slots=True)
class DiffRow:
    """One line of the side-by-side diff: a field, its current and proposed value, and how it changed."""

    field: str
    current: str
    proposed: str
    change: str


def _side_by_side(current: Mapping[str, Any] | None, proposed: Any, diffs: Sequence[FieldDiff]) -> list[DiffRow]:
    """Every top-level field of either side; changed ones marked (the diff's leaves name their top field)."""
    changed = {d.field_path.split(".", 1)[0]: d.change_type.value for d in diffs}
    before = dict(current or {})
    after = dict(proposed) if isinstance(proposed, Mapping) else {}
    rows = []
    for key in dict.fromkeys([*before, *after]):
        rows.append(
            DiffRow(
                field=key,
                current="" if key not in before else _json(before[key]),
                proposed="" if key not in after else _json(after[key]),
                change=changed.get(key, ""),
            )
        )
    return rows


def field_errors(errors: Sequence[Mapping[str, Any]]) -> list[FieldError]:
    """pydantic's errors as the form shows them: the field path (``body`` left out) and the message."""
    found = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        found.append(FieldError(".".join(location) or "(record)", str(error.get("msg", "invalid"))))
    return found
