"""The web UI in a real Chromium: a visitor browses, a requestor proposes, an approver reviews and applies,
hostile data stays text, a REPLICA is read-only, and pages work at a phone's width and from the keyboard."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from modelref.http.app import create_app
from tests.browser.support import Watched
from tests.support import APPROVER, REAL_TEXT, REQUESTOR, FakePrimary, live_server, make_settings

V2 = "/api/model_references/v2"
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_NAME = '"><img src=x onerror=alert(1)>'


def sign_in(visitor: Watched, service: str, key: str, then: str) -> None:
    page = visitor.page
    page.goto(f"{service}/ui/signin?next={then}")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{service}{then}")


def test_a_visitor_browses_filters_sorts_pages_and_opens_a_model(visitor: Watched, service: str) -> None:
    page = visitor.page
    page.goto(service + "/")
    expect(page.get_by_role("heading", name="Model reference")).to_be_visible()
    page.get_by_role("link", name="text_generation", exact=True).click()
    expect(page.locator("#count")).to_contain_text(f"{REAL_TEXT:,} models")
    page.get_by_label("Name contains").fill("llama")
    page.get_by_label("Per page").select_option("25")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"name_contains=llama"))
    total = int(re.sub(r"\D", "", page.locator("#count").inner_text().split(" model")[0]))
    assert 25 < total < REAL_TEXT
    page.get_by_role("link", name="Name", exact=True).click()  # sort by name
    expect(page).to_have_url(re.compile(r"sort_by=name"))
    names = page.locator("#models tbody tr td:first-child").all_inner_texts()
    assert names == sorted(names, key=str)
    page.get_by_role("link", name="Next →").click()
    expect(page.locator("#count")).to_contain_text("26–")
    second = page.locator("#models tbody tr td:first-child").all_inner_texts()
    assert second[0] >= names[-1]
    bookmarked = page.url
    page.goto(bookmarked)  # the view is in the URL
    assert page.locator("#models tbody tr td:first-child").all_inner_texts() == second
    page.locator("#models tbody tr td:first-child a").first.click()
    expect(page.locator("h1")).to_have_text(second[0])
    expect(page.locator("#usage")).to_be_visible()  # the fake AI-Horde answered
    expect(page.get_by_role("heading", name="Legacy (v1) view")).to_be_visible()


def test_charts_risk_and_health_pages(visitor: Watched, service: str) -> None:
    page = visitor.page
    page.goto(service + "/ui/image_generation/statistics")
    expect(page.locator("svg.chart").first).to_be_visible()
    assert page.locator("svg.chart").count() >= 3
    page.get_by_text("The numbers").first.click()
    expect(page.locator("table.numbers").first).to_be_visible()
    page.goto(service + "/ui/text_generation/deletion-risk?preset=critical")
    expect(page.locator("#risk")).to_be_visible()
    page.goto(service + "/ui/text_generation/groups/health")
    page.get_by_label("Issue", exact=True).select_option("singleton_group")
    page.get_by_role("button", name="Show").click()
    kinds = set(page.locator("#health tbody tr td:nth-child(2)").all_inner_texts())
    assert kinds == {"singleton group"}


def test_a_requestor_sees_the_validation_error_then_proposes(visitor: Watched, service: str) -> None:
    sign_in(visitor, service, "requestor-key", "/ui/clip/model/ViT-L/14")
    page = visitor.page
    page.get_by_role("link", name="Propose an edit").click()
    editor = page.get_by_label("Record")
    editor.fill('{"name": "ViT-L/14", "config": "nowhere"}')
    page.get_by_role("button", name="Propose the edit").click()
    expect(page.locator("#propose-errors")).to_be_visible()
    invalid = page.locator("#annotated tr.invalid")
    expect(invalid).to_have_count(1)
    expect(invalid.locator("th")).to_have_text("config")
    expect(invalid.locator(".field-error")).not_to_be_empty()
    page.get_by_label("Record").fill('{"name": "ViT-L/14", "description": "proposed from a browser"}')
    page.get_by_role("button", name="Propose the edit").click()
    expect(page.locator("#queued")).to_contain_text("ViT-L/14")
    queued = httpx.get(f"{service}{V2}/pending_queue/changes", headers=APPROVER).json()["items"]
    assert any(c["payload"].get("description") == "proposed from a browser" for c in queued)


def test_an_approver_sees_the_diff_approves_applies_and_the_record_shows_it(visitor: Watched, service: str) -> None:
    record = httpx.get(f"{service}{V2}/clip/model/coca_ViT-L-14").json()
    proposed = httpx.put(
        f"{service}{V2}/clip/model/coca_ViT-L-14",
        json={**record, "description": "approved in a browser"},
        headers=REQUESTOR,
    )
    assert proposed.status_code == 202, proposed.text
    change_id = proposed.json()["change_id"]
    sign_in(visitor, service, "approver-key", "/ui/review")
    page = visitor.page
    page.get_by_role("link", name="coca_ViT-L-14").first.click()
    expect(page.locator("#diff tr.added th")).to_contain_text("description")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#change-status")).to_have_text("approved")
    page.get_by_label(re.compile("Job id")).fill(f"browser-{change_id}")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#change-status")).to_have_text("applied")
    page.get_by_role("link", name="See the record").click()
    expect(page.locator(".description")).to_have_text("approved in a browser")
    expect(page.locator("#history li").first).to_contain_text("update")
    expect(page.locator("#history li").first).to_contain_text("description")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    assert not [c for c in visitor.context.cookies() if c["name"] == "modelref_session"]


def test_hostile_data_renders_as_text(visitor: Watched, service: str) -> None:
    hostile = {"name": XSS_NAME, "description": XSS_SCRIPT, "record_type": "blip"}
    change_id = httpx.post(f"{service}{V2}/blip", json=hostile, headers=REQUESTOR).json()["change_id"]
    httpx.post(
        f"{service}{V2}/pending_queue/batches", json={"batch_title": "x", "approved_ids": [change_id]}, headers=APPROVER
    )
    applied = httpx.post(f"{service}{V2}/pending_queue/changes/{change_id}/apply", json={}, headers=APPROVER)
    assert applied.status_code == 200, applied.text
    page = visitor.page
    page.goto(service + "/ui/blip")
    page.get_by_role("link", name=XSS_NAME).click()
    expect(page.locator("h1")).to_have_text(XSS_NAME)
    expect(page.locator(".description")).to_have_text(XSS_SCRIPT)
    assert page.locator("img[src=x]").count() == 0
    # the watched page's dialogs must stay empty: checked when the fixture closes


def test_a_phone_and_a_keyboard_can_use_the_pages(browser: Browser, service: str) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    for path in ("/", "/ui/text_generation", "/ui/clip/model/ViT-L/14", "/ui/image_generation/statistics"):
        page.goto(service + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{path} is wider than a phone ({overflow} px)"
    page.goto(service + "/ui/text_generation")
    assert page.locator("details.filters-box").evaluate("box => box.open") is False  # the results come first
    expect(page.locator("#models")).to_be_in_viewport()
    context.close()
    context = browser.new_context()
    page = context.new_page()
    page.goto(service + "/ui/text_generation")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.get_by_label("Name contains").focus()
    page.keyboard.type("mistral")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile("name_contains=mistral"))
    context.close()


@pytest.fixture(scope="module")
def replica(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with FakePrimary() as primary:
        settings = make_settings(
            tmp_path_factory.mktemp("browser-replica"),
            replicate_mode="REPLICA",
            primary_api_url=primary.url,
            enable_github_fallback=False,
            startup_wait=0,
            ai_horde_url="http://127.0.0.1:9/api/",
            ai_horde_wait=0.2,
        )
        with live_server(create_app(settings)) as url:
            yield url, primary.url


def test_a_replica_shows_read_only_pages(visitor: Watched, replica: tuple[str, str]) -> None:
    url, primary_url = replica
    page = visitor.page
    page.goto(url + "/")
    expect(page.locator(".banner")).to_contain_text("Read-only REPLICA")
    expect(page.locator(".banner")).to_contain_text(primary_url)
    expect(page.get_by_role("link", name="Sign in")).to_have_count(0)
    page.goto(url + "/ui/clip/model/ViT-L/14")
    expect(page.get_by_role("link", name="Propose an edit")).to_have_count(0)
    page.goto(url + "/ui/review")
    expect(page.locator("h1")).to_contain_text("not available here")
