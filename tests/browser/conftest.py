"""Browser fixtures: one Chromium for the session (Playwright, sync API), a fresh page per test.

Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM): Playwright cannot download its own here.
Without it these tests are skipped with the reason, except under CI, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from typing import Any, Iterator

import pytest

from .ui import wait_ready

CHROMIUM = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000
VIEWPORT = {"width": 1280, "height": 720}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so a missing browser is a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    path = CHROMIUM if os.path.isabs(CHROMIUM) else shutil.which(CHROMIUM)
    if not path or not os.access(path, os.X_OK):
        _unavailable(f"Chromium not found at {CHROMIUM}: install Debian's chromium package or set $CHROMIUM")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("the 'playwright' Python package is not installed")
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class PageProblems(list):
    """Script errors and CSP violations seen by a page; a test fails when any is left."""

    # Chromium logs every 4xx answer to fetch(); the tests cause those on purpose.
    EXPECTED = ("Failed to load resource",)

    def console(self, message: Any) -> None:
        if message.type == "error" and not message.text.startswith(self.EXPECTED):
            self.append(f"console: {message.text}")


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport=VIEWPORT, locale="en-US", accept_downloads=True)
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


@pytest.fixture
def open_page(context: Any, live_server: Any) -> Iterator[Any]:
    """open_page(query="") -> a new page on the dashboard, ready (data loaded, scripts running)."""
    problems = PageProblems()

    def open_(query: str = "", ready: bool = True) -> Any:
        page = context.new_page()
        page.on("console", problems.console)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.goto(live_server.url + "/" + query)
        if ready:
            wait_ready(page)
        return page

    yield open_
    assert not problems, "the page reported problems:\n" + "\n".join(problems)


@pytest.fixture
def page(open_page: Any) -> Any:
    """The dashboard at 1280x720 in English, connected to its event stream."""
    return open_page()
