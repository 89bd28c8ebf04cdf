"""What the OS refuses shows as the API's sentence, next to the form that asked, never as JSON."""

from __future__ import annotations

import re
import socket
from typing import Any

from .ui import create, expect, log_rows, port_of, send_from, submit_create


def assert_plain_sentence(text: str) -> None:
    assert text.strip(), "an empty error box"
    assert "{" not in text and '"error"' not in text and "Traceback" not in text, text


def test_connection_refused_is_explained(page: Any) -> None:
    with socket.socket() as holder:  # bound but not listening: a connect() there is refused
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        response = submit_create(page, "tcp-client", port)
    assert response.status == 409
    notice = page.get_by_test_id("create-error")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(re.compile(r"refused", re.I))
    expect(notice).to_contain_text(str(port))
    assert_plain_sentence(notice.inner_text())
    errors = log_rows(page, "error")
    expect(errors).to_have_count(1)
    expect(errors).to_have_class(re.compile(r"\bis-error\b"))

    notice.get_by_role("button").click()
    expect(notice).to_be_hidden()
    expect(page.get_by_test_id("endpoint-card")).to_have_count(0)


def test_port_in_use_is_explained(page: Any) -> None:
    _, server_card = create(page, "tcp-server", mode="echo")
    port = port_of(server_card)
    response = submit_create(page, "tcp-server", port, mode="echo")
    assert response.status == 409
    notice = page.get_by_test_id("create-error")
    expect(notice).to_contain_text(re.compile(rf"Port {port} is already in use"))
    assert_plain_sentence(notice.inner_text())

    _, again = create(page, "tcp-server", 0, mode="echo")  # success clears the old sentence
    expect(notice).to_be_hidden()
    assert port_of(again) != port


def test_bad_input_is_caught_in_the_page_and_by_the_api(page: Any) -> None:
    page.get_by_test_id("create-port").fill("http")
    page.get_by_test_id("create-submit").click()
    expect(page.get_by_test_id("create-error")).to_contain_text("0 to 65535")

    server, server_card = create(page, "tcp-server", mode="echo")
    client, client_card = create(page, "tcp-client", port_of(server_card))
    send_from(client_card, "zz", encoding="hex")
    notice = client_card.get_by_test_id("card-error")
    expect(notice).to_contain_text("hex")
    assert_plain_sentence(notice.inner_text())
    send_from(client_card, "68 69", encoding="hex")
    expect(notice).to_be_hidden()
    expect(log_rows(page, "recv", client, 2)).to_have_count(1)
