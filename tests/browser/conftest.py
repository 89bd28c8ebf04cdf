"""Browser fixtures: a fresh dashboard page per test, in the session's one Chromium (the
`browser` and `context` fixtures live in tests/conftest.py, shared with tests/security)."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from .ui import wait_ready


class PageProblems(list):
    """Script errors and CSP violations seen by a page; a test fails when any is left."""

    # Chromium logs every 4xx answer to fetch(); the tests cause those on purpose.
    EXPECTED = ("Failed to load resource",)

    def console(self, message: Any) -> None:
        if message.type == "error" and not message.text.startswith(self.EXPECTED):
            self.append(f"console: {message.text}")


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
