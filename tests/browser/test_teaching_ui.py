"""The teaching controls of the page: framing, rules and impairment in the create form, the send
box's burst controls, the stream counters, TCP_INFO, UDP counters, and the code panel."""

from __future__ import annotations

import re
from typing import Any

from .ui import card, create, expect, log_rows, port_of, send_from, submit_create


def visible_fields(page: Any) -> dict[str, bool]:
    names = ["framing", "delimiter", "broadcast", "rules", "impair"]
    return {name: page.get_by_test_id(f"create-{name}").is_visible() for name in names}


def test_create_form_shows_the_fields_that_apply(page: Any) -> None:
    form = page.get_by_test_id("create-form")
    page.get_by_test_id("create-kind").select_option("tcp-server")
    expect(page.get_by_test_id("create-framing")).to_be_visible()
    assert visible_fields(page) == {"framing": True, "delimiter": False, "broadcast": False, "rules": True, "impair": False}
    page.get_by_test_id("create-framing").select_option("line")
    expect(page.get_by_test_id("create-delimiter")).to_have_value("\\n")
    page.get_by_test_id("create-mode").select_option("files")  # speaks its own protocol: no framing, no rules
    expect(page.get_by_test_id("create-framing")).to_be_hidden()
    expect(page.get_by_test_id("create-rules")).to_be_hidden()

    page.get_by_test_id("create-kind").select_option("udp-server")
    expect(page.get_by_test_id("create-impair")).to_be_visible()
    assert visible_fields(page) == {"framing": False, "delimiter": False, "broadcast": False, "rules": True, "impair": True}
    page.get_by_test_id("create-kind").select_option("udp-client")
    assert visible_fields(page) == {"framing": False, "delimiter": False, "broadcast": True, "rules": False, "impair": True}
    page.get_by_test_id("create-kind").select_option("tcp-client")
    assert visible_fields(page) == {"framing": True, "delimiter": True, "broadcast": False, "rules": False, "impair": False}

    page.get_by_test_id("lang-select").select_option("zh")
    expect(form.locator('[data-show="framing"] .label')).to_have_text("分帧")
    expect(page.get_by_test_id("lessons-button")).to_have_text("课程")


def test_framing_and_rules_reach_the_server(page: Any) -> None:
    page.get_by_test_id("create-kind").select_option("tcp-server")
    page.get_by_test_id("create-mode").select_option("echo")
    page.get_by_test_id("create-framing").select_option("line")
    page.get_by_test_id("create-delimiter").fill("\\r\\n")
    rows = page.get_by_test_id("rule-row")
    page.get_by_test_id("create-rules").locator("summary").click()
    for _ in range(3):
        page.get_by_test_id("rule-add").click()
    expect(rows).to_have_count(3)
    rows.nth(0).get_by_test_id("rule-match").fill(r"^hello (\w+)")
    rows.nth(0).get_by_test_id("rule-reply").fill("hi $1")
    rows.nth(1).get_by_test_id("rule-remove").click()
    expect(rows).to_have_count(2)  # the empty third row is left out of the spec
    answer = submit_create(page, "tcp-server", mode="echo")
    assert answer.status == 201, answer.text()
    server = answer.json()
    assert (server["framing"], server["delimiter"]) == ("line", "\r\n")
    assert server["rules"] == [{"match": r"^hello (\w+)", "reply": "hi $1"}]
    server_card = card(page, server["id"])
    expect(server_card.get_by_test_id("endpoint-mode")).to_contain_text("line \\r\\n")
    expect(server_card.get_by_test_id("endpoint-mode")).to_contain_text("1 rule")

    client, client_card = create(page, "tcp-client", server["local"][1], framing="line", delimiter="\\r\\n")
    newline = client_card.get_by_test_id("send-newline")
    expect(newline).to_be_disabled()  # the line framing ends every message itself
    send_from(client_card, "hello bob")
    answer_row = log_rows(page, "message", client)
    expect(answer_row).to_have_count(1)
    expect(answer_row.locator(".col-text")).to_have_text("hi bob")


