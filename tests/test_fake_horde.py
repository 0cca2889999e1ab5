"""The test stand-in for the AI-Horde: its usage endpoints, its failure modes and its realistic payloads."""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from modelref.domain.categories import Category
from tests.support import (
    KEYS,
    RETIRED_IMAGE_MODELS,
    RETIRED_TEXT_MODELS,
    FakeHorde,
    FakeUsage,
    realistic_usage,
    reference_base_name,
    reference_documents,
)

STATUS = "v2/status/models"
WORKERS = "v2/workers"
STATS = {"image": "v2/stats/img/models", "text": "v2/stats/text/models"}
LIST_PATHS = [f"{STATUS}?type=image&model_state=known", f"{STATUS}?type=text", f"{WORKERS}?type=image", WORKERS]
STATS_PATHS = [f"{STATS['image']}?model_state=known", STATS["text"]]
USAGE_PATHS = LIST_PATHS + STATS_PATHS


def _status(kind: str, name: str, count: int) -> dict[str, object]:
    return {"performance": 1.5, "queued": 2, "jobs": 1, "eta": 9, "type": kind, "name": name, "count": count}


def _worker(kind: str, name: str, models: list[str]) -> dict[str, object]:
    unit = "megapixelsteps" if kind == "image" else "tokens"
    return {"id": f"id-{name}", "name": name, "type": kind, "models": models, "performance": f"1.0 {unit} per second"}


SMALL = {
    "image": FakeUsage(
        status=[_status("image", "Deliberate", 3)],
        stats={"day": {"Deliberate": 5}, "month": {"Deliberate": 50}, "total": {"Deliberate": 500}},
        workers=[_worker("image", "painter", ["Deliberate"])],
    ),
    "text": FakeUsage(
        status=[_status("text", "koboldcpp/Marx-3B-V3", 1)],
        stats={"day": {"koboldcpp/Marx-3B-V3": 1}, "month": {}, "total": {"koboldcpp/Marx-3B-V3": 9}},
        workers=[_worker("text", "writer", ["koboldcpp/Marx-3B-V3"])],
    ),
}


@pytest.fixture(scope="module", autouse=True)
def _close_client() -> Iterator[None]:
    yield
    _CLIENT.close()


@pytest.fixture
def horde() -> Iterator[FakeHorde]:
    with FakeHorde(KEYS, usage=SMALL) as fake:
        fake.delay = 0.3
        yield fake


@pytest.fixture(scope="module")
def realistic() -> dict[str, FakeUsage]:
    return realistic_usage(reference_documents())


_CLIENT = httpx.Client()  # one client: building one per request costs an SSL context each time


def _get(horde: FakeHorde, path: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> httpx.Response:
    return _CLIENT.get(horde.url + path, timeout=timeout, headers=headers)


def _until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.01)


# The endpoints


def test_usage_endpoints_answer_the_configured_payloads(horde: FakeHorde) -> None:
    assert _get(horde, f"{STATUS}?type=image&model_state=known&unknown=1").json() == SMALL["image"].status
    assert _get(horde, f"{STATUS}?type=text&model_state=known").json() == SMALL["text"].status
    assert _get(horde, STATUS).json() == SMALL["image"].status  # the AI-Horde's default type
    assert _get(horde, f"{STATS['image']}?model_state=known").json() == SMALL["image"].stats
    assert _get(horde, f"{STATS['text']}?model_state=known").json() == SMALL["text"].stats
    assert _get(horde, f"{WORKERS}?type=image").json() == SMALL["image"].workers
    assert _get(horde, f"{WORKERS}?type=text").json() == SMALL["text"].workers
    assert _get(horde, WORKERS).json() == SMALL["image"].workers + SMALL["text"].workers
    assert _get(horde, f"{STATUS}?type=video").status_code == 400


def test_usage_is_empty_by_default_and_replaceable_at_runtime() -> None:
    with FakeHorde(KEYS) as fake:
        assert _get(fake, f"{STATUS}?type=text").json() == []
        assert _get(fake, STATS["image"]).json() == {"day": {}, "month": {}, "total": {}}
        assert _get(fake, WORKERS).json() == []
        fake.usage["text"].workers = [_worker("text", "late", ["aphrodite/a/b"])]
        fake.usage["image"] = SMALL["image"]
        assert [w["name"] for w in _get(fake, WORKERS).json()] == ["painter", "late"]
        del fake.usage["text"]
        assert _get(fake, f"{STATUS}?type=text").json() == []


