"""Screenshots of the web UI's main pages, taken by a real Chromium from a service on the real data.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

What runs is what the browser tests run (tests/browser/conftest.py): the reference data
(../shared/reference-data) imported into a fresh SQLite file (tests/support.py: seed_database), a PRIMARY
under uvicorn on 127.0.0.1 (in this process, on a thread) with a fake AI-Horde serving realistic usage for the
real model names (tests/support.py: FakeHorde, realistic_usage) and the requestor / approver keys, and
Debian's Chromium (/usr/bin/chromium, or MODELREF_CHROMIUM, or --chromium; tests/browser/support.py) driven
by Playwright. Everything lives in one temporary directory, removed at the end.

Pages (desktop 1280×900 unless said; the visible part of the page, or the whole page when it is short):
  home.png        /  (the start page a browser gets)
  category.png    /ui/text_generation?name_contains=llama&sort_by=name&limit=25
  model.png       a text model of a group, with live usage from the fake AI-Horde (the page down to the group)
  statistics.png  /ui/image_generation/statistics, charts drawn
  risk.png        /ui/text_generation/deletion-risk?preset=critical
  health.png      /ui/text_generation/groups/health
  review.png      a change proposed through the API with the requestor key, seen by the signed-in approver at
                  /ui/review/<id> (the side-by-side diff)
  propose.png     the propose form of the signed-in requestor after a record with an invalid field: the
                  error next to the field
  phone.png       the category page at 390×844 (a phone)

Each file written is printed with its size; a page that logged a console error, failed to load a resource or
opened a dialog is reported (the screenshot is still written). Without Chromium it says how to install it and
exits with 1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
from playwright.sync_api import Browser, FloatRect, ViewportSize, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.support

from tests.browser.support import CHROMIUM_FLAGS, CHROMIUM_MISSING, Watched, chromium_path
from tests.support import (
    KEYS,
    REQUESTOR,
    FakeHorde,
    live_server,
    realistic_usage,
    reference_documents,
    seed_database,
    writable_settings,
)

from modelref.domain.usage import HordeKind
from modelref.http.app import create_app
from modelref.http.deps import services_of
from modelref.http.fastpath import ModelRefApp

ROOT = Path(__file__).resolve().parents[1]
V2 = "/api/model_references/v2"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
SHORT_PAGE = 1_400
"""A page at most this tall (CSS px) is taken whole; a longer one as the viewport shows it."""
SIZE_WARNING = 400 * 1024

TEXT_MODEL = "TheDrummer/Cydonia-24B-v3"
"""A popular text model (koboldcpp workers in the fake AI-Horde) of an 11-member group, with a description."""
REVIEWED_MODEL = "meta-llama/Llama-3.2-1B-Instruct"
"""The text model whose change the approver reviews."""
PROPOSED_MODEL = "Gryphe/MythoMax-L2-13b"
"""The text model the requestor proposes an invalid edit of."""


class Shot(Watched):
    """A browser context's page, with what went wrong on it since the last screenshot."""

    @classmethod
    def open(cls, browser: Browser, viewport: ViewportSize, *, phone: bool = False) -> Shot:
        return cls(browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone))

    def sign_in(self, base: str, key: str, then: str) -> None:
        self.page.goto(f"{base}/ui/signin?next={quote(then, safe='/')}")
        self.page.get_by_label("API key").fill(key)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(f"{base}{then}")

    def save(self, out: Path, name: str, *, through: str | None = None) -> None:
        """Write *name*: the whole page when it is short, else what the viewport shows, or with *through* (a
        CSS selector) the page from its top to the bottom of that element. Print the file and its size."""
        height = int(self.page.evaluate("document.documentElement.scrollHeight"))
        path = out / name
        if through is not None:
            bottom = self.page.locator(through).first.evaluate(
                "e => Math.ceil(e.getBoundingClientRect().bottom + window.scrollY)"
            )
            width = int(self.page.evaluate("document.documentElement.clientWidth"))
            clip: FloatRect = {"x": 0, "y": 0, "width": width, "height": min(height, int(bottom) + 16)}
            self.page.screenshot(path=str(path), full_page=True, clip=clip, animations="disabled")
            shown = f"top {clip['height']:,} px of a {height:,} px page"
        else:
            self.page.screenshot(path=str(path), full_page=height <= SHORT_PAGE, animations="disabled")
            shown = "whole page" if height <= SHORT_PAGE else f"top of a {height:,} px page"
        size = path.stat().st_size
        flag = "  ! over 400 kB" if size > SIZE_WARNING else ""
        where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"  {where!s:32} {size / 1024:6.1f} kB  ({shown}){flag}")
        for problem in [*self.problems, *(f"dialog: {message}" for message in self.dialogs)]:
            print(f"      problem on {self.page.url}: {problem}")
        self.problems.clear()
        self.dialogs.clear()

    def close(self) -> None:
        self.context.close()


@contextmanager
def service(directory: Path) -> Iterator[tuple[str, ModelRefApp]]:
    """A PRIMARY on the real data with the fake AI-Horde, under uvicorn on 127.0.0.1; its URL and app."""
    seeded = seed_database(directory / "seed", now=int(time.time()))  # dated today, as a fresh import is
    with FakeHorde(KEYS, usage=realistic_usage(reference_documents())) as horde:
        settings = writable_settings(directory / "primary", seeded, horde, ai_horde_cache_ttl=3600)
        app = create_app(settings)
        with live_server(app) as url:
            yield url, app


