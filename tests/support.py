"""Shared test helpers: the real reference data, loopback HTTP servers, fresh PostgreSQL databases."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import http.server
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
import orjson
import sqlalchemy as sa

from modelref.client.sources import GithubLayout
from modelref.domain.audit import AuditEvent
from modelref.domain.bundle import read_bundle
from modelref.domain.categories import Category
from modelref.domain.changes import PendingChangeRecord
from modelref.domain.tags import catalog_tag, content_tag
from modelref.domain.textnames import ExtraPart, ExtraPartType, ParsedName
from modelref.domain.vocab import strip_backend
from modelref.http.fastpath import ModelRefApp
from modelref.services.importer import import_bundle
from modelref.settings import Settings
from modelref.storage.store import Store

REFERENCE_DATA = Path(__file__).resolve().parents[2] / "shared" / "reference-data"
LEGACY_IMAGE = REFERENCE_DATA / "legacy-image"
LEGACY_TEXT = REFERENCE_DATA / "legacy-text"
POSTGRES_ENV = "HORDE_MODEL_REFERENCE_TEST_POSTGRES_URL"


def reference_files() -> dict[str, bytes]:
    """Every real legacy file, by file name (the schema file left out)."""
    files = {}
    for folder in (LEGACY_IMAGE, LEGACY_TEXT):
        for path in folder.iterdir():
            if not path.name.endswith(".schema.json"):
                files[path.name] = path.read_bytes()
    return files


Handler = Callable[[str], tuple[int, bytes] | tuple[int, bytes, dict[str, str]]]
"""Maps a request path to (status, body) or (status, body, headers)."""


@contextlib.contextmanager
def http_server(handler: Handler) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 answering GETs through *handler*; yields its base URL."""

    class _Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer = handler(self.path)
            status, body = answer[0], answer[1]
            self.send_response(status)
            for name, value in (answer[2] if len(answer) == 3 else {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def serve_files(files: dict[str, bytes]) -> Handler:
    """A handler serving ``files`` by path (``/a/b.json``), 404 for anything else."""

    def handle(path: str) -> tuple[int, bytes]:
        body = files.get(path.split("?")[0])
        return (200, body) if body is not None else (404, b"not found")

    return handle


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create an empty database on the test PostgreSQL server; drop it afterwards. Yields its URL."""
    base = os.environ[POSTGRES_ENV]
    admin_url = sa.make_url(base)
    name = f"modelref_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def live_server(app: object) -> Iterator[str]:
    """Run an ASGI app under a real uvicorn server on 127.0.0.1 in a thread; yields its base URL."""
    import socket
    import time

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


UsageKind = Literal["image", "text"]
HORDE_KINDS: tuple[UsageKind, ...] = ("image", "text")

UsageMode = Literal["up", "slow", "hang", "500", "429", "garbage", "truncated", "drop", "wrong"]
"""How ``FakeHorde`` answers its usage endpoints (see ``FakeHorde``)."""


def empty_stats() -> dict[str, dict[str, int]]:
    """The AI-Horde's stats payload with no model in it."""
    return {"day": {}, "month": {}, "total": {}}


@dataclasses.dataclass
class FakeUsage:
    """What ``FakeHorde`` serves for one kind ("image" or "text"), as JSON-ready plain data.

    ``status``: the ``v2/status/models`` list (``{performance, queued, jobs, eta, type, name, count}``);
    ``stats``: the ``v2/stats/{img,text}/models`` object (``{"day": {name: n}, "month": …, "total": …}``);
    ``workers``: the ``v2/workers`` list (``{id, name, type, models, performance, online, trusted, uptime, …}``).
    """

    status: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    stats: dict[str, dict[str, int]] = dataclasses.field(default_factory=empty_stats)
    workers: list[dict[str, Any]] = dataclasses.field(default_factory=list)


class Clock:
    """A clock the test moves by hand (``clock.now += 61``)."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeHorde:
    """A small AI-Horde on 127.0.0.1.

    ``GET /api/v2/find_user`` answers for the keys in ``users``. ``mode`` switches it (and any unknown route)
    to failing: "down" (500), "slow" (answers after ``delay`` seconds), "429" (rate limited, with
    ``Retry-After: retry_after``), "hang" (reads the request, then answers nothing until ``mode`` changes, and
    then as the new mode says). ``calls`` counts those requests, ``calls_by_key`` counts them by ``apikey``
    header.

    The usage endpoints serve ``usage[kind]`` (a ``FakeUsage``; a missing kind serves as empty):
    ``GET /api/v2/status/models?type=image|text`` (type defaults to image), ``GET /api/v2/stats/img/models``,
    ``GET /api/v2/stats/text/models`` and ``GET /api/v2/workers?type=image|text`` (both kinds without a type);
    other query parameters (``model_state``) are ignored, an unknown ``type`` answers 400. They do not look at
    ``mode``; ``usage_mode`` switches them to failing: "up"; "slow" (answers after ``delay`` seconds); "hang"
    (answers nothing until ``usage_mode`` changes, then as the new mode says; hangs up when the server closes);
    "500"; "429" (``Retry-After: retry_after``); "garbage" (200, an HTML body); "truncated" (200, a
    Content-Length larger than the half body sent, then the connection closes); "drop" (the connection closes
    without an answer); "wrong" (200, valid JSON of the wrong shape: ``{"message": "unexpected"}`` for the
    list endpoints, ``[{"message": "unexpected"}]`` for the stats). ``usage_failing``: when not None, only
    these paths (``FakeHorde.WORKERS_PATH`` …) follow ``usage_mode``; the others answer normally.

    ``calls_by_path`` counts every request by path (query left out); ``agents`` lists the ``Client-Agent``
    header ("" when absent) of each usage request.
    """

    FIND_USER_PATH = "/api/v2/find_user"
    STATUS_PATH = "/api/v2/status/models"
    STATS_PATHS: ClassVar[dict[UsageKind, str]] = {
        "image": "/api/v2/stats/img/models",
        "text": "/api/v2/stats/text/models",
    }
    WORKERS_PATH = "/api/v2/workers"
    USAGE_PATHS: ClassVar[frozenset[str]] = frozenset({STATUS_PATH, WORKERS_PATH, *STATS_PATHS.values()})

    def __init__(self, users: dict[str, str], *, usage: Mapping[str, FakeUsage] | None = None) -> None:
        self.users = users
        self.mode = "up"
        self.delay = 3.0
        self.retry_after = "7"
        self.calls = 0
        self.calls_by_key: collections.Counter[str] = collections.Counter()
        self.usage: dict[str, FakeUsage] = (
            dict(usage) if usage is not None else {kind: FakeUsage() for kind in HORDE_KINDS}
        )
        self.usage_mode: UsageMode = "up"
        self.usage_failing: set[str] | None = None
        self.calls_by_path: collections.Counter[str] = collections.Counter()
        self.agents: list[str] = []
        self._count_lock = threading.Lock()
        self._closing = threading.Event()
        fake = self

        class _Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                with fake._count_lock:
                    fake.calls_by_path[path] += 1
                if path in FakeHorde.USAGE_PATHS:
                    with fake._count_lock:
                        fake.agents.append(self.headers.get("Client-Agent", ""))
                    fake._serve_usage(self, path, urllib.parse.parse_qs(query))
                    return
                apikey = self.headers.get("apikey", "")
                with fake._count_lock:
                    fake.calls += 1
                    fake.calls_by_key[apikey] += 1
                while fake.mode == "hang":
                    if fake._closing.wait(0.02):
                        return  # shutting down: hang up without an answer
                if fake.mode == "slow":
                    time.sleep(fake.delay)
                headers: dict[str, str] = {}
                body: dict[str, object]
                if fake.mode == "down":
                    status, body = 500, {"message": "down"}
                elif fake.mode == "429":
                    status, body = 429, {"message": "Too many requests"}
                    headers["Retry-After"] = fake.retry_after
                elif path != FakeHorde.FIND_USER_PATH:
                    status, body = 404, {"message": "no such route"}
                elif (username := fake.users.get(apikey)) is None:
                    status, body = 404, {"message": "User not found"}
                else:
                    user_id = username.rpartition("#")[2]
                    status, body = 200, {"username": username, "id": int(user_id) if user_id.isdigit() else None}
                _send(self, status, headers, json.dumps(body).encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def _failing(self, path: str) -> bool:
        return self.usage_mode != "up" and (self.usage_failing is None or path in self.usage_failing)

    def _serve_usage(
        self, handler: http.server.BaseHTTPRequestHandler, path: str, params: dict[str, list[str]]
    ) -> None:
        while self._failing(path) and self.usage_mode == "hang":
            if self._closing.wait(0.02):
                return  # shutting down: hang up without an answer
        mode: UsageMode = self.usage_mode if self._failing(path) else "up"
        if mode == "slow" and self._closing.wait(self.delay):
            return
        if mode == "drop":
            handler.close_connection = True
            return
        status, headers, body = self._usage_answer(path, params, mode)
        if mode == "truncated":
            handler.close_connection = True
            _send(handler, status, headers, body[: len(body) // 2], content_length=len(body) + 100)
        else:
            _send(handler, status, headers, body)

    def _usage_answer(
        self, path: str, params: dict[str, list[str]], mode: UsageMode
    ) -> tuple[int, dict[str, str], bytes]:
        json_type = {"Content-Type": "application/json"}
        if mode == "500":
            return 500, json_type, b'{"message": "Internal Server Error"}'
        if mode == "429":
            return 429, {**json_type, "Retry-After": self.retry_after}, b'{"message": "Too many requests"}'
        if mode == "garbage":
            return 200, {"Content-Type": "text/html"}, b"<html><body>502 Bad Gateway (not JSON)</body></html>"
        if mode == "wrong":
            wrong: object = [{"message": "unexpected"}] if "/stats/" in path else {"message": "unexpected"}
            return 200, json_type, json.dumps(wrong).encode()
        requested = params.get("type", [None])[-1]
        if requested is not None and requested not in HORDE_KINDS:
            message = {"message": "Input payload validation failed", "errors": {"type": f"{requested!r} unknown"}}
            return 400, json_type, json.dumps(message).encode()
        payload: object
        if path == self.STATUS_PATH:
            payload = self._usage_of(requested or "image").status
        elif path == self.WORKERS_PATH:
            kinds = [requested] if requested else list(HORDE_KINDS)
            payload = [worker for kind in kinds for worker in self._usage_of(kind).workers]
        else:
            kind = next(k for k, p in self.STATS_PATHS.items() if p == path)
            payload = self._usage_of(kind).stats
        return 200, json_type, json.dumps(payload).encode()

    def _usage_of(self, kind: str) -> FakeUsage:
        return self.usage.get(kind) or FakeUsage()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def __enter__(self) -> FakeHorde:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()


def _send(
    handler: http.server.BaseHTTPRequestHandler,
    status: int,
    headers: dict[str, str],
    body: bytes,
    *,
    content_length: int | None = None,
) -> None:
    """Answer with *status*, *headers* and *body* (announcing *content_length* bytes, by default the body's)."""
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    if "Content-Type" not in headers:
        handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body) if content_length is None else content_length))
    try:
        handler.end_headers()
        handler.wfile.write(body)
    except ConnectionError:
        pass  # the caller gave up while we hung


