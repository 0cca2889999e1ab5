from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from modelref.http.app import create_app
from tests.support import KEYS, FakeHorde, make_settings, running, seed_database, writable_settings


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file holding the real data, imported once per test session (read-only tests copy it)."""
    return seed_database(tmp_path_factory.mktemp("seeded"))


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


@pytest.fixture(scope="module")
def module_horde() -> Iterator[FakeHorde]:
    with FakeHorde(KEYS) as fake:
        yield fake


@pytest.fixture(scope="module")
async def refusing_writer(
    tmp_path_factory: pytest.TempPathFactory, seeded_database: Path, module_horde: FakeHorde
) -> AsyncIterator[httpx.AsyncClient]:
    """A writable PRIMARY shared by a module's tests of refused writes: each of them changes nothing, and
    says so (the queue stays empty), so sharing one app costs no isolation."""
    settings = writable_settings(tmp_path_factory.mktemp("refusing"), seeded_database, module_horde)
    async for c in running(create_app(settings)):
        yield c


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