def test_impairment_and_broadcast_make_the_spec(page: Any) -> None:
    server, server_card = create(page, "udp-server", mode="echo")
    page.get_by_test_id("create-kind").select_option("udp-client")
    page.get_by_test_id("create-impair").locator("summary").click()
    page.get_by_test_id("create-loss").fill("50")
    page.get_by_test_id("create-seed").fill("7")
    page.get_by_test_id("create-broadcast").check()
    answer = submit_create(page, "udp-client", port_of(server_card))
    assert answer.status == 201, answer.text()
    client = answer.json()
    assert client["impair"] == {"loss": 0.5, "duplicate": 0, "reorder": 0, "delay_ms": 0, "jitter_ms": 0, "seed": 7}
    assert client["broadcast"] is True
    client_card = card(page, client["id"])
    expect(client_card.get_by_test_id("endpoint-mode")).to_contain_text("loss 50%")
    expect(client_card.get_by_test_id("endpoint-mode")).to_contain_text("seed 7")
    expect(client_card.get_by_test_id("endpoint-mode")).to_contain_text("SO_BROADCAST")

    page.get_by_test_id("create-loss").fill("150")
    submit = page.get_by_test_id("create-submit")
    submit.click()
    expect(page.get_by_test_id("create-error")).to_contain_text("0 to 100")


def test_burst_numbered_with_newline_and_the_counters(page: Any) -> None:
    server, server_card = create(page, "tcp-server", mode="manual", framing="line")
    client, client_card = create(page, "tcp-client", port_of(server_card), framing="raw")  # raw, to a line server
    box = client_card.get_by_test_id("send-form")
    expect(box.get_by_test_id("send-newline")).to_be_checked()  # the peer wants lines
    expect(box.get_by_test_id("send-repeat")).to_be_hidden()  # folded until wanted
    box.get_by_test_id("send-burst-toggle").click()
    box.get_by_test_id("send-data").fill("hi")
    box.get_by_test_id("send-repeat").fill("3")
    box.get_by_test_id("send-interval").fill("0")
    box.get_by_test_id("send-numbered").check()
    box.get_by_test_id("send-submit").click()
    expect(box.get_by_test_id("send-result")).to_have_text("sent 18 bytes in 3 send() calls")
    messages = log_rows(page, "message", server)
    expect(messages).to_have_count(3)
    expect(messages.locator(".col-text")).to_have_text(["#1 hi", "#2 hi", "#3 hi"])

    counters = server_card.get_by_test_id("connection").get_by_test_id("stream-counters")
    expect(counters).to_have_attribute("data-messages", "3")
    expect(counters).to_have_attribute("data-peer-sends", "3")
    expect(counters.get_by_test_id("stream-in")).to_contain_text(re.compile(r"3\s*send\(\)\s*→\s*\d\s*recv\(\)\s*→\s*3\s*messages"))
    expect(server_card.get_by_test_id("stream-why")).to_contain_text("Line framing")
    expect(client_card.get_by_test_id("stream-out")).to_contain_text("3")

    box.get_by_test_id("send-repeat").fill("0")
    box.get_by_test_id("send-submit").click()
    expect(client_card.get_by_test_id("card-error")).to_contain_text("Repeat")


def test_periodic_send_says_what_follows(page: Any) -> None:
    server, server_card = create(page, "udp-server", mode="echo")
    client, client_card = create(page, "udp-client", port_of(server_card))
    box = client_card.get_by_test_id("send-form")
    box.get_by_test_id("send-data").fill("tick")
    box.get_by_test_id("send-burst-toggle").click()
    box.get_by_test_id("send-repeat").fill("4")
    box.get_by_test_id("send-interval").fill("20")
    box.get_by_test_id("send-submit").click()
    expect(box.get_by_test_id("send-result")).to_have_text("sent the first (4 bytes); 3 more follow, one every 20 ms")
    expect(box.get_by_test_id("send-burst-toggle")).to_have_text("× 4 ▾")
    stats = client_card.get_by_test_id("udp-stats")
    expect(stats).to_have_attribute("data-out", "4")
    expect(stats).to_have_attribute("data-in", "4")
    expect(stats).to_have_attribute("data-lost", "0")
    expect(stats).to_have_attribute("data-drops", "0")
    expect(server_card.get_by_test_id("udp-in")).to_have_text("4")