@functools.cache
def reference_documents() -> dict[Category, dict[str, dict[str, Any]]]:
    """The real data as v2 documents per category (every category, empty ones too)."""
    bundle = read_bundle(reference_files())
    return {c: {key: record.to_document() for key, record in bundle.categories.get(c, [])} for c in Category}


RETIRED_IMAGE_MODELS = ("Midjourney Diffusion", "Seek.art MEGA", "Voxel Art Diffusion")
"""Image names ``realistic_usage`` puts in the stats only: none is (or shares a base name with) a reference model."""
RETIRED_TEXT_MODELS = ("koboldcpp/Psyfighter-13B", "koboldcpp/Noromaid-v0.1-mixtral-8x7b")
"""Text names likewise."""
QUANT_SUFFIXES = ("-Q4_K_M", "-Q8_0")


def realistic_usage(documents: Mapping[Category, Mapping[str, object]]) -> dict[str, FakeUsage]:
    """Deterministic AI-Horde payloads for the image and text models of *documents* (a few ms; fresh objects).

    Models are taken in ``sorted(names, key=str.casefold)`` order; ``i`` is the position in that order.

    Image (``i % 10``): 0 popular (status ``count`` 18..30, day stats in the thousands), e.g. "2DN",
    "AlbedoBase XL 3.1", "Anything v3"; 1, 2, 4, 5, 6, 8 ordinary (count 1..12, smaller stats), e.g.
    "526Mix-Animated", "Anything v5", "Analog Diffusion"; 3 in the status with count 0 (a queue, no worker) and
    no stats, e.g. "AAM XL", "Analog Madness"; 7 stats only (no status, no worker; day 0), e.g. "ACertainThing",
    "AnyLoRA", "BB95 Furry Mix v14"; 9 nothing at all (dead weight), e.g. "AlbedoBase XL (SDXL)", "Anything
    Diffusion Inpainting", "Blank Canvas XL". Plus ``RETIRED_IMAGE_MODELS`` in the stats only.

    Text (``i % 20``; ``short`` is the name after its first "/", the whole name when it has none): 0
    ``koboldcpp/<short>`` popular (count 3..8), e.g. "koboldcpp/Marx-3B-V3" (acrastt/Marx-3B-V3); 1
    ``aphrodite/<name>``, e.g. "aphrodite/Aeala/Enterredaas-33b"; 2 both ``koboldcpp/<short>`` and
    ``aphrodite/<name>``, e.g. "koboldcpp/Enterredaas-65b" and "aphrodite/Aeala/Enterredaas-65b"; 3 the bare
    ``<name>``, e.g. "aetherwiing/MN-12B-Starcannon-v3"; 4 ``koboldcpp/<short lower-cased>`` (mixed case against
    the reference when ``short`` has capitals), e.g. "koboldcpp/ai21-jamba-1.5-mini" (ai21labs/AI21-Jamba-1.5-Mini);
    5 ``koboldcpp/<short>`` plus ``koboldcpp/<short>-Q4_K_M`` (status with 1 worker, and stats) and
    ``koboldcpp/<short>-Q8_0`` (stats only), e.g. "koboldcpp/MS-Meadowlark-22B-Q4_K_M"
    (allura-org/MS-Meadowlark-22B); 6 ``koboldcpp/<short>`` in the stats only (no status, no worker), e.g.
    "koboldcpp/Tlacuilo-12B"; 7..19 nothing (dead weight), e.g. "alpindale/goliath-120b". Status and stats use
    the same names; counts are 1..3 unless popular. Plus ``RETIRED_TEXT_MODELS`` in the stats only.

    Workers: each status name with ``count`` c is listed by exactly c workers (under that exact name); image
    workers serve 1..25 models, text workers 1..3, each text worker only names of one backend prefix (or only
    bare names). All workers are online; ids are fixed UUIDs.
    """
    image = sorted(documents.get(Category.IMAGE_GENERATION, {}), key=str.casefold)
    text = sorted(documents.get(Category.TEXT_GENERATION, {}), key=str.casefold)
    return {"image": _realistic_image(image), "text": _realistic_text(text)}


