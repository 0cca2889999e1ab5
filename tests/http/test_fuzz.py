"""Generated input against every read route of a real uvicorn server: nothing may answer 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelref.domain.categories import Category
from modelref.http.app import create_app
from tests.http.conftest import make_settings
from tests.support import live_server

CATEGORIES = [c.value for c in Category]
segment = st.one_of(
    st.sampled_from([*CATEGORIES, "stable_diffusion", "db.json", "search", "metadata", "model", "..", "%00"]),
    st.text(min_size=1, max_size=40),
    st.text(alphabet="/%.\x00 ", min_size=1, max_size=5),
)
name = st.one_of(st.text(max_size=60), st.just("x" * 10_000), st.just("ViT-L/14"), st.just("a/../../b"))
SEARCH_KEYS = [
    "nsfw",
    "baseline",
    "inpainting",
    "tags_any",
    "tags_all",
    "tags_none",
    "name_contains",
    "backend",
    "exclude_backend_variations",
    "quantized",
    "sort_by",
    "sort_desc",
    "limit",
    "offset",
    "source",
    "group_text_models",
    "include_group",
]
value = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["true", "false", "name", "metadata__created_at", "config", "parameters", "koboldcpp", "0", "500"]),
)
params = st.lists(st.tuples(st.sampled_from(SEARCH_KEYS), value), max_size=6)


@pytest.fixture(scope="module")
def http(seeded_database: Path) -> Iterator[httpx.Client]:
    with (
        live_server(create_app(make_settings(seeded_database))) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        yield client


def _path(parts: list[str]) -> str:
    return "/".join(quote(p, safe="/") for p in parts)


ROUTES = [
    lambda a, b: f"/api/model_references/v2/{a}",
    lambda a, b: f"/api/model_references/v2/{a}/model/{b}",
    lambda a, b: f"/api/model_references/v2/{a}/search",
    lambda a, b: "/api/model_references/v2/search",
    lambda a, b: f"/api/model_references/v1/{a}",
    lambda a, b: f"/api/model_references/v2/metadata/{a}",
    lambda a, b: f"/api/model_references/v2/metadata/{a}/last_updated",
    lambda a, b: f"/api/model_references/statistics/{a}",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES), first=segment, second=name, query=params, head=st.booleans())
def test_no_read_ever_answers_5xx(
    http: httpx.Client, route: object, first: str, second: str, query: list[tuple[str, str]], head: bool
) -> None:
    path = route(_path([first]), _path([second]))  # type: ignore[operator]
    response = http.request("HEAD" if head else "GET", path, params=query)
    assert response.status_code < 500, (path, query, response.text[:300])
    if response.status_code >= 400 and not head:
        assert "detail" in response.json()
