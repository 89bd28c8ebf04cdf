"""Access tokens and roles, end to end: the dashboard started with a control and a view token."""

from __future__ import annotations

from typing import Any

import pytest

from .ui import card, create, expect, wait_ready

CONTROL, VIEW = "control-s3cret", "view-s3cret"


@pytest.fixture
def protected(live_server: Any) -> Any:
    """The live dashboard, now demanding a token (as with SOCKETLAB_TOKEN and SOCKETLAB_VIEW_TOKEN)."""
    from webapp.auth import Access

    live_server.app.config["ACCESS"] = Access(CONTROL, VIEW)
    return live_server


def api_as(page: Any, server: Any, token: str, method: str, path: str, body: Any = None) -> Any:
    return page.request.fetch(f"{server.url}/api{path}", method=method, data=body,
                              headers={"Authorization": f"Bearer {token}"})


def test_token_in_the_url_is_stored_hidden_and_sent(protected: Any, open_page: Any) -> None:
    page = open_page(f"?token={CONTROL}")  # ready: the API and the event stream both took it
    assert "token" not in page.url, "the token must not stay in the address bar"
    assert page.evaluate("sessionStorage.getItem('socketlab.token')") == CONTROL
    expect(page.get_by_test_id("token-dialog")).to_be_hidden()
    expect(page.get_by_test_id("view-only-badge")).to_be_hidden()
    create(page, "tcp-server", mode="echo")  # an action carries the token too

    page.reload()  # the token lives on for this tab, not in the URL
    wait_ready(page)
    expect(page.get_by_test_id("endpoint-card")).to_have_count(1)


def test_a_401_asks_for_the_token_and_retries(protected: Any, open_page: Any) -> None:
    page = open_page(ready=False)
    dialog = page.get_by_test_id("token-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#token-wrong")).to_be_hidden()

    page.get_by_test_id("token-input").fill("wrong")
    page.get_by_test_id("token-submit").click()
    expect(page.locator("#token-wrong")).to_be_visible()

    page.get_by_test_id("token-input").fill(CONTROL)
    page.get_by_test_id("token-submit").click()
    expect(dialog).to_be_hidden()
    wait_ready(page)
    create(page, "tcp-server", mode="echo")


def test_view_token_watches_without_controls(protected: Any, open_page: Any) -> None:
    page = open_page(f"?token={VIEW}")
    expect(page.get_by_test_id("view-only-badge")).to_be_visible()
    expect(page.get_by_test_id("create-form")).to_be_hidden()
    expect(page.get_by_test_id("download-form")).to_be_hidden()

    answer = api_as(page, protected, CONTROL, "POST", "/endpoints",
                    {"kind": "tcp-server", "host": "127.0.0.1", "port": 0, "mode": "echo"})
    assert answer.status == 201
    server = card(page, answer.json()["id"])
    expect(server).to_be_visible()  # the viewer still sees what happens, live
    expect(server.get_by_test_id("endpoint-port")).to_have_text(str(answer.json()["local"][1]))
    for control in ("stop-endpoint", "stop-listening", "send-form"):
        expect(server.get_by_test_id(control)).to_be_hidden()
    assert api_as(page, protected, VIEW, "DELETE", f"/endpoints/{answer.json()['id']}").status == 403


def test_control_role_when_the_session_route_is_missing(context: Any, open_page: Any) -> None:
    context.route("**/api/session", lambda route: route.fulfill(status=404, json={"error": "no such route"}))
    page = open_page()
    expect(page.get_by_test_id("view-only-badge")).to_be_hidden()
    expect(page.get_by_test_id("create-form")).to_be_visible()