def _stats_entry(stats: dict[str, dict[str, int]], name: str, day: int, month: int, total: int) -> None:
    stats["day"][name], stats["month"][name], stats["total"][name] = day, max(day, month), max(day, month, total)


def _status_entry(rng: random.Random, kind: UsageKind, name: str, count: int) -> dict[str, Any]:
    speed = rng.uniform(200_000.0, 2_500_000.0) if kind == "image" else rng.uniform(5.0, 60.0)
    queued = rng.randint(0, 40) * (1 if count else 3)
    jobs = min(queued, rng.randint(0, 8))
    return {
        "performance": round(speed * count, 1),
        "queued": queued,
        "jobs": jobs,
        "eta": rng.randint(0, 120) if count else 10_000,
        "type": kind,
        "name": name,
        "count": count,
    }


def _realistic_image(names: list[str]) -> FakeUsage:
    rng = random.Random(20_240_101)
    usage = FakeUsage()
    counts: dict[str, int] = {}
    for i, name in enumerate(names):
        shape = i % 10
        if shape == 9:
            continue
        if shape == 7:
            _stats_entry(usage.stats, name, 0, rng.randint(1, 400), rng.randint(2_000, 90_000))
            continue
        if shape == 3:
            usage.status.append(_status_entry(rng, "image", name, 0))
            continue
        popular = shape == 0
        count = rng.randint(18, 30) if popular else rng.randint(1, 12)
        counts[name] = count
        usage.status.append(_status_entry(rng, "image", name, count))
        day = rng.randint(2_000, 25_000) if popular else rng.randint(0, 900)
        month = day * rng.randint(25, 31) + rng.randint(0, 500)
        _stats_entry(usage.stats, name, day, month, month * rng.randint(2, 12) + rng.randint(0, 5_000))
    known = {name.casefold() for name in names}
    for name in RETIRED_IMAGE_MODELS:
        if name.casefold() not in known:
            _stats_entry(usage.stats, name, 0, 0, rng.randint(10_000, 400_000))
    usage.workers = [
        _worker(rng, "image", n, models)
        for n, models in enumerate(_spread(rng, counts, lambda: rng.randint(1, 25)), start=1)
    ]
    return usage


