"""Screenshots for the README and docs/, at a projector's 1280x720, after a little real traffic."""

from __future__ import annotations

from typing import Any

from .ui import create, expect, log_rows, port_of, screenshots, send_from

# Written to test-artifacts/ on every run; SOCKETLAB_SCREENSHOTS=docs/screenshots refreshes the docs' (make screenshots).
SHOTS = screenshots()


def make_traffic(page: Any) -> None:
    server, server_card = create(page, "tcp-server", mode="echo")
    client, client_card = create(page, "tcp-client", port_of(server_card))
    expect(server_card.get_by_test_id("connection")).to_have_count(1)
    send_from(client_card, "hello")
    expect(log_rows(page, "recv", client, 5)).to_have_count(1)
    send_from(client_card, "Hi, class!")
    expect(log_rows(page, "recv", client, 10)).to_have_count(1)
    send_from(server_card, "48 69 0a", encoding="hex")
    expect(log_rows(page, "recv", client, 3)).to_have_count(1)
    udp_server, udp_card = create(page, "udp-server", mode="echo")
    udp_client, udp_client_card = create(page, "udp-client", port_of(udp_card))
    send_from(udp_client_card, "ping")
    expect(log_rows(page, "recv", udp_client, 4)).to_have_count(1)
    send_from(client_card, "hello")  # the log ends with the TCP round trip the cards show
    expect(log_rows(page, "recv", client, 5)).to_have_count(2)
    page.get_by_test_id("create-kind").select_option("tcp-server")
    page.locator("#event-log").scroll_into_view_if_needed()


def test_dashboard_screenshots(page: Any) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    make_traffic(page)
    page.locator("#endpoints").evaluate("el => el.closest('.panel').scrollTop = 0")
    page.screenshot(path=str(SHOTS / "dashboard.png"))

    page.get_by_test_id("lang-select").select_option("zh")
    expect(page.get_by_test_id("tab-create")).to_have_text("新建套接字")
    page.screenshot(path=str(SHOTS / "dashboard-zh.png"))
