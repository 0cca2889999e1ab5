"""Generated input against every read route of a real uvicorn server: nothing may answer 5xx."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelref.domain.categories import Category
from modelref.http.app import create_app
from tests.support import (
    KEYS,
    POSTGRES_ENV,
    REQUESTOR,
    FakeHorde,
    fresh_postgres_database,
    live_server,
    make_settings,
    writable_settings,
)

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
    http: httpx.Client,
    route: Callable[[str, str], str],
    first: str,
    second: str,
    query: list[tuple[str, str | int | float | bool | None]],
    head: bool,
) -> None:
    path = route(_path([first]), _path([second]))
    response = http.request("HEAD" if head else "GET", path, params=query)
    assert response.status_code < 500, (path, query, response.text[:300])
    if response.status_code >= 400 and not head:
        assert "detail" in response.json()


json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
record_fields = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.text(max_size=40), json_value),
        "baseline": st.one_of(st.sampled_from(["stable_diffusion_xl", "SDXL", "bogus"]), json_value),
        "nsfw": json_value,
        "parameters": json_value,
        "record_type": json_value,
        "config": json_value,
        "tags": json_value,
        "settings": json_value,
        "metadata": json_value,
    },
)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def write_http(
    request: pytest.FixtureRequest, seeded_database: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    """A live writable service on each engine (PostgreSQL when configured), with a fake AI-Horde."""
    with contextlib.ExitStack() as stack:
        horde = stack.enter_context(FakeHorde(KEYS))
        folder = tmp_path_factory.mktemp("fuzz-writes")
        settings = writable_settings(folder, seeded_database, horde)
        if request.param == "postgres":
            if not os.environ.get(POSTGRES_ENV):
                pytest.skip(f"{POSTGRES_ENV} is not set")
            url = stack.enter_context(fresh_postgres_database())
            settings = writable_settings(folder, seeded_database, horde, database_url=url)
        base = stack.enter_context(live_server(create_app(settings)))
        yield stack.enter_context(httpx.Client(base_url=base, timeout=30))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["POST", "PUT", "DELETE"]),
    category=st.sampled_from([*CATEGORIES, "nope"]),
    name=name,
    body=st.one_of(record_fields, json_value),
    legacy=st.booleans(),
)
def test_no_write_ever_answers_5xx(
    write_http: httpx.Client, method: str, category: str, name: str, body: object, legacy: bool
) -> None:
    version = "v1" if legacy else "v2"
    path = f"/api/model_references/{version}/{quote(category)}"
    if method != "POST" or not legacy:
        path += "" if method == "POST" else f"/model/{quote(name, safe='/')}"
    response = write_http.request(method, path, json=body, headers=REQUESTOR)
    assert response.status_code < 500 or response.status_code == 503, (path, body, response.text[:300])
    if response.status_code == 503:
        assert legacy  # only the v1 writes are closed on a v2 deployment