def _realistic_text(names: list[str]) -> FakeUsage:
    rng = random.Random(20_240_202)
    usage = FakeUsage()
    counts: dict[str, int] = {}
    taken: set[str] = set()

    def add(horde_name: str, count: int, *, status: bool = True) -> None:
        if horde_name.casefold() in taken:
            return
        taken.add(horde_name.casefold())
        if status:
            counts[horde_name] = count
            usage.status.append(_status_entry(rng, "text", horde_name, count))
        day = rng.randint(0, 40) * count if status else 0
        month = day * rng.randint(20, 31) + rng.randint(1, 300)
        _stats_entry(usage.stats, horde_name, day, month, month * rng.randint(2, 10) + rng.randint(0, 2_000))

    for i, name in enumerate(names):
        shape = i % 20
        short = name.split("/", 1)[-1]
        count = rng.randint(3, 8) if shape == 0 else rng.choice((1, 1, 1, 2, 2, 3))
        if shape == 0:
            add(f"koboldcpp/{short}", count)
        elif shape == 1:
            add(f"aphrodite/{name}", count)
        elif shape == 2:
            add(f"koboldcpp/{short}", count)
            add(f"aphrodite/{name}", rng.choice((1, 1, 2)))
        elif shape == 3:
            add(name, count)
        elif shape == 4:
            add(f"koboldcpp/{short.lower()}", count)
        elif shape == 5:
            add(f"koboldcpp/{short}", count)
            add(f"koboldcpp/{short}{QUANT_SUFFIXES[0]}", 1)
            add(f"koboldcpp/{short}{QUANT_SUFFIXES[1]}", 0, status=False)
        elif shape == 6:
            add(f"koboldcpp/{short}", 0, status=False)
    known = {f"koboldcpp/{n.split('/', 1)[-1]}".casefold() for n in names}
    for name in RETIRED_TEXT_MODELS:
        if name.casefold() not in known:
            add(name, 0, status=False)
    by_backend: dict[str, dict[str, int]] = {}
    for horde_name, count in counts.items():
        backend = horde_name.split("/", 1)[0] if horde_name.startswith(("koboldcpp/", "aphrodite/")) else ""
        by_backend.setdefault(backend, {})[horde_name] = count
    spread = [
        models
        for backend in sorted(by_backend)
        for models in _spread(rng, by_backend[backend], lambda: rng.choice((1, 2, 2, 3, 3)))
    ]
    usage.workers = [_worker(rng, "text", n, models) for n, models in enumerate(spread, start=1)]
    return usage