def test_find_user_and_usage_fail_independently(horde: FakeHorde) -> None:
    assert _get(horde, "v2/find_user", headers={"apikey": "requestor-key"}).json()["username"] == "Req#1001"
    horde.mode = "down"
    assert _get(horde, "v2/find_user", headers={"apikey": "requestor-key"}).status_code == 500
    assert _get(horde, STATUS).status_code == 200
    horde.mode, horde.usage_mode = "up", "500"
    assert _get(horde, "v2/find_user", headers={"apikey": "requestor-key"}).status_code == 200
    assert _get(horde, STATUS).status_code == 500


# Failure modes


@pytest.mark.parametrize("path", USAGE_PATHS)
def test_500(horde: FakeHorde, path: str) -> None:
    horde.usage_mode = "500"
    assert _get(horde, path).status_code == 500


def test_429_carries_retry_after(horde: FakeHorde) -> None:
    horde.usage_mode, horde.retry_after = "429", "11"
    response = _get(horde, WORKERS)
    assert (response.status_code, response.headers["Retry-After"]) == (429, "11")


@pytest.mark.parametrize("path", USAGE_PATHS)
def test_garbage_is_a_200_that_is_not_json(horde: FakeHorde, path: str) -> None:
    horde.usage_mode = "garbage"
    response = _get(horde, path)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


@pytest.mark.parametrize("path", LIST_PATHS)
def test_wrong_shape_for_a_list_is_an_object(horde: FakeHorde, path: str) -> None:
    horde.usage_mode = "wrong"
    response = _get(horde, path)
    assert (response.status_code, response.json()) == (200, {"message": "unexpected"})


@pytest.mark.parametrize("path", STATS_PATHS)
def test_wrong_shape_for_stats_is_a_list(horde: FakeHorde, path: str) -> None:
    horde.usage_mode = "wrong"
    response = _get(horde, path)
    assert response.status_code == 200
    assert isinstance(response.json(), list)


def test_truncated_body_fails_on_read(horde: FakeHorde) -> None:
    horde.usage_mode = "truncated"
    with _CLIENT.stream("GET", horde.url + WORKERS, timeout=5) as response:
        assert response.status_code == 200
        assert int(response.headers["Content-Length"]) > 0
        with pytest.raises(httpx.RemoteProtocolError):
            response.read()


def test_drop_closes_without_an_answer(horde: FakeHorde) -> None:
    horde.usage_mode = "drop"
    with pytest.raises(httpx.RemoteProtocolError):
        _get(horde, STATUS)


def test_slow_answers_after_the_delay(horde: FakeHorde) -> None:
    horde.usage_mode = "slow"
    started = time.monotonic()
    assert _get(horde, STATUS).json() == SMALL["image"].status
    assert time.monotonic() - started >= horde.delay
    with pytest.raises(httpx.ReadTimeout):
        _get(horde, STATUS, timeout=0.1)


def test_hang_times_out_then_answers_when_the_mode_changes(horde: FakeHorde) -> None:
    horde.usage_mode = "hang"
    with pytest.raises(httpx.ReadTimeout):
        _get(horde, STATUS, timeout=0.2)
    answers: list[httpx.Response] = []
    waiting = threading.Thread(target=lambda: answers.append(_get(horde, WORKERS)))
    waiting.start()
    _until(lambda: horde.calls_by_path["/api/v2/workers"] == 1)
    time.sleep(0.1)
    assert answers == []
    horde.usage_mode = "429"
    waiting.join(5)
    assert [a.status_code for a in answers] == [429]


def test_a_hanging_server_shuts_down_promptly() -> None:
    outcome: list[BaseException | httpx.Response] = []

    def call(fake: FakeHorde) -> None:
        try:
            outcome.append(_get(fake, STATUS, timeout=30))
        except httpx.HTTPError as error:
            outcome.append(error)

    fake = FakeHorde(KEYS)
    with fake:
        fake.usage_mode = "hang"
        caller = threading.Thread(target=call, args=(fake,))
        caller.start()
        _until(lambda: fake.calls_by_path["/api/v2/status/models"] == 1)
        started = time.monotonic()
    caller.join(5)
    assert time.monotonic() - started < 2
    assert len(outcome) == 1
    assert isinstance(outcome[0], httpx.RemoteProtocolError)  # hung up on, not answered


def test_usage_failing_limits_the_mode_to_some_paths(horde: FakeHorde) -> None:
    horde.usage_mode, horde.usage_failing = "500", {FakeHorde.WORKERS_PATH}
    assert _get(horde, WORKERS).status_code == 500
    assert _get(horde, STATUS).json() == SMALL["image"].status
    assert _get(horde, STATS["text"]).json() == SMALL["text"].stats
    horde.usage_failing = None
    assert _get(horde, STATUS).status_code == 500


