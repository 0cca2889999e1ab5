"""The web UI's pages on the real data: what each costs to make inside the server process.

    .venv/bin/python bench/web.py [--requests 50]

The service runs in this process, as the browser tests run it (tests/browser/conftest.py): the reference data
(../shared/reference-data) imported into a fresh SQLite file (tests/support.py: seed_database), a PRIMARY with
a fake AI-Horde (a ThreadingHTTPServer on 127.0.0.1, tests/support.py: FakeHorde, realistic_usage) holding the
requestor and approver keys and serving realistic usage for the real model names (usage cache TTL 3600 s, so
no refresh runs while timing). Everything lives in one temporary directory, removed at the end.

Before timing: a model page of each kind is requested once (other models than the timed ones) and the service
waits until it holds the AI-Horde's status, stats and workers of both kinds and has made its usual live
answers; a change is proposed through the API with the requestor key, and an approver signs in through the
UI's form (the session cookie is kept by that client).

Part 1 — requests through the whole app (the ASGI app with its fast path, FastAPI, the session and CSRF
cookies, the security headers), in this process over httpx.ASGITransport (no sockets): the row's first
request, then the median and p95 of --requests more, in milliseconds (request sent → whole body read), and
the size of the page's HTML. The signed-out rows run after the warm-up above, so "first" is a page's first
render (its template compiled, its search or group made) with the live usage already joined.

Part 2 — the page without HTTP: the ``Site`` method the route calls (app.api.state.services.site), called
directly with a signed-out viewer (``site.viewer(None, "x" * 43, path)``; the approver's session for the review
page): its reads through the services, then the template. Median and p95 of --requests calls, after Part 1.

Part 3 — the template alone: the ``Pages`` method (site.pages) given the inputs Part 2's method gathers, the
same the UI shows (the browser's form as the URL fills it, the first ``RISK_PAGE`` rows of the risk report,
the 20 models with the most requests this month), gathered once beforehand; each page is first checked to be
the Site method's, byte for byte. Median and p95 of --requests calls.

Figures over 30 ms are marked with "!".
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio.to_thread
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.support

from tests.support import (
    KEYS,
    REQUESTOR,
    FakeHorde,
    realistic_usage,
    reference_documents,
    seed_database,
    writable_settings,
)

from modelref.domain.categories import Category
from modelref.domain.formats import Format
from modelref.domain.query import SearchParams
from modelref.domain.risk import DeletionRiskParams, RiskPreset
from modelref.domain.usage import HordeKind, PopularParams, PopularSort
from modelref.http.app import create_app
from modelref.http.deps import Services, services_of
from modelref.http.fastpath import ModelRefApp
from modelref.services.auth import Authorizer, Role
from modelref.web.pages import RISK_PAGE, Browse, CategoryRow, Viewer

V2 = "/api/model_references/v2"
BASE_URL = "http://modelref.test"
MARK_OVER = 0.030
"""Seconds: a figure above this is marked with "!"."""

TEXT_MODEL = "TheDrummer/Cydonia-24B-v3"
"""A popular text model (koboldcpp workers in the fake AI-Horde) of an 11-member group."""
IMAGE_MODEL = "AlbedoBase XL 3.1"
"""A popular image model with a download."""
WARM_MODELS = {Category.TEXT_GENERATION: "Gryphe/MythoMax-L2-13b", Category.IMAGE_GENERATION: "Anything v3"}
"""The model pages requested before timing, to start the AI-Horde fetches (not the timed models)."""
REVIEWED_MODEL = "meta-llama/Llama-3.2-1B-Instruct"

FILTERED = {"name_contains": ["a"], "sort_by": ["name"], "limit": ["50"]}
PLAIN = {"limit": ["200"]}


def _model_path(category: Category, name: str) -> str:
    return f"/ui/{category.value}/model/{quote(name, safe='/')}"


def _query(values: dict[str, list[str]]) -> str:
    return "&".join(f"{key}={quote(v)}" for key, given in values.items() for v in given)


@dataclass(frozen=True)
class Row:
    label: str
    path: str
    approver: bool = False
    """Requested with the approver's session (the review page); else signed out."""


