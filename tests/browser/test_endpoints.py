"""Endpoints from the UI: TCP echo round trip, one connection per client, stop listening vs stop."""

from __future__ import annotations

import re
from typing import Any

from .ui import card, create, expect, log_rows, port_of, send_from, submit_create


def test_tcp_echo_round_trip_shows_cards_and_events(page: Any) -> None:
    server, server_card = create(page, "tcp-server", mode="echo")
    port = port_of(server_card)
    assert port > 0, "the card shows the real port the OS chose, not 0"
    expect(server_card.get_by_test_id("endpoint-state")).to_have_attribute("data-state", "listening")
    expect(server_card.get_by_test_id("listener")).to_have_attribute("data-open", "true")
    expect(log_rows(page, "listen", server)).to_have_count(1)

    client, client_card = create(page, "tcp-client", port)
    client_port = port_of(client_card)
    expect(client_card.get_by_test_id("endpoint-remote")).to_have_text(f"127.0.0.1:{port}")
    expect(client_card.get_by_test_id("endpoint-lesson")).to_contain_text(str(client_port))
    connection = server_card.get_by_test_id("connection")
    expect(connection).to_have_count(1)
    expect(connection.get_by_test_id("connection-peer")).to_have_text(f"127.0.0.1:{client_port}")
    expect(log_rows(page, "accept", server)).to_have_count(1)
    expect(log_rows(page, "connect", client)).to_have_count(1)

    send_from(client_card, "hello")
    expect(client_card.get_by_test_id("send-result")).to_have_text("sent 5 bytes")
    expect(log_rows(page, "send", client, 5)).to_have_count(1)
    expect(log_rows(page, "recv", server, 5)).to_have_count(1)
    echo = log_rows(page, "recv", client, 5)
    expect(echo).to_have_count(1)
    expect(echo.locator(".col-text")).to_have_text("hello")
    expect(echo.locator(".col-hex")).to_have_text("68 65 6c 6c 6f")
    expect(echo.locator(".col-peer")).to_have_text(f"127.0.0.1:{port}")


def test_server_sends_to_one_connection_and_closes_it(page: Any) -> None:
    server, server_card = create(page, "tcp-server", mode="manual")
    port = port_of(server_card)
    first, first_card = create(page, "tcp-client", port)
    second, second_card = create(page, "tcp-client", port)
    rows = server_card.get_by_test_id("connection")
    expect(rows).to_have_count(2)
    second_conn = rows.filter(has_text=f":{port_of(second_card)}").get_attribute("data-conn-id")

    send_from(server_card, "hi", conn=second_conn)
    expect(log_rows(page, "recv", second, 2)).to_have_count(1)
    expect(log_rows(page, "recv", first)).to_have_count(0)

    rows.filter(has_text=f":{port_of(first_card)}").get_by_test_id("close-connection").click()
    expect(rows).to_have_count(1)
    expect(first_card.get_by_test_id("endpoint-state")).to_have_attribute("data-state", "closed")
    expect(log_rows(page, "close", first)).to_have_count(1)
    expect(second_card.get_by_test_id("endpoint-state")).to_have_attribute("data-state", "connected")


def test_stop_listening_keeps_connections_and_stop_closes_everything(page: Any) -> None:
    server, server_card = create(page, "tcp-server", mode="echo")
    port = port_of(server_card)
    client, client_card = create(page, "tcp-client", port)
    expect(server_card.get_by_test_id("connection")).to_have_count(1)

    server_card.get_by_test_id("stop-listening").click()
    expect(server_card.get_by_test_id("endpoint-state")).to_have_attribute("data-state", "not-listening")
    expect(server_card.get_by_test_id("listener")).to_have_attribute("data-open", "false")
    expect(server_card.get_by_test_id("stop-listening")).to_be_hidden()
    expect(server_card.get_by_test_id("connection")).to_have_count(1)

    send_from(client_card, "still")  # the accepted socket goes on without the listening one
    expect(log_rows(page, "recv", client, 5)).to_have_count(1)

    refused = submit_create(page, "tcp-client", port)
    assert refused.status == 409
    expect(page.get_by_test_id("create-error")).to_contain_text("refused")

    server_card.get_by_test_id("stop-endpoint").click()
    expect(card(page, server)).to_have_count(0)
    expect(client_card.get_by_test_id("endpoint-state")).to_have_attribute("data-state", "closed")
    expect(client_card.get_by_test_id("send-form")).to_be_hidden()

    client_card.get_by_test_id("stop-endpoint").click()
    expect(card(page, client)).to_have_count(0)
    expect(page.get_by_test_id("endpoint-card")).to_have_count(0)


def test_udp_server_answers_the_last_peer(page: Any) -> None:
    server, server_card = create(page, "udp-server", mode="manual")
    port = port_of(server_card)
    client, client_card = create(page, "udp-client", port)
    expect(client_card.get_by_test_id("endpoint-state")).to_have_attribute("data-state", "ready")

    send_from(client_card, "ping")
    expect(log_rows(page, "recv", server, 4)).to_have_count(1)
    # the OS gives the client its port at the first sendto(); the card shows it then
    expect(client_card.get_by_test_id("endpoint-port")).to_have_text(re.compile(r"^\d+$"))
    client_port = port_of(client_card)
    expect(server_card.get_by_test_id("endpoint-remote")).to_have_text(f"127.0.0.1:{client_port}")
    expect(client_card.get_by_test_id("endpoint-lesson")).to_contain_text(str(client_port))

    send_from(server_card, "pong")  # no "to": the last peer heard from
    expect(log_rows(page, "recv", client, 4)).to_have_count(1)


def test_http_mode_links_to_the_tiny_web_server(page: Any) -> None:
    server, server_card = create(page, "tcp-server", mode="http")
    link = server_card.get_by_test_id("endpoint-web")
    expect(link).to_have_attribute("href", f"http://127.0.0.1:{port_of(server_card)}/")
    expect(server_card.get_by_test_id("send-form")).to_be_hidden()  # it speaks HTTP by itself
    answer = page.request.get(link.get_attribute("href"))
    assert answer.status == 200
    expect(log_rows(page, "accept", server)).to_have_count(1)
