from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelref.storage.store import Store
from tests.support import POSTGRES_ENV, REFERENCE_DATA, fresh_postgres_database


def pytest_sessionstart(session: pytest.Session) -> None:
    if not REFERENCE_DATA.is_dir():
        pytest.exit(
            f"the tests need the real reference data in {REFERENCE_DATA}: a folder 'shared/reference-data' "
            "beside this checkout (as the workspace lays it out)",
            returncode=4,
        )


ENGINES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextlib.contextmanager
def _empty_database(engine: str, folder: Path) -> Iterator[str]:
    if engine == "sqlite":
        yield f"sqlite:///{folder / 'modelref.sqlite3'}"
        return
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"{POSTGRES_ENV} is not set")
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, and (when configured) a fresh PostgreSQL database."""
    with _empty_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="module", params=ENGINES)
def module_database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """As ``database_url``, shared by a module's tests (for tests that change nothing)."""
    with _empty_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    store.migrate()
    yield store
    store.close()
