"""Shared test helpers: the real reference data, loopback HTTP servers, fresh PostgreSQL databases."""

from __future__ import annotations

import contextlib
import http.server
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa

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


Handler = Callable[[str], tuple[int, bytes]]
"""Maps a request path to (status, body)."""


@contextlib.contextmanager
def http_server(handler: Handler) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 answering GETs through *handler*; yields its base URL."""

    class _Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = handler(self.path)
            self.send_response(status)
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


class FakeHorde:
    """A small AI-Horde on 127.0.0.1: ``GET /api/v2/find_user`` answers for the keys it knows.

    ``mode`` switches it to failing: "down" (500), "slow" (answers after ``delay`` seconds).
    """

    def __init__(self, users: dict[str, str]) -> None:
        self.users = users
        self.mode = "up"
        self.delay = 3.0
        self.calls = 0
        fake = self

        class _Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                import json
                import time

                fake.calls += 1
                if fake.mode == "slow":
                    time.sleep(fake.delay)
                if fake.mode == "down":
                    status, body = 500, {"message": "down"}
                elif self.path.split("?")[0] != "/api/v2/find_user":
                    status, body = 404, {"message": "no such route"}
                elif (username := fake.users.get(self.headers.get("apikey", ""))) is None:
                    status, body = 404, {"message": "User not found"}
                else:
                    status, body = 200, {"username": username, "id": int(username.rsplit("#", 1)[1])}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def __enter__(self) -> FakeHorde:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


KEYS = {"requestor-key": "Req#1001", "approver-key": "App#2002", "stranger-key": "Nobody#3003"}
REQUESTOR = {"apikey": "requestor-key"}
APPROVER = {"apikey": "approver-key"}
STRANGER = {"apikey": "stranger-key"}