def warm_usage(base: str, app: ModelRefApp, timeout: float = 30) -> None:
    """Ask for a model page of each kind (which starts the AI-Horde fetches, workers included) and wait until
    the service holds the status, stats and workers of both kinds."""
    for path in ("/ui/text_generation/model/" + TEXT_MODEL, "/ui/image_generation/model/AlbedoBase XL 3.1"):
        httpx.get(base + quote(path), timeout=30)
    services = services_of(app.api.state)
    assert services is not None
    deadline = time.monotonic() + timeout
    kinds: tuple[HordeKind, ...] = tuple(HordeKind)
    while True:
        held = [services.live.usage.held(kind, workers=True) for kind in kinds]
        if all(h is not None and h.usage.workers is not None for h in held):
            return
        if time.monotonic() > deadline:
            raise SystemExit("the service did not get the fake AI-Horde's usage in time")
        time.sleep(0.05)


def propose_change(base: str) -> int:
    """A change to REVIEWED_MODEL proposed through the API with the requestor key; its id."""
    url = f"{base}{V2}/text_generation/model/{quote(REVIEWED_MODEL, safe='/')}"
    record = httpx.get(url, timeout=30).json()
    changed = {
        **record,
        "description": "Meta's smallest Llama 3.2 instruction model: 1.2 billion parameters, 128k context.",
        "tags": sorted({*record.get("tags", []), "instruct", "small"}),
        "nsfw": not record.get("nsfw", False),
    }
    answer = httpx.put(url, json=changed, headers=REQUESTOR, timeout=30)
    if answer.status_code != 202:
        raise SystemExit(f"proposing the change failed: {answer.status_code} {answer.text[:300]}")
    return int(answer.json()["change_id"])


def take(browser: Browser, base: str, out: Path) -> None:
    visitor = Shot.open(browser, DESKTOP)
    page = visitor.page

    page.goto(base + "/")
    page.get_by_role("heading", name="Model reference").wait_for()
    visitor.save(out, "home.png")

    page.goto(base + "/ui/text_generation?name_contains=llama&sort_by=name&limit=25")
    page.locator("#models tbody tr").first.wait_for()
    visitor.save(out, "category.png")

    page.goto(base + "/ui/text_generation/model/" + quote(TEXT_MODEL, safe="/"))
    page.locator("#usage").wait_for()
    visitor.save(out, "model.png", through="section[aria-labelledby=group-h]")  # down to live usage and the group

    page.goto(base + "/ui/image_generation/statistics")
    page.locator("svg.chart").first.wait_for()
    visitor.save(out, "statistics.png")

    page.goto(base + "/ui/text_generation/deletion-risk?preset=critical")
    page.locator("#risk").wait_for()
    visitor.save(out, "risk.png")

    page.goto(base + "/ui/text_generation/groups/health")
    page.locator("#health").wait_for()
    visitor.save(out, "health.png")
    visitor.close()

    change_id = propose_change(base)
    approver = Shot.open(browser, DESKTOP)
    approver.sign_in(base, "approver-key", f"/ui/review/{change_id}")
    approver.page.locator("#diff tr.modified, #diff tr.added").first.wait_for()
    approver.save(out, "review.png")
    approver.close()

    requestor = Shot.open(browser, DESKTOP)
    requestor.sign_in(base, "requestor-key", "/ui/propose/text_generation?name=" + quote(PROPOSED_MODEL, safe=""))
    record = requestor.page.get_by_label("Record")
    record.fill(
        "{\n"
        f'  "name": "{PROPOSED_MODEL}",\n'
        '  "record_type": "text_generation",\n'
        '  "description": "A Llama 2 merge tuned for role-play and story writing.",\n'
        '  "parameters": "thirteen billion",\n'
        '  "nsfw": false,\n'
        '  "text_model_group": "MythoMax-L2"\n'
        "}"
    )
    requestor.page.get_by_role("button", name="Propose the edit").click()
    requestor.page.locator("#annotated tr.invalid").first.wait_for()
    requestor.save(out, "propose.png")
    requestor.close()

    phone = Shot.open(browser, PHONE, phone=True)
    phone.page.goto(base + "/ui/text_generation?name_contains=llama&sort_by=name&limit=25")
    phone.page.locator("#models tbody tr").first.wait_for()
    phone.save(out, "phone.png")
    phone.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "screenshots", help="folder for the PNGs (default: %(default)s)"
    )
    parser.add_argument("--chromium", help="the Chromium to drive (default: MODELREF_CHROMIUM or /usr/bin/chromium)")
    args = parser.parse_args()
    executable = chromium_path(args.chromium)
    if executable is None:
        print(CHROMIUM_MISSING, file=sys.stderr)
        sys.exit(1)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="modelref-screenshots-") as directory,
        service(Path(directory)) as (
            base,
            app,
        ),
    ):
        print(f"Service on {base} (real data, fake AI-Horde); screenshots into {out}")
        warm_usage(base, app)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
            try:
                take(browser, base, out)
            finally:
                browser.close()


if __name__ == "__main__":
    main()
