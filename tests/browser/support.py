"""What the browser tests and scripts/screenshots.py share: Debian's Chromium and a page whose problems are
recorded."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.sync_api import BrowserContext, ConsoleMessage, Dialog, Page, Response

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
"""What Chromium needs on a closed network, in a container."""
CHROMIUM_MISSING = "Chromium is missing: install it with `sudo apt-get install -y chromium` (or set MODELREF_CHROMIUM)"


def chromium_path(given: str | None = None) -> str | None:
    """*given*, else the Chromium MODELREF_CHROMIUM names, else Debian's; None when that file does not exist."""
    path = given or os.environ.get("MODELREF_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return path if Path(path).exists() else None


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