def _spread(rng: random.Random, counts: dict[str, int], capacity: Callable[[], int]) -> list[list[str]]:
    """Workers' model lists such that each name is on exactly ``counts[name]`` of them, none over its capacity."""
    workers: list[list[str]] = []
    room: list[int] = []
    for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        free = [w for w in range(len(workers)) if room[w] > 0]
        while len(free) < count:
            workers.append([])
            room.append(capacity())
            free.append(len(workers) - 1)
        for w in sorted(free, key=lambda w: (-room[w], rng.random()))[:count]:
            workers[w].append(name)
            room[w] -= 1
    for models in workers:
        rng.shuffle(models)
    return workers


_WORKER_WORDS = ("Amber", "Basalt", "Cobalt", "Dune", "Ember", "Fjord", "Granite", "Harbor", "Iris", "Juniper")


def _worker(rng: random.Random, kind: UsageKind, number: int, models: list[str]) -> dict[str, Any]:
    worker: dict[str, Any] = {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "name": f"{rng.choice(_WORKER_WORDS)} {kind} worker {number:03d}",
        "type": kind,
        "models": models,
        "online": True,
        "trusted": rng.random() < 0.7,
        "uptime": rng.randint(600, 40_000_000),
        "requests_fulfilled": rng.randint(0, 2_000_000),
        "kudos_rewards": round(rng.uniform(0, 5_000_000), 1),
        "threads": rng.choice((1, 1, 1, 2)),
        "uncompleted_jobs": rng.randint(0, 50),
        "maintenance_mode": False,
        "nsfw": rng.random() < 0.6,
        "flagged": False,
        "info": rng.choice((None, "", "Running on a spare GPU", "Community worker — be nice")),
    }
    if kind == "image":
        worker["performance"] = f"{rng.uniform(0.2, 4.0):.1f} megapixelsteps per second"
        worker["bridge_agent"] = "AI Horde Worker reGen:9.1.0:https://github.com/Haidra-Org/horde-worker-reGen"
        worker["max_pixels"] = rng.choice((1_048_576, 2_359_296, 4_194_304))
        worker.update({"img2img": True, "painting": rng.random() < 0.5, "post-processing": True, "lora": True})
    else:
        worker["performance"] = f"{rng.uniform(3.0, 80.0):.1f} tokens per second"
        if models[0].startswith("koboldcpp/"):
            worker["bridge_agent"] = "KoboldCppEmbedWorker:2:https://github.com/LostRuins/koboldcpp"
        else:
            worker["bridge_agent"] = "AI Horde Worker ReGen:5.3.0:https://github.com/Haidra-Org/horde-worker-reGen"
        worker["max_length"] = rng.choice((256, 512, 512, 1024))
        worker["max_context_length"] = rng.choice((4096, 8192, 8192, 16384, 32768))
    return worker


def github_files(base: str) -> tuple[GithubLayout, dict[str, bytes]]:
    """A GitHub layout under *base* and the real legacy files at its paths (for ``serve_files``)."""
    layout = GithubLayout(raw_url_template=base + "/{owner}/{name}/refs/heads/{branch}/{file}")
    files = reference_files()
    return layout, {url.removeprefix(base): files[name] for name, url in layout.urls().items() if name in files}


