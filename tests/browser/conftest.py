"""A real Chromium (Debian's, driven by Playwright) against real services on 127.0.0.1.

Playwright's own browser download is not used: the tests launch ``/usr/bin/chromium`` (or
``MODELREF_CHROMIUM``) with the flags a closed network needs. A missing Chromium fails the tests with one line
saying how to install it; it never skips them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from modelref.http.app import create_app
from tests.browser.support import CHROMIUM_FLAGS, CHROMIUM_MISSING, Watched, chromium_path
from tests.support import (
    KEYS,
    FakeHorde,
    live_server,
    realistic_usage,
    reference_documents,
    seed_database,
    writable_settings,
)


def installed_chromium() -> str:
    """Debian's Chromium, or the one MODELREF_CHROMIUM names; a failure that says how to install it."""
    path = chromium_path()
    if path is None:
        pytest.fail(CHROMIUM_MISSING)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=installed_chromium(), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_database(tmp_path_factory.mktemp("browser-seeded"))


@pytest.fixture(scope="module")
def horde() -> Iterator[FakeHorde]:
    with FakeHorde(KEYS, usage=realistic_usage(reference_documents())) as fake:
        yield fake


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, seeded: Path, horde: FakeHorde) -> Iterator[str]:
    """A PRIMARY on the real data, with the fake AI-Horde's users and usage, under uvicorn on 127.0.0.1."""
    settings = writable_settings(tmp_path_factory.mktemp("browser-primary"), seeded, horde)
    with live_server(create_app(settings)) as url:
        yield url


@pytest.fixture
def visitor(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context()
    watched = Watched(context)
    yield watched
    context.close()
    assert watched.dialogs == [], "a script from the data ran"
    assert watched.problems == [], f"console errors: {watched.problems}"
