from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from modelref.domain.bundle import read_bundle
from modelref.http.app import create_app
from modelref.services.importer import import_bundle
from modelref.settings import Settings
from modelref.storage.store import Store
from tests.support import KEYS, REFERENCE_DATA, FakeHorde, reference_files


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "seed_source": str(REFERENCE_DATA),
        "cors_allowed_origins": ["https://ui.example"],
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A SQLite file holding the real data, imported once per test session (read-only tests copy it)."""
    folder = tmp_path_factory.mktemp("seeded")
    store = Store(f"sqlite:///{folder / 'modelref.sqlite3'}")
    store.migrate()
    import_bundle(store, read_bundle(reference_files()), now=1_700_000_000)
    store.close()
    return folder


async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://modelref.test") as client,
    ):
        yield client


@pytest.fixture(scope="module")
async def client(seeded_database: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A client of one app on the real data (shared by the read-only tests of a module)."""
    settings = make_settings(seeded_database)
    async for c in running(create_app(settings)):
        yield c


@pytest.fixture
def horde() -> Iterator[FakeHorde]:
    with FakeHorde(KEYS) as fake:
        yield fake


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


@pytest.fixture
async def writer(tmp_path: Path, seeded_database: Path, horde: FakeHorde) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a v2-canonical PRIMARY of its own (writes do not leak between tests)."""
    async for c in running(create_app(writable_settings(tmp_path, seeded_database, horde))):
        yield c


@pytest.fixture
async def legacy_writer(tmp_path: Path, seeded_database: Path, horde: FakeHorde) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a legacy-canonical PRIMARY of its own."""
    settings = writable_settings(tmp_path, seeded_database, horde, canonical_format="legacy")
    async for c in running(create_app(settings)):
        yield c