class FakePrimary:
    """A PRIMARY on 127.0.0.1 serving v2 categories as modelref does — ETags, 304s, the content-tagged
    ``metadata/last_updated`` poll, 404 ``category_empty`` — and failing on demand.

    ``mode`` (for category reads unless said): "up"; "garbage" (200, not JSON); "truncated" (200, the first half of
    the body); "empty" (200 ``{}``); "drop" (the headers and half the body, then the connection closes); "500" (the
    categories and the structure; the poll still answers); "slow" (answers after ``delay`` seconds); "legacy" (as
    the existing service: no ETags, no poll, 200 ``{}`` for an empty category; no ``text_generation/structure``, but
    its alias and family lists); "503" (up, but every route answers 503: the poll, the categories, the v1 routes and
    the structure alike). ``failing``: categories that answer 500 whatever the mode. ``categories`` and
    ``structure`` (the text groups' aliases, families and schemas, as ``text_generation/structure`` serves them) may
    be changed at any time. ``seen`` lists (path, status) asked.
    """

    def __init__(self, categories: dict[Category, dict[str, dict[str, Any]]] | None = None) -> None:
        self.categories = {c: dict(d) for c, d in (categories or reference_documents()).items()}
        self.mode = "up"
        self.delay = 3.0
        self.failing: set[Category] = set()
        self.structure: dict[str, Any] | None = {"aliases": {}, "families": {}, "schemas": {}}
        """None: its routes answer 500."""
        self.seen: list[tuple[str, int]] = []
        self._connections: set[socket.socket] = set()
        """The connections open now (a client keeps its connection between requests)."""
        fake = self

        class _Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                fake._connections.add(self.connection)

            def finish(self) -> None:
                fake._connections.discard(self.connection)
                super().finish()

            def do_GET(self) -> None:
                status, headers, body = fake._answer(self.path, self.headers.get("If-None-Match"))
                fake.seen.append((self.path, status))
                if fake.mode == "slow":
                    time.sleep(fake.delay)
                cut = fake.mode in {"truncated", "drop"} and status == 200 and "/metadata/" not in self.path
                sent = body[: len(body) // 2] if cut else body
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body) if fake.mode == "drop" else len(sent)))
                if fake.mode == "drop" and cut:
                    self.close_connection = True
                try:
                    self.end_headers()
                    self.wfile.write(sent)
                except ConnectionError:
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def body(self, category: Category) -> bytes:
        documents = self.categories.get(category, {})
        return b"{" + b",".join(orjson.dumps(k) + b":" + orjson.dumps(d) for k, d in documents.items()) + b"}"

    def _answer(self, path: str, if_none_match: str | None) -> tuple[int, dict[str, str], bytes]:
        if self.mode == "503":
            return 503, {}, b'{"detail":"Service Unavailable"}'
        legacy = self.mode == "legacy"
        route = path.split("?")[0].removeprefix("/api/model_references/v2/")
        if route == "metadata/last_updated" and not legacy:
            tag = catalog_tag(content_tag(self.body(c)) for c in Category)
            if if_none_match == f'"{tag}"':
                return 304, {"ETag": f'"{tag}"'}, b""
            return 200, {"ETag": f'"{tag}"'}, b'{"last_updated":1}'
        if route.startswith("text_generation/"):
            return self._structure_answer(route, if_none_match)
        if route not in {c.value for c in Category}:
            return 404, {}, b'{"detail":"Not Found"}'
        category = Category(route)
        body = self.body(category)
        if self.mode == "500" or category in self.failing:
            return 500, {}, b"Internal Server Error"
        if self.mode == "garbage":
            return 200, {}, b"<html>surprise</html>"
        if self.mode == "empty" or (legacy and body == b"{}"):
            return 200, {}, b"{}"
        if body == b"{}":
            return 404, {"X-Error-Code": "category_empty"}, b'{"detail":"Model category not found"}'
        if legacy:
            return 200, {"Content-Type": "application/json"}, body
        tag = content_tag(body)
        if if_none_match == f'"{tag}"':
            return 304, {"ETag": f'"{tag}"'}, b""
        return 200, {"ETag": f'"{tag}"', "Last-Modified": "Sun, 29 Nov 2026 10:00:00 GMT"}, body

    def _structure_answer(self, route: str, if_none_match: str | None) -> tuple[int, dict[str, str], bytes]:
        """The text groups' structure (modelref), or as the existing service its alias and family lists."""
        structure = self.structure
        if self.mode == "500" or structure is None:
            return 500, {}, b"Internal Server Error"
        if self.mode == "garbage":
            return 200, {}, b"<html>surprise</html>"
        if self.mode == "legacy" and route == "text_generation/aliases":
            entries = [{"canonical": c, "aliases": a} for c, a in structure["aliases"].items()]
            return 200, {}, orjson.dumps({"entries": entries})
        if self.mode == "legacy" and route == "text_generation/families":
            families = [{"family_name": f, "members": m} for f, m in structure["families"].items()]
            return 200, {}, orjson.dumps({"families": families})
        if self.mode == "legacy" or route != "text_generation/structure":
            return 404, {}, b'{"detail":"Not Found"}'
        body = orjson.dumps(structure)
        tag = content_tag(body)
        if if_none_match == f'"{tag}"':
            return 304, {"ETag": f'"{tag}"'}, b""
        return 200, {"ETag": f'"{tag}"'}, body

    def category_reads(self) -> list[tuple[str, int]]:
        """The (path, status) of every category read so far (the poll and the text groups' structure left out)."""
        return [(p, s) for p, s in self.seen if "/metadata/" not in p and "/text_generation/" not in p]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api"

    def __enter__(self) -> FakePrimary:
        self.thread.start()
        return self

    def stop(self) -> None:
        """Go away, as a process that ends: the connections open are closed, and its port refuses new ones
        (idempotent)."""
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
        for connection in list(self._connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def __exit__(self, *exc: object) -> None:
        self.stop()


KEYS = {"requestor-key": "Req#1001", "approver-key": "App#2002", "stranger-key": "Nobody#3003"}
REQUESTOR = {"apikey": "requestor-key"}
APPROVER = {"apikey": "approver-key"}
STRANGER = {"apikey": "stranger-key"}


# -- the real data's counts, named once --------------------------------------------------------------------

REAL_RECORDS = 913
"""Records in the real legacy files (all categories)."""
REAL_IMAGE = 161
REAL_TEXT = 719
"""Base text models (db.json also lists each under two backend prefixes)."""
REAL_DB_JSON_ENTRIES = 2157
REAL_TEXT_GROUPS = 419


# -- reading a store in tests ----------------------------------------------------------------------------


def audit_events(store: Store) -> list[AuditEvent]:
    with store.read() as tx:
        return tx.audit.events()


def chain_problems(store: Store) -> list[str]:
    with store.read() as tx:
        return tx.audit.verify()


def queued_changes(store: Store) -> list[PendingChangeRecord]:
    """Every change in the queue, by id."""
    with store.read() as tx:
        return [change for i in tx.queue.ids() if (change := tx.queue.get(i)) is not None]


def record_counts(store: Store) -> dict[Category, int]:
    with store.read() as tx:
        return {category: state.count for category, state in tx.records.states().items()}


# -- running the service in tests ------------------------------------------------------------------------


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "seed_source": str(REFERENCE_DATA),
        "cors_allowed_origins": ["https://ui.example"],
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def seed_database(folder: Path, now: int = 1_700_000_000) -> Path:
    """Import the real data, as of *now*, into a fresh ``folder/modelref.sqlite3`` (the file
    ``writable_settings`` copies); return *folder*."""
    folder.mkdir(parents=True, exist_ok=True)
    store = Store(f"sqlite:///{folder / 'modelref.sqlite3'}")
    try:
        store.migrate()
        import_bundle(store, read_bundle(reference_files()), now=now)
    finally:
        store.close()
    return folder


def writable_settings(data_dir: Path, seeded: Path, horde: FakeHorde, **overrides: object) -> Settings:
    """Settings for an app on a private copy of the seeded database, with the fake AI-Horde and roles."""
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(seeded / "modelref.sqlite3", data_dir / "modelref.sqlite3")
    values: dict[str, object] = {
        "ai_horde_url": horde.url,
        "pending_queue": {"requestor_ids": ["1001"], "approver_ids": ["2002"]},
    }
    values.update(overrides)
    return make_settings(data_dir, **values)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(
    data_dir: Path, *args: str, database_url: str | None = None, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    """Start `modelref serve` on a free port; yield its base URL, its log file and the process."""
    port = _free_port()
    env = {
        **os.environ,
        "HORDE_MODEL_REFERENCE_DATA_DIR": str(data_dir),
        "HORDE_MODEL_REFERENCE_SEED_SOURCE": str(REFERENCE_DATA),
        **(extra_env or {}),
    }
    if database_url:
        env["HORDE_MODEL_REFERENCE_DATABASE_URL"] = database_url
    log = data_dir / f"serve-{port}.log"
    with log.open("a") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "modelref.cli", "serve", "--port", str(port), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"modelref serve did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield base, log, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def running(app: ModelRefApp) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.api.router.lifespan_context(app.api),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://modelref.test") as client,
    ):
        yield client