def test_tcp_info_shows_established_and_refreshes(page: Any) -> None:
    server, server_card = create(page, "tcp-server", mode="echo")
    client, client_card = create(page, "tcp-client", port_of(server_card))
    info = server_card.get_by_test_id("connection").get_by_test_id("tcp-info")
    expect(info).to_have_attribute("data-state", "ESTABLISHED")
    expect(info.get_by_test_id("tcp-info-state")).to_have_text("ESTABLISHED")
    expect(info.locator("summary")).to_contain_text("RTT")
    info.locator("summary").click()
    grid = info.get_by_test_id("tcp-info-grid")
    expect(grid).to_contain_text("Bytes acked")
    send_from(client_card, "hello")
    expect(log_rows(page, "recv", client, 5)).to_have_count(1)
    with page.expect_response(lambda r: r.url.endswith(f"/api/endpoints/{server}") and r.request.method == "GET"):
        server_card.get_by_test_id("tcp-info-refresh").click()
    info = server_card.get_by_test_id("connection").get_by_test_id("tcp-info")
    expect(info).to_have_attribute("open", "")  # still open after the redraw
    expect(info.get_by_test_id("tcp-info-grid")).to_contain_text("5 bytes")
    expect(client_card.get_by_test_id("tcp-info-state")).to_have_text("ESTABLISHED")

    # A busy connection makes the lab publish tcp_info events; the card takes TCP_INFO from them.
    grid = server_card.get_by_test_id("connection").get_by_test_id("tcp-info-grid")
    before = grid.inner_text()
    box = client_card.get_by_test_id("send-form")
    box.get_by_test_id("send-data").fill("x" * 1000)
    box.get_by_test_id("send-burst-toggle").click()
    box.get_by_test_id("send-repeat").fill("100")
    box.get_by_test_id("send-submit").click()
    expect(grid).not_to_have_text(before)
    # among hundreds of send/recv rows: the log's filter finds them (only rows near the screen are built)
    page.get_by_test_id("filter-kind").select_option("tcp_info")
    expect(log_rows(page, "tcp_info")).not_to_have_count(0)
    # every row the filter leaves is a tcp_info row (more may still arrive: count nothing else)
    expect(page.locator('[data-testid="event-row"]:not([data-kind="tcp_info"])')).to_have_count(0)


def test_code_panel_for_an_endpoint_and_a_download(page: Any) -> None:
    server, server_card = create(page, "tcp-server", mode="file", file="hello.txt")
    server_card.get_by_test_id("show-code").click()
    panel = page.get_by_test_id("code-panel")
    expect(panel).to_be_visible()
    expect(panel).to_have_attribute("data-state", "ready")
    text = panel.get_by_test_id("code-text").inner_text()
    assert text.startswith("#"), text[:80]
    assert "import socket" in text
    assert "hello.txt" in text
    expect(panel.get_by_test_id("code-note")).to_contain_text("python3 prog.py")
    font = panel.locator("pre").evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
    assert font >= 20, "large enough for the back of the room"
    panel.get_by_test_id("code-copy").click()
    expect(panel.get_by_test_id("code-status")).not_to_be_empty()
    panel.get_by_test_id("code-close").click()
    expect(panel).to_be_hidden()

    page.get_by_test_id("tab-download").click()
    page.get_by_test_id("download-submit").click()
    item = page.get_by_test_id("download")
    expect(item.get_by_test_id("download-state")).to_have_attribute("data-state", "done")
    item.get_by_test_id("show-code").click()
    expect(panel).to_have_attribute("data-state", "ready")
    expect(panel.get_by_test_id("code-text")).to_contain_text("import socket")
    expect(panel.get_by_test_id("code-title")).to_contain_text("d1")
