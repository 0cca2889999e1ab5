"""A real Chromium (Debian's, driven by Playwright) against real services on 127.0.0.1.

Playwright's own browser download is not used: the tests launch ``/usr/bin/chromium`` (or
``MODELREF_CHROMIUM``) with the flags a closed network needs. A missing Chromium fails the tests with one line
saying how to install it; it never skips them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Dialog, Page, Response, sync_playwright

from modelref.domain.bundle import read_bundle
from modelref.http.app import create_app
from modelref.services.importer import import_bundle
from modelref.storage.store import Store
from tests.support import (
    KEYS,
    FakeHorde,
    live_server,
    realistic_usage,
    reference_documents,
    reference_files,
    writable_settings,
)

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    """Debian's Chromium, or the one MODELREF_CHROMIUM names; a failure that says how to install it."""
    path = os.environ.get("MODELREF_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(
            "Chromium is missing: install it with `sudo apt-get install -y chromium` (or set MODELREF_CHROMIUM)"
        )
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("browser-seeded")
    store = Store(f"sqlite:///{folder / 'modelref.sqlite3'}")
    store.migrate()
    import_bundle(store, read_bundle(reference_files()), now=1_700_000_000)
    store.close()
    return folder


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


class Watched:
    """A page whose problems are recorded: console errors (a CSP violation, a script error), failed loads of
    anything but the page itself (a page may answer 4xx on purpose), and dialogs (an alert)."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.page: Page = context.new_page()
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", self._console)
        self.page.on("response", self._response)
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(message.text)

    def _response(self, response: Response) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.problems.append(f"{response.status} {response.url}")


@pytest.fixture
def visitor(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context()
    watched = Watched(context)
    yield watched
    context.close()
    assert watched.dialogs == [], "a script from the data ran"
    assert watched.problems == [], f"console errors: {watched.problems}"