# -- the contract runs (schemathesis) ------------------------------------------------------------------------

GUARD_CODES = frozenset({"not_served", "not_writable"})
"""X-Error-Code of a 503 that says the deployment does not serve the operation (API.md §1.5 guards)."""


def no_server_error_but_guards(ctx: object, response: Any, case: Any) -> None:
    """A schemathesis check: no 5xx, except the 503 with which a deployment refuses an operation it does not
    serve by design (the non-canonical API's writes, queue and metadata; a REPLICA's writes)."""
    if response.status_code < 500:
        return
    codes = response.headers.get("x-error-code") or []
    code = codes[0] if isinstance(codes, list) and codes else codes
    if response.status_code == 503 and code in GUARD_CODES:
        return
    raise AssertionError(
        f"{case.operation.label} answered {response.status_code} ({code or 'no error code'}): {response.text[:300]}"
    )


# -- the text-name parser as it was before its linear scanner (the reference its tests and bench compare with)

_I = re.IGNORECASE
_REF_LEADING_VERSION = re.compile(r"^(\d+\.\d+(?:\.\d+)?)[_\-]")
_REF_SIZE = (
    re.compile(r"(?<![a-zA-Z])(\d+\.?\d*[BMK]\d*)(?![a-zA-Z])", _I),
    re.compile(r"(?<![a-zA-Z])(\d+x\d+[BMK])(?![a-zA-Z])", _I),
)
_REF_VERSION = (
    re.compile(r"(?<![a-zA-Z0-9])([vV]\d+(?:\.\d+)+)(?![a-zA-Z0-9])", _I),
    re.compile(r"(?<![a-zA-Z0-9])([vV]\d+)(?![a-zA-Z0-9.])", _I),
)
_REF_QUANT = (
    re.compile(r"\b(Q[2-8]_K(?:_[SMLH])?)\b", _I),
    re.compile(r"\b(Q[2-8]_[01])\b", _I),
    re.compile(r"\b(Q[2-8])\b", _I),
    re.compile(r"\b(GGUF|GGML|GPTQ|AWQ|EXL2)\b", _I),
    re.compile(r"\b(fp16|fp32|int8|int4)\b", _I),
)
_REF_VARIANT = (
    re.compile(r"\b(Instruct|Chat|Code|Base|Uncensored|Finetune|FT)\b", _I),
    re.compile(r"\b(Thinking|Reasoning)\b", _I),
    re.compile(r"\b(turbo|preview|latest)\b", _I),
)
_REF_DATE = (
    re.compile(r"(?<![a-zA-Z0-9])(\d{2}-\d{4})(?![a-zA-Z0-9])"),
    re.compile(r"(?<![a-zA-Z0-9])(\d{4}-\d{2})(?![a-zA-Z0-9])"),
    re.compile(r"(?<![a-zA-Z0-9])(\d{4})(?![a-zA-Z0-9])"),
)
_SEPARATORS = "-_ ."


