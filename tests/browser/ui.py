"""What a user does on the dashboard, as small functions the browser tests share."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, under CI, fails) and says why
    expect = None

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page


def screenshots(folder: str = "") -> Path:
    """Where the browser tests put their screenshots: a temporary folder, so a test run leaves the
    tree as it found it; `make screenshots` sets SOCKETLAB_SCREENSHOTS=docs/img to refresh the docs'."""
    root = os.environ.get("SOCKETLAB_SCREENSHOTS") or os.path.join(tempfile.gettempdir(), "socketlab-screenshots")
    return Path(root) / folder


def wait_ready(page: Page, timeout: float = 10_000) -> None:
    """The page has loaded its data and its event stream is connected (`timeout` in ms: a page in a
    Chromium just started in a namespace host, on a loaded machine, may need more than the default)."""
    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=timeout)
    expect(page.get_by_test_id("socket-state")).to_have_attribute("data-state", "connected", timeout=timeout)


def card(page: Page, ep_id: str) -> Locator:
    return page.locator(f'[data-testid="endpoint-card"][data-endpoint-id="{ep_id}"]')


def submit_create(page: Page, kind: str, port: int | str = 0, host: str = "127.0.0.1",
                  mode: str | None = None, **extra: str) -> Any:
    """Fill the "New socket" form and submit it; returns the API's response."""
    page.get_by_test_id("tab-create").click()
    page.get_by_test_id("create-kind").select_option(kind)
    page.get_by_test_id("create-host").fill(host)
    page.get_by_test_id("create-port").fill(str(port))
    if mode:
        page.get_by_test_id("create-mode").select_option(mode)
    for name, value in extra.items():
        field = page.get_by_test_id(f"create-{name}")
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    with page.expect_response(lambda r: r.url.endswith("/api/endpoints") and r.request.method == "POST") as answer:
        page.get_by_test_id("create-submit").click()
    return answer.value


def create(page: Page, kind: str, port: int | str = 0, **fields: Any) -> tuple[str, Locator]:
    """Create an endpoint from the form; returns its id and its card (already on the page)."""
    response = submit_create(page, kind, port, **fields)
    assert response.status == 201, response.text()
    ep_id = response.json()["id"]
    found = card(page, ep_id)
    expect(found).to_be_visible()
    return ep_id, found


def port_of(found: Locator) -> int:
    text = found.get_by_test_id("endpoint-port").inner_text()
    return int(text)


def send_from(found: Locator, data: str, encoding: str = "utf-8", conn: str | None = None) -> None:
    form = found.get_by_test_id("send-form")
    form.get_by_test_id("send-data").fill(data)
    form.get_by_test_id("send-encoding").select_option(encoding)
    if conn is not None:
        form.get_by_test_id("send-conn").select_option(conn)
    form.get_by_test_id("send-submit").click()


def log_rows(page: Page, kind: str | None = None, endpoint: str | None = None, size: int | None = None) -> Locator:
    selector = '[data-testid="event-row"]'
    if kind:
        selector += f'[data-kind="{kind}"]'
    if endpoint:
        selector += f'[data-endpoint="{endpoint}"]'
    if size is not None:
        selector += f'[data-size="{size}"]'
    return page.locator(selector)


ROWS_IN_VIEW = """() => {
  const box = document.getElementById("log-scroll").getBoundingClientRect();
  return [...document.querySelectorAll('#log-body [data-testid="event-row"]')]
    .filter((r) => { const b = r.getBoundingClientRect(); return b.top >= box.top && b.bottom <= box.bottom; })
    .map((r) => Number(r.dataset.seq));
}"""


def rows_in_view(page: Page) -> list[int]:
    """The seqs of the log rows wholly inside the log's scroller, oldest first."""
    return list(page.evaluate(ROWS_IN_VIEW))