def _ms(seconds: float) -> str:
    mark = "!" if seconds > MARK_OVER else " "
    return f"{seconds * 1e3:8.2f}{mark}"


def _median_p95(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


def _browse(query: dict[str, list[str]]) -> Browse:
    """The category browser's form as Site.category reads it from *query* (one value each, no tag list)."""
    raw: dict[str, str | list[str]] = {key: given[-1] for key, given in query.items()}
    return Browse(SearchParams.model_validate(raw), raw)


async def warm_usage(client: httpx.AsyncClient, services: Services, timeout: float = 30) -> None:
    """Ask for a model page of each kind (starting the AI-Horde fetches, workers included), wait until the
    service holds both kinds' status, stats and workers, then make the usual live answers (what its refresh
    thread makes) so that no background work runs while timing."""
    for category, name in WARM_MODELS.items():
        answer = await client.get(_model_path(category, name))
        assert answer.status_code == 200, (name, answer.status_code)
    deadline = time.monotonic() + timeout
    kinds = tuple(HordeKind)
    while True:
        held = [services.live.usage.held(kind, workers=True) for kind in kinds]
        if all(h is not None and h.usage.workers is not None for h in held):
            break
        if time.monotonic() > deadline:
            raise SystemExit("the service did not get the fake AI-Horde's usage in time")
        await asyncio.sleep(0.05)
    for kind in kinds:
        await anyio.to_thread.run_sync(services.live.warm, kind)
    await asyncio.sleep(0.5)


async def sign_in(client: httpx.AsyncClient, apikey: str) -> str:
    """Sign in through the UI's form; the session cookie's token (the client keeps the cookie)."""
    form = await client.get("/ui/signin")
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert found is not None, "no CSRF token in the sign-in form"
    answer = await client.post("/ui/signin", data={"apikey": apikey, "csrf": found.group(1), "next": "/ui/review"})
    assert answer.status_code == 303, (answer.status_code, answer.text[:300])
    token = client.cookies.get("modelref_session")
    assert token, "no session cookie after signing in"
    return token


async def propose_change(client: httpx.AsyncClient) -> int:
    """A change to REVIEWED_MODEL proposed through the API with the requestor key; its id."""
    url = f"{V2}/text_generation/model/{quote(REVIEWED_MODEL, safe='/')}"
    record = (await client.get(url)).json()
    changed = {**record, "description": "A small Llama 3.2 instruction model.", "tags": ["instruct", "small"]}
    answer = await client.put(url, json=changed, headers=REQUESTOR)
    assert answer.status_code == 202, (answer.status_code, answer.text[:300])
    return int(answer.json()["change_id"])


async def part_1(rows: list[Row], visitor: httpx.AsyncClient, approver: httpx.AsyncClient, requests: int) -> None:
    print(f"Part 1 — requests through the app, in process (ms; first, then median and p95 of {requests})")
    width = max(len(row.label) for row in rows)
    print(f"  {'page':{width}} {'first':>9} {'median':>9} {'p95':>9} {'HTML kB':>8}")
    for row in rows:
        client = approver if row.approver else visitor
        headers = {"Accept": "text/html"}
        times = []
        for _ in range(requests + 1):
            start = time.perf_counter()
            answer = await client.get(row.path, headers=headers)
            times.append(time.perf_counter() - start)
            assert answer.status_code == 200, (row.path, answer.status_code, answer.text[:300])
            assert answer.headers["content-type"].startswith("text/html"), (row.path, answer.headers)
        median, p95 = _median_p95(times[1:])
        print(f"  {row.label:{width}} {_ms(times[0])} {_ms(median)} {_ms(p95)} {len(answer.content) / 1024:8.1f}")


Call = Callable[[], Awaitable[Any]]


async def _time_calls(title: str, calls: list[tuple[str, Call]], requests: int) -> None:
    print(f"\n{title} (ms; median and p95 of {requests})")
    width = max(len(label) for label, _ in calls)
    print(f"  {'page':{width}} {'median':>9} {'p95':>9}")
    for label, call in calls:
        await call()  # once untimed: whatever it makes once is made
        times = []
        for _ in range(requests):
            start = time.perf_counter()
            await call()
            times.append(time.perf_counter() - start)
        median, p95 = _median_p95(times)
        print(f"  {label:{width}} {_ms(median)} {_ms(p95)}")


def _now(make: Callable[[], Any]) -> Call:
    """A synchronous call as an awaitable one (run on the event loop's thread, as timed)."""

    async def call() -> Any:
        return make()

    return call


async def parts_2_and_3(rows: list[Row], services: Services, token: str, change_id: int, requests: int) -> None:
    site = services.site
    pages = site.pages
    text, image = Category.TEXT_GENERATION, Category.IMAGE_GENERATION
    session = site.sessions.find(token)
    assert session is not None, "the approver's session is gone"
    assert session.is_approver, "the signed-in session has no approver role"

    def viewer(row: Row) -> Viewer:
        return site.viewer(session if row.approver else None, "x" * 43, row.path)

    home, filtered, plain, text_model, image_model, image_stats, text_stats, risk, health, review = (
        viewer(row) for row in rows
    )
    site_calls: list[tuple[str, Call]] = [
        (rows[0].label, _now(lambda: site.home(home))),
        (rows[1].label, _now(lambda: site.category(filtered, text.value, FILTERED))),
        (rows[2].label, _now(lambda: site.category(plain, text.value, PLAIN))),
        (rows[3].label, lambda: site.model(text_model, text.value, TEXT_MODEL)),
        (rows[4].label, lambda: site.model(image_model, image.value, IMAGE_MODEL)),
        (rows[5].label, lambda: site.statistics(image_stats, image.value)),
        (rows[6].label, lambda: site.statistics(text_stats, text.value)),
        (rows[7].label, lambda: site.risk(risk, text.value, RiskPreset.CRITICAL.value, 0)),
        (rows[8].label, _now(lambda: site.health(health, "", 0))),
        (rows[9].label, _now(lambda: site.change(review, change_id))),
    ]
    await _time_calls(
        "Part 2 — the Site method alone: reads through the services, then the template", site_calls, requests
    )

    # the inputs each template is given, gathered once
    reads, live = services.reads, services.live
    category_rows = []
    for category in Category:
        snapshot = reads.catalog.get(category)
        category_rows.append(CategoryRow(category, len(snapshot.hits), snapshot.last_updated, snapshot.received))
    baselines = sorted({hit.baseline for hit in reads.snapshot(text).hits if hit.baseline})
    browse_filtered, browse_plain = _browse(FILTERED), _browse(PLAIN)
    page_filtered = reads.search_page(text, browse_filtered.params.to_query())
    page_plain = reads.search_page(text, browse_plain.params.to_query())
    text_document = next(h.document for h in reads.snapshot(text).hits if h.key == TEXT_MODEL)
    image_document = next(h.document for h in reads.snapshot(image).hits if h.key == IMAGE_MODEL)
    text_usage = await live.model_usage(text, TEXT_MODEL)
    image_usage = await live.model_usage(image, IMAGE_MODEL)
    assert text_usage is not None, "no live usage held for the text model"
    assert image_usage is not None, "no live usage held for the image model"
    group = services.text.group(str(text_document["text_model_group"]))
    image_statistics = reads.snapshot(image).statistics(grouped=False)
    text_statistics = reads.snapshot(text).statistics(grouped=False)
    most_used = PopularParams(limit=20, sort_by=PopularSort.USAGE_MONTH)  # as Site.statistics asks
    image_ranking = await live.ranking(image, most_used)
    text_ranking = await live.ranking(text, most_used)
    report = await live.risk_report(text, DeletionRiskParams(preset=RiskPreset.CRITICAL.value, limit=RISK_PAGE))
    group_health = services.text.health()
    caller = Authorizer(site.auth, session.apikey, Role.APPROVER, Format.V2)
    change, diff = services.review.change(caller, change_id), services.review.diff(caller, change_id)

    template_calls: list[tuple[str, Call]] = [
        (rows[0].label, _now(lambda: pages.home(home, category_rows))),
        (
            rows[1].label,
            _now(lambda: pages.category(filtered, text, browse_filtered, page_filtered, baselines=baselines)),
        ),
        (rows[2].label, _now(lambda: pages.category(plain, text, browse_plain, page_plain, baselines=baselines))),
        (
            rows[3].label,
            _now(
                lambda: pages.model(
                    text_model, text, TEXT_MODEL, text_document, usage=text_usage, group=group, history=[]
                )
            ),
        ),
        (
            rows[4].label,
            _now(
                lambda: pages.model(
                    image_model, image, IMAGE_MODEL, image_document, usage=image_usage, group=None, history=[]
                )
            ),
        ),
        (rows[5].label, _now(lambda: pages.statistics(image_stats, image_statistics, image_ranking))),
        (rows[6].label, _now(lambda: pages.statistics(text_stats, text_statistics, text_ranking))),
        (rows[7].label, _now(lambda: pages.risk(risk, text, RiskPreset.CRITICAL, report, None))),
        (rows[8].label, _now(lambda: pages.health(health, group_health, None, 0))),
        (rows[9].label, _now(lambda: pages.change(review, change, diff))),
    ]
    for (label, shown), (_, made) in zip(site_calls, template_calls, strict=True):
        assert (await shown()).html == await made(), f"Part 3 renders another page than the UI shows: {label}"
    await _time_calls("Part 3 — the template alone (Pages), inputs gathered beforehand", template_calls, requests)


async def run(app: ModelRefApp, requests: int) -> None:
    async with (
        app.api.router.lifespan_context(app.api),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as visitor,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as approver,
    ):
        services = services_of(app.api.state)
        assert services is not None
        await warm_usage(visitor, services)
        change_id = await propose_change(visitor)
        token = await sign_in(approver, "approver-key")
        text, image = Category.TEXT_GENERATION, Category.IMAGE_GENERATION
        rows = [
            Row("home /", "/"),
            Row(
                "text category ?name_contains=a&sort_by=name&limit=50",
                f"/ui/{text.value}?{_query(FILTERED)}",
            ),
            Row("text category ?limit=200", f"/ui/{text.value}?{_query(PLAIN)}"),
            Row(f"text model {TEXT_MODEL} (live usage, group)", _model_path(text, TEXT_MODEL)),
            Row(f"image model {IMAGE_MODEL} (live usage)", _model_path(image, IMAGE_MODEL)),
            Row("image statistics", "/ui/image_generation/statistics"),
            Row("text statistics", "/ui/text_generation/statistics"),
            Row("text deletion risk ?preset=critical", "/ui/text_generation/deletion-risk?preset=critical"),
            Row("text group health", "/ui/text_generation/groups/health"),
            Row(f"review change {change_id} (signed-in approver)", f"/ui/review/{change_id}", approver=True),
        ]
        await part_1(rows, visitor, approver, requests)
        await parts_2_and_3(rows, services, token, change_id, requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50, help="timed requests (and calls) per page after the first")
    args = parser.parse_args()
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    with tempfile.TemporaryDirectory(prefix="modelref-bench-web-") as directory:
        folder = Path(directory)
        seeded = seed_database(folder / "seed", now=int(time.time()))  # dated today, as a fresh import is
        with FakeHorde(KEYS, usage=realistic_usage(reference_documents())) as horde:
            settings = writable_settings(folder / "primary", seeded, horde, ai_horde_cache_ttl=3600)
            asyncio.run(run(create_app(settings), args.requests))


if __name__ == "__main__":
    main()