def test_calls_are_counted_by_path_and_usage_agents_recorded(horde: FakeHorde) -> None:
    agent = {"Client-Agent": "modelref:test:tests"}
    _get(horde, f"{STATUS}?type=image", headers=agent)
    _get(horde, f"{STATUS}?type=text", headers=agent)
    _get(horde, WORKERS)
    _get(horde, "v2/find_user", headers={"apikey": "requestor-key", **agent})
    assert horde.calls_by_path == collections.Counter(
        {"/api/v2/status/models": 2, "/api/v2/workers": 1, "/api/v2/find_user": 1}
    )
    assert horde.agents == ["modelref:test:tests", "modelref:test:tests", ""]
    assert (horde.calls, horde.calls_by_key["requestor-key"]) == (1, 1)


# realistic_usage


def test_realistic_usage_is_deterministic_and_served_as_is(realistic: dict[str, FakeUsage]) -> None:
    assert realistic_usage(reference_documents()) == realistic
    with FakeHorde(KEYS, usage=realistic) as fake:
        assert _get(fake, f"{WORKERS}?type=text").json() == realistic["text"].workers
        assert _get(fake, STATS["image"]).json() == realistic["image"].stats


def test_realistic_image_has_popular_idle_dead_and_retired_models(realistic: dict[str, FakeUsage]) -> None:
    image = realistic["image"]
    reference = set(reference_documents()[Category.IMAGE_GENERATION])
    counts = {s["name"]: s["count"] for s in image.status}
    assert set(counts) < reference
    assert all(0 <= c <= 30 for c in counts.values())
    assert counts["2DN"] >= 18
    assert counts["AAM XL"] == 0
    assert "ACertainThing" not in counts
    assert image.stats["total"]["ACertainThing"] > 0
    dead = reference - set(counts) - set(image.stats["total"])
    assert "AlbedoBase XL (SDXL)" in dead
    assert 10 <= len(dead) < len(reference) // 4
    retired = set(image.stats["total"]) - reference
    assert retired == set(RETIRED_IMAGE_MODELS)
    bases = {reference_base_name(n).casefold() for n in reference}
    assert not {reference_base_name(n).casefold() for n in retired} & bases


def test_realistic_text_names_are_as_the_horde_reports_them(realistic: dict[str, FakeUsage]) -> None:
    text = realistic["text"]
    reference = set(reference_documents()[Category.TEXT_GENERATION])
    names = {s["name"] for s in text.status}
    assert "koboldcpp/Marx-3B-V3" in names
    assert {"koboldcpp/Enterredaas-65b", "aphrodite/Aeala/Enterredaas-65b"} <= names
    assert "aetherwiing/MN-12B-Starcannon-v3" in names
    assert "koboldcpp/ai21-jamba-1.5-mini" in names
    assert "koboldcpp/MS-Meadowlark-22B-Q4_K_M" in names
    assert "koboldcpp/MS-Meadowlark-22B-Q8_0" in text.stats["total"]
    assert "koboldcpp/Tlacuilo-12B" in text.stats["total"]
    assert "koboldcpp/Tlacuilo-12B" not in names
    shorts = {n.split("/", 1)[-1] for n in reference}
    lowered = [n for n in names if n.startswith("koboldcpp/") and n[10:] not in shorts and n[10:] == n[10:].lower()]
    assert len(lowered) > 10
    assert sum(n.startswith("aphrodite/") for n in names) > 10
    assert sum(n in reference for n in names) > 10
    assert set(RETIRED_TEXT_MODELS) <= set(text.stats["total"])
    assert not set(RETIRED_TEXT_MODELS) & names


def _backend(name: str) -> str:
    prefix = name.partition("/")[0]
    return prefix if prefix in {"koboldcpp", "aphrodite"} else ""


@pytest.mark.parametrize("kind", ["image", "text"])
def test_realistic_workers_match_the_status_counts(realistic: dict[str, FakeUsage], kind: str) -> None:
    usage = realistic[kind]
    served = collections.Counter(m for w in usage.workers for m in w["models"])
    assert served == collections.Counter({s["name"]: s["count"] for s in usage.status if s["count"]})
    assert all(w["type"] == kind and w["online"] for w in usage.workers)
    assert len({w["id"] for w in usage.workers}) == len({w["name"] for w in usage.workers}) == len(usage.workers)
    unit = "megapixelsteps per second" if kind == "image" else "tokens per second"
    assert all(w["performance"].endswith(unit) for w in usage.workers)
    if kind == "text":
        assert {len(w["models"]) for w in usage.workers} == {1, 2, 3}
        assert all(len({_backend(m) for m in w["models"]}) == 1 for w in usage.workers)
    for name, total in usage.stats["total"].items():
        assert usage.stats["day"][name] <= usage.stats["month"][name] <= total
