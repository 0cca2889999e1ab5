"""The web UI over HTTP: content negotiation at ``/``, the browser's filters in the URL, escaping, security
headers, sessions and CSRF, roles, a REPLICA's read-only pages. (tests/browser drives the same pages in a
real Chromium.)"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from modelref.http.app import create_app
from tests.support import APPROVER, KEYS, REAL_TEXT, REQUESTOR, FakeHorde, FakePrimary, make_settings, running

pytestmark = pytest.mark.anyio
HTML = {"accept": "text/html,application/xhtml+xml"}
V2 = "/api/model_references/v2"
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_NAME = '"><img src=x onerror=alert(1)>'


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, key: str) -> httpx.Response:
    form = await client.get("/ui/signin", headers=HTML)
    return await client.post(
        "/ui/signin", data={"apikey": key, "csrf": csrf_of(form.text), "next": "/ui/review"}, headers=HTML
    )


async def test_the_start_page_is_html_for_browsers_and_json_for_everyone_else(client: httpx.AsyncClient) -> None:
    page = await client.get("/", headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert 'href="/ui/text_generation"' in page.text
    assert f">{REAL_TEXT}<" in page.text.replace(",", "")  # the count of each category
    assert "Accept" in page.headers["vary"]
    json_root = await client.get("/")
    assert json_root.json()["message"].startswith("Welcome")
    assert "Accept" in json_root.headers["vary"]  # a shared cache keeps the two apart
    assert (await client.get("/api/", headers=HTML)).json()["message"].startswith("Welcome")
    assert "<script>" not in page.text.replace('<script src="/static/site.js" defer></script>', "")  # no inline script
    assert (await client.get("/static/site.css")).status_code == 200


async def test_the_category_browser_filters_sorts_and_pages_from_the_url(client: httpx.AsyncClient) -> None:
    page = await client.get("/ui/text_generation", params={"limit": 25}, headers=HTML)
    assert page.status_code == 200
    assert f"{REAL_TEXT:,} models, 1–25 shown" in page.text
    assert 'rel="next" href="/ui/text_generation?limit=25&amp;offset=25"' in page.text
    rows = re.findall(r'<td><a href="/ui/text_generation/model/([^"]+)">', page.text)
    assert len(rows) == 25
    search = await client.get(
        f"{V2}/text_generation/search", params={"name_contains": "llama", "sort_by": "name", "sort_desc": "true"}
    )
    expected = [r["name"] for r in search.json()["results"]][:10]
    filtered = await client.get(
        "/ui/text_generation",
        params={"name_contains": "llama", "sort_by": "name", "sort_desc": "true", "limit": 25, "nsfw": ""},
        headers=HTML,
    )
    shown = re.findall(r'<td><a href="/ui/text_generation/model/[^"]+">([^<]+)</a>', filtered.text)
    assert shown[:10] == expected  # the same engine as /search
    assert f"{search.json()['total']:,} model" in filtered.text
    assert 'value="llama"' in filtered.text  # the form shows the filter the URL holds
    refused = await client.get("/ui/text_generation", params={"limit": "many"}, headers=HTML)
    assert refused.status_code == 400
    assert "limit" in refused.text
    wrong = await client.get("/ui/text_generation", params={"inpainting": "true"}, headers=HTML)
    assert wrong.status_code == 400  # a filter text models do not have
    assert (await client.get("/ui/nothing", headers=HTML)).status_code == 404


async def test_a_model_page_shows_fields_downloads_and_the_legacy_view(client: httpx.AsyncClient) -> None:
    page = await client.get("/ui/clip/model/ViT-L/14", headers=HTML)
    assert page.status_code == 200
    record = (await client.get(f"{V2}/clip/model/ViT-L/14")).json()
    sha = record["config"]["download"][0]["sha256sum"]
    assert sha in page.text
    assert 'class="copy" data-copy="sha-1"' in page.text
    assert "Legacy (v1) view" in page.text
    text = await client.get("/ui/text_generation/model/acrastt/Marx-3B-V3", headers=HTML)
    assert 'Group <a href="/ui/text_generation/group/Marx">Marx</a>' in text.text
    assert 'id="usage-unavailable"' in text.text  # no AI-Horde in this app
    assert (await client.get("/ui/clip/model/nope", headers=HTML)).status_code == 404


async def test_every_value_from_the_data_is_escaped(writer: httpx.AsyncClient) -> None:
    record = {"name": XSS_NAME, "description": XSS_SCRIPT, "record_type": "clip"}
    proposed = await writer.post(f"{V2}/clip", json=record, headers=REQUESTOR)
    assert proposed.status_code == 202, proposed.text
    change_id = proposed.json()["change_id"]
    await writer.post(
        f"{V2}/pending_queue/batches", json={"batch_title": "x", "approved_ids": [change_id]}, headers=APPROVER
    )
    applied = await writer.post(f"{V2}/pending_queue/changes/{change_id}/apply", json={}, headers=APPROVER)
    assert applied.status_code == 200, applied.text
    for path in ("/ui/clip", f"/ui/clip/model/{XSS_NAME}", "/ui/search?q=onerror"):
        page = await writer.get(path, headers=HTML)
        assert page.status_code == 200, path
        assert XSS_SCRIPT not in page.text, path
        assert "<img src=x" not in page.text, path
        assert "&lt;img src=x onerror=alert(1)&gt;" in page.text, path


async def test_sign_in_keeps_the_key_on_the_server_behind_a_strict_cookie(
    writer: httpx.AsyncClient, tmp_path: Path
) -> None:
    refused = await writer.post("/ui/signin", data={"apikey": "approver-key", "csrf": "forged" * 8}, headers=HTML)
    assert refused.status_code == 403  # no token from a form of this site
    bad = await sign_in(writer, "not-a-key")
    assert bad.status_code == 401
    assert "modelref_session" not in bad.headers.get("set-cookie", "")
    signed = await sign_in(writer, "approver-key")
    assert signed.status_code == 303
    assert signed.headers["location"] == "/ui/review"
    cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith("modelref_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "approver-key" not in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    with sa.create_engine(f"sqlite:///{tmp_path / 'modelref.sqlite3'}").connect() as conn:
        rows = conn.execute(sa.text("SELECT token_hash, sealed_key FROM web_sessions")).all()
    assert len(rows) == 1
    assert len(rows[0][0]) == 64
    assert rows[0][0] != token  # only its hash is kept
    assert "approver-key" not in rows[0][1]  # the key is sealed under the token
    queue = await writer.get("/ui/review", headers=HTML)
    assert "App" in queue.text
    assert "Review queue" in queue.text
    signed_out = await writer.post("/ui/signout", data={"csrf": csrf_of(queue.text)}, headers=HTML)
    assert signed_out.status_code == 303
    assert any(c.startswith('modelref_session=""') for c in signed_out.headers.get_list("set-cookie"))
    writer.cookies.clear()
    with sa.create_engine(f"sqlite:///{tmp_path / 'modelref.sqlite3'}").connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM web_sessions")).scalar() == 0


async def test_pages_that_need_a_role_show_the_sign_in_form(writer: httpx.AsyncClient) -> None:
    for path in ("/ui/review", "/ui/review/1", "/ui/propose/clip"):
        page = await writer.get(path, headers=HTML)
        assert page.status_code == 200, path
        assert 'action="/ui/signin"' in page.text, path
    await sign_in(writer, "requestor-key")
    page = await writer.get("/ui/review", headers=HTML)
    assert "needs the approver role" in page.text
    assert (await writer.get("/ui/propose/clip", headers=HTML)).status_code == 200


async def test_a_proposal_from_the_form_is_validated_then_queued(writer: httpx.AsyncClient) -> None:
    await sign_in(writer, "requestor-key")
    form = await writer.get("/ui/propose/clip", params={"name": "ViT-L/14"}, headers=HTML)
    csrf = csrf_of(form.text)
    bad = await writer.post(
        "/ui/propose/clip",
        data={"csrf": csrf, "editing": "ViT-L/14", "record": '{"name": "ViT-L/14", "config": "nowhere"}'},
        headers=HTML,
    )
    assert bad.status_code == 422
    assert re.search(r'<th scope="row">config</th>\s*<td><pre>[^<]*</pre></td>\s*<td><p class="field-error">', bad.text)
    assert (await writer.get(f"{V2}/pending_queue/changes", headers=APPROVER)).json()["items"] == []
    good = await writer.post(
        "/ui/propose/clip",
        data={"csrf": csrf, "editing": "ViT-L/14", "record": '{"name": "ViT-L/14", "description": "edited"}'},
        headers=HTML,
    )
    assert good.status_code == 202
    assert 'id="queued"' in good.text
    queued = (await writer.get(f"{V2}/pending_queue/changes", headers=APPROVER)).json()["items"]
    assert [(c["model_name"], c["payload"]["description"]) for c in queued] == [("ViT-L/14", "edited")]
    forged = await writer.post("/ui/propose/clip", data={"csrf": "x" * 43, "record": "{}"}, headers=HTML)
    assert forged.status_code == 403


async def test_an_approver_reviews_approves_and_applies(writer: httpx.AsyncClient) -> None:
    record = (await writer.get(f"{V2}/clip/model/ViT-L/14")).json()
    proposed = await writer.put(
        f"{V2}/clip/model/ViT-L/14", json={**record, "description": "reviewed in the UI"}, headers=REQUESTOR
    )
    change_id = proposed.json()["change_id"]
    await sign_in(writer, "approver-key")
    page = await writer.get(f"/ui/review/{change_id}", headers=HTML)
    assert re.search(r'<tr class="added"><th scope="row">description <span class="badge">added', page.text)
    assert '<tr class=""><th scope="row">config</th>' in page.text  # unchanged fields shown, not marked
    csrf = csrf_of(page.text)
    no_token = await writer.post(f"/ui/review/{change_id}/approve", data={"batch_title": "t"}, headers=HTML)
    assert no_token.status_code == 403  # no token at all is refused like a wrong one
    approved = await writer.post(
        f"/ui/review/{change_id}/approve", data={"csrf": csrf, "batch_title": "UI review"}, headers=HTML
    )
    assert approved.status_code == 303
    applied = await writer.post(
        f"/ui/review/{change_id}/apply", data={"csrf": csrf, "job_id": "ui-job-1"}, headers=HTML
    )
    assert applied.status_code == 303
    after = await writer.get(f"/ui/review/{change_id}", headers=HTML)
    assert 'id="change-status">applied' in after.text
    assert "ui-job-1" in after.text
    model = await writer.get("/ui/clip/model/ViT-L/14", headers=HTML)
    assert "reviewed in the UI" in model.text
    assert re.search(r'id="history">.*?<strong>update</strong>.*?<code>description</code>', model.text, re.S)


async def test_a_replica_shows_read_only_pages_and_where_its_data_comes_from(tmp_path: Path) -> None:
    with FakePrimary() as primary, FakeHorde(KEYS) as horde:
        settings = make_settings(
            tmp_path,
            replicate_mode="REPLICA",
            primary_api_url=primary.url,
            enable_github_fallback=False,
            startup_wait=0,
            ai_horde_url=horde.url,
        )
        async for client in running(create_app(settings)):
            home = await client.get("/", headers=HTML)
            assert "Read-only REPLICA" in home.text
            assert primary.url in home.text
            assert "Sign in" not in home.text
            for path in ("/ui/review", "/ui/signin", "/ui/propose/clip"):
                page = await client.get(path, headers=HTML)
                assert page.status_code == 200, path
                assert "read-only REPLICA" in page.text, path
            model = await client.get("/ui/clip/model/ViT-L/14", headers=HTML)
            assert model.status_code == 200
            assert "Propose an edit" not in model.text


async def test_odd_requests_get_pages_with_the_ui_headers_never_a_500(writer: httpx.AsyncClient) -> None:
    await sign_in(writer, "approver-key")
    for path, status in [
        ("/ui/review/99999999999999999999999", 422),
        ("/ui/review/abc", 422),
        ("/ui/text_generation/groups/health?offset=-1", 422),
        ("/ui/text_generation/nothing/here", 404),
        ("/ui/review/1/approve", 405),
        ("/ui/text_generation/model/%00", 404),
        ("/ui/clip?tags_any=" + "x" * 3000, 400),
    ]:
        page = await writer.get(path, headers=HTML)
        assert page.status_code == status, path
        assert page.headers["content-type"].startswith("text/html"), path
        assert "script-src 'self'" in page.headers["content-security-policy"], path
    start = await writer.get("/ui", headers=HTML)
    assert (start.status_code, start.headers["location"]) == (303, "/")
    assert (await writer.get("/api/ui/signin", headers=HTML)).status_code == 404  # the UI is not under /api
    huge = await writer.post("/ui/review/9223372036854775808/apply", data={"csrf": "x"}, headers=HTML)
    assert huge.status_code == 422
    assert (await writer.get("/api/model_references/v2/nope/model/x")).headers["content-type"] == "application/json"


async def test_only_web_addresses_are_linked(writer: httpx.AsyncClient) -> None:
    record = {
        "name": "Linked",
        "record_type": "blip",
        "config": {"download": [{"file_name": "a.pt", "file_url": "javascript:alert(1)", "sha256sum": "0" * 64}]},
    }
    change_id = (await writer.post(f"{V2}/blip", json=record, headers=REQUESTOR)).json()["change_id"]
    await writer.post(
        f"{V2}/pending_queue/batches", json={"batch_title": "x", "approved_ids": [change_id]}, headers=APPROVER
    )
    assert (
        await writer.post(f"{V2}/pending_queue/changes/{change_id}/apply", json={}, headers=APPROVER)
    ).status_code == 200
    page = await writer.get("/ui/blip/model/Linked", headers=HTML)
    assert 'href="javascript' not in page.text
    assert "javascript:alert(1)" in page.text  # shown as text


async def test_the_history_is_an_approvers_and_the_ui_is_not_shared_across_origins(writer: httpx.AsyncClient) -> None:
    await sign_in(writer, "requestor-key")
    page = await writer.get("/ui/clip/model/ViT-L/14", headers=HTML)
    assert 'id="history"' not in page.text
    assert "as an approver" in page.text
    cross = await writer.get("/ui/review", headers={**HTML, "origin": "https://ui.example"})
    assert "access-control-allow-origin" not in cross.headers
    api = await writer.get(f"{V2}/clip", headers={"origin": "https://ui.example"})
    assert api.headers["access-control-allow-origin"] == "https://ui.example"  # the API keeps its CORS


async def test_repeated_tag_filters_stay_in_the_pager(client: httpx.AsyncClient) -> None:
    page = await client.get("/ui/image_generation?tags_any=anime&tags_any=furry&limit=25", headers=HTML)
    assert "tags_any=anime%2Cfurry" in page.text  # both tags in every link
    assert 'value="anime,furry"' in page.text
    past = await client.get("/ui/image_generation?offset=100000", headers=HTML)
    assert "none on this page" in past.text