def _ref_take(patterns: tuple[re.Pattern[str], ...], s: str) -> tuple[re.Match[str] | None, str]:
    for pattern in patterns:
        match = pattern.search(s)
        if match:
            return match, s[: match.start()] + s[match.end() :]
    return None, s


def reference_parse(name: str) -> ParsedName:
    s = name
    extras: list[ExtraPart] = []
    leading = _REF_LEADING_VERSION.match(s)
    if leading:
        extras.append(ExtraPart(leading.group(1), 0, ExtraPartType.LEADING_VERSION))
        s = s[leading.end() :]
    size_match, s = _ref_take(_REF_SIZE, s)
    version_match, s = _ref_take(_REF_VERSION, s)
    quant_match, s = _ref_take(_REF_QUANT, s)
    variant_match, s = _ref_take(_REF_VARIANT, s)
    for pattern in _REF_DATE:
        date = pattern.search(s)
        if date:
            position = sum(1 for ch in name[: date.start()] if ch in _SEPARATORS)
            extras.append(ExtraPart(date.group(1), position, ExtraPartType.DATE))
            s = s[: date.start()] + s[date.end() :]
            break
    for sep in _SEPARATORS:
        while sep * 2 in s:
            s = s.replace(sep * 2, sep)
    base = s.strip(_SEPARATORS) or name
    lowered = re.sub(r"[-. ]", "_", base.lower())
    return ParsedName(
        original_name=name,
        base_name=base,
        size=size_match.group(1).upper() if size_match else None,
        variant=variant_match.group(1) if variant_match else None,
        quant=quant_match.group(1).upper() if quant_match else None,
        version=version_match.group(1) if version_match else None,
        normalized_name=re.sub(r"_+", "_", lowered).strip("_"),
        extras=tuple(extras),
    )


def reference_base_name(name: str) -> str:
    rest = strip_backend(name)
    if "/" in rest:
        rest = rest.split("/", 1)[1]
    return reference_parse(rest).base_name
