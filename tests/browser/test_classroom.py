"""The classroom view: the sequence diagram (arrows, coalescing, handshake and close), the log's
filters, search, details and copy, payloads in other encodings, and the Chinese labels.

Traffic is made with the lab directly (live_server.app.extensions["socketlab"]): what is tested
here is what the page draws from the events, not the forms.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from lab.events.kinds import KINDS

from ..conftest import RUNNERS
from ..support import wait_until

from .ui import expect, log_rows, rows_in_view


# whatever runs the lab, the page draws the same: every test runs embedded and over an agent
pytestmark = pytest.mark.parametrize("app", RUNNERS, indirect=True)


def lab_of(live_server: Any) -> Any:
    """The lab the page shows: the dashboard's own, or (over an agent) the lab of the agent in its process."""
    return live_server.app.extensions["socketlab"] or live_server.app.extensions["socketlab_local_agent"].lab


def tcp_pair(lab: Any, mode: str = "manual", recv_delay_ms: int = 0) -> tuple[Any, Any]:
    """A TCP server and a client connected to it (accepted: the server has connection c1)."""
    server = lab.create({"kind": "tcp-server", "host": "127.0.0.1", "port": 0, "mode": mode,
                         "recv_delay_ms": recv_delay_ms})
    client = lab.create({"kind": "tcp-client", "host": "127.0.0.1", "port": server.local[1]})
    wait_until(lambda: server.connections)
    return server, client


def bus_events(lab: Any, kind: str, endpoint: str) -> list[Any]:
    return [e for e in lab.bus.since(0, 100_000)[0] if e.kind == kind and e.endpoint == endpoint]


def logged(lab: Any) -> list[Any]:
    """The events the log shows as rows, in its order: every kind the registry gives a row (not the
    `state` snapshots nor `classroom` changes), sorted causally by (ts, seq) as the log sorts them."""
    rows = [e for e in lab.bus.since(0, 100_000)[0] if KINDS[e.kind].log == "row"]
    return sorted(rows, key=lambda e: (e.ts, e.seq))


def dashboard_log(page: Any, live_server: Any) -> list[dict[str, Any]]:
    """What the page's log shows as rows, from the dashboard's own events (GET /api/events: its seqs,
    and over an agent its own rows too, "lab agent is up"), sorted causally as the log sorts them."""
    events = page.request.get(f"{live_server.url}/api/events?after=0&limit=10000").json()["events"]
    return sorted((e for e in events if KINDS[e["kind"]].log == "row"), key=lambda e: (e["ts"], e["seq"]))


def received_shown(page: Any, live_server: Any, endpoint: str) -> int:
    return sum(e["size"] for e in dashboard_log(page, live_server) if e["kind"] == "recv" and e["endpoint"] == endpoint)


def show(page: Any, view: str) -> None:
    page.get_by_test_id(f"view-{view}").click()
    expect(page.get_by_test_id("classroom")).to_have_attribute("data-view", view)


def arrows(page: Any, kind: str = "data") -> list[tuple[int, int, int]]:
    """(send seq, recv seq, bytes) of every data arrow drawn, in order."""
    return page.locator(f'[data-testid="ladder-arrow"][data-kind="{kind}"]').evaluate_all(
        "els => els.map(e => [Number(e.dataset.send), Number(e.dataset.recv), Number(e.dataset.bytes)])")


def recv_bytes_drawn(page: Any, lane: str) -> int:
    return page.locator(f'[data-testid="ladder-recv"][data-lane="{lane}"]').evaluate_all(
        "els => els.reduce((sum, e) => sum + Number(e.dataset.bytes), 0)")


def coalesced_burst(lab: Any, tries: int = 5) -> tuple[Any, Any]:
    """A TCP pair whose server's recv() returned fewer times than the client sent: 30 back-to-back
    sends to a slow reader (100 ms before each recv(), as the sticky-packet lesson does), so what
    arrives while it waits is read at once. A fast reader may keep up with every send on an idle
    machine (CI once saw 5 bursts of 30 read one send at a time)."""
    server, client = tcp_pair(lab, recv_delay_ms=100)
    for _ in range(tries):
        lab.send(client.id, {"data": "ab", "repeat": 30, "interval_ms": 0})
        sent = 2 * len(bus_events(lab, "send", client.id))
        wait_until(lambda sent=sent: sum(e.size for e in bus_events(lab, "recv", server.id)) == sent)
        if len(bus_events(lab, "recv", server.id)) < len(bus_events(lab, "send", client.id)):
            return server, client
    raise AssertionError("the OS never coalesced 30 back-to-back sends to a slow reader")


def test_diagram_draws_each_send_to_its_recv_with_byte_counts(page: Any, live_server: Any) -> None:
    lab = lab_of(live_server)
    show(page, "ladder")
    server, client = tcp_pair(lab)
    conn = f"{server.id}/c1"
    for lane, kind in ((server.id, "TCP server"), (conn, "accepted socket"), (client.id, "TCP client")):
        expect(page.locator(f'[data-testid="ladder-lane"][data-lane="{lane}"]')).to_contain_text(kind)
    expect(page.locator(f'[data-testid="ladder-lane"][data-lane="{server.id}"]')).to_contain_text(f"127.0.0.1:{server.local[1]}")
    handshake = page.locator('[data-testid="ladder-arrow"][data-kind="ctl"]')
    expect(handshake).to_have_count(1)  # connect() -> accept()
    expect(page.locator(f'[data-testid="ladder-accept"][data-lane="{conn}"]')).to_contain_text("accept() → new socket c1")

    lab.send(client.id, {"data": "hello"})
    expect(page.locator('[data-testid="ladder-arrow"][data-kind="data"]')).to_have_count(1)
    [(send, recv, size)] = arrows(page)
    assert size == 5
    expect(page.locator(f'[data-testid="ladder-send"][data-seq="{send}"]')).to_have_attribute("data-lane", client.id)
    expect(page.locator(f'[data-testid="ladder-send"][data-seq="{send}"]')).to_contain_text("send 5 bytes “hello”")
    expect(page.locator(f'[data-testid="ladder-recv"][data-seq="{recv}"]')).to_have_attribute("data-lane", conn)
    expect(page.locator(f'[data-testid="ladder-recv"][data-seq="{recv}"]')).to_contain_text("recv 5 bytes")

    lab.send(server.id, {"data": "hi there", "conn": "c1"})  # and back: 8 bytes, server -> client
    expect(page.locator('[data-testid="ladder-arrow"][data-kind="data"]')).to_have_count(2)
    send, recv, size = arrows(page)[1]
    assert size == 8
    expect(page.locator(f'[data-testid="ladder-send"][data-seq="{send}"]')).to_have_attribute("data-lane", conn)
    expect(page.locator(f'[data-testid="ladder-recv"][data-seq="{recv}"]')).to_have_attribute("data-lane", client.id)
    expect(page.locator('[data-testid="lane-bytes"]').nth(2)).to_contain_text("out 5 B · in 8 B")

    lab.remove(client.id)  # the client closes: FIN to the server's recv() returning 0
    expect(page.locator('[data-testid="ladder-arrow"][data-kind="fin"]')).to_have_count(1)
    expect(page.locator(f'[data-testid="ladder-close"][data-lane="{conn}"]')).to_contain_text("the peer closed")
    expect(page.locator(f'[data-testid="ladder-close"][data-lane="{client.id}"]')).to_contain_text("this side closed")


def test_coalesced_sends_converge_into_one_recv(page: Any, live_server: Any) -> None:
    lab = lab_of(live_server)
    server, client = coalesced_burst(lab)
    show(page, "ladder")
    conn = f"{server.id}/c1"
    sent = 2 * len(bus_events(lab, "send", client.id))
    page.wait_for_function(f"""() => [...document.querySelectorAll('[data-testid="ladder-recv"][data-lane="{conn}"]')]
        .reduce((sum, e) => sum + Number(e.dataset.bytes), 0) === {sent}""")
    assert recv_bytes_drawn(page, conn) == sent
    recvs = page.locator(f'[data-testid="ladder-recv"][data-lane="{conn}"]')
    sends = page.locator(f'[data-testid="ladder-send"][data-lane="{client.id}"]')
    assert recvs.count() < sends.count()
    many = page.locator(f'[data-testid="ladder-recv"][data-lane="{conn}"]:not([data-sends="1"])').first
    expect(many).to_contain_text(re.compile(r"recv \d+ bytes ← \d+ sends"))
    seq = int(many.get_attribute("data-seq"))
    into = [a for a in arrows(page) if a[1] == seq]
    assert len(into) == int(many.get_attribute("data-sends")) >= 2
    assert sum(a[2] for a in into) == int(many.get_attribute("data-bytes"))
    for send, _, _ in into:  # each arrow starts at a different send() of the client
        expect(page.locator(f'[data-testid="ladder-send"][data-seq="{send}"]')).to_have_attribute("data-lane", client.id)
    assert len({a[0] for a in into}) == len(into)


def test_udp_datagrams_and_a_lost_one(page: Any, live_server: Any) -> None:
    lab = lab_of(live_server)
    show(page, "ladder")
    server = lab.create({"kind": "udp-server", "host": "127.0.0.1", "port": 0, "mode": "manual"})
    client = lab.create({"kind": "udp-client", "host": "127.0.0.1", "port": server.local[1], "impair": {"loss": 1.0}})
    lab.send(client.id, {"data": "gone"})  # loss 1.0: dropped by the lab before the network
    expect(page.get_by_test_id("ladder-lost-x")).to_have_count(1)
    expect(page.get_by_test_id("ladder-lost")).to_contain_text("datagram lost (4 bytes)")
    plain = lab.create({"kind": "udp-client", "host": "127.0.0.1", "port": server.local[1]})
    lab.send(plain.id, {"data": "ping"})
    expect(page.locator('[data-testid="ladder-arrow"][data-kind="udp"]')).to_have_count(1)
    [(send, recv, size)] = arrows(page, "udp")
    assert size == 4
    expect(page.locator(f'[data-testid="ladder-recv"][data-seq="{recv}"]')).to_have_attribute("data-lane", server.id)
    expect(page.locator('[data-testid="ladder-arrow"][data-kind="ctl"]')).to_have_count(0)  # no handshake


def test_log_filters_search_details_and_copy(context: Any, page: Any, live_server: Any) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    lab = lab_of(live_server)
    first, first_client = tcp_pair(lab)
    second, second_client = tcp_pair(lab, "echo")
    lab.send(first_client.id, {"data": "apple pie"})
    lab.send(second_client.id, {"data": "needle in a haystack"})
    expect(log_rows(page, "recv", second_client.id)).to_have_count(1)
    expect(log_rows(page, "recv", first.id)).to_have_count(1)

    page.get_by_test_id("filter-endpoint").select_option(second.id)
    expect(log_rows(page).first).to_be_visible()
    assert set(log_rows(page).evaluate_all("rows => rows.map(r => r.dataset.endpoint)")) == {second.id}
    page.get_by_test_id("filter-kind").select_option("recv")
    expect(log_rows(page)).to_have_count(1)
    expect(page.get_by_test_id("log-count")).to_contain_text("1 of")
    page.get_by_test_id("filter-clear").click()
    expect(log_rows(page, "recv")).to_have_count(3)

    page.get_by_test_id("log-search").fill("NEEDLE")  # any case, in text, hex or detail
    expect(log_rows(page)).to_have_count(4)  # the client's send, the server's recv, its echo, the client's recv
    assert all("needle" in t for t in log_rows(page).locator(".col-text").all_inner_texts())
    page.get_by_test_id("log-search").fill("65 20 70 69 65")  # "e pie" in hex
    expect(log_rows(page)).to_have_count(2)

    page.get_by_test_id("log-search").fill("")
    row = log_rows(page, "recv", first.id)
    row.click()
    panel = page.get_by_test_id("log-detail")
    expect(panel).to_be_visible()
    expect(panel.get_by_test_id("detail-call")).to_contain_text("recv(65536) returned 9 bytes")
    expect(panel.get_by_test_id("detail-text")).to_have_text("apple pie")
    expect(panel.get_by_test_id("detail-hex")).to_contain_text("61 70 70 6c 65 20 70 69 65")
    panel.get_by_test_id("detail-copy").click()
    expect(page.get_by_test_id("copy-status")).to_have_text("Copied the event")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "recv(65536) returned 9 bytes" in copied and "61 70 70 6c 65 20 70 69 65" in copied
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()

    page.get_by_test_id("filter-kind").select_option("send")
    page.get_by_test_id("log-copy").click()
    expect(page.get_by_test_id("copy-status")).to_contain_text("Copied 3 events")
    lines = page.evaluate("navigator.clipboard.readText()").splitlines()
    assert len(lines) == 4 and all("\tsend\t" in line for line in lines[1:])


def test_log_keeps_events_while_scrolled_up(page: Any, live_server: Any) -> None:
    lab = lab_of(live_server)
    server, client = tcp_pair(lab)
    count = page.get_by_test_id("log-count")

    def all_shown(received: int) -> tuple[int, int]:
        """Wait until the server got `received` bytes and the page counts every event; (count, last seq)."""
        wait_until(lambda: received_shown(page, live_server, server.id) == received)
        events = dashboard_log(page, live_server)
        expect(count).to_have_text(f"{len(events)} events")
        return len(events), events[-1]["seq"]

    lab.send(client.id, {"data": "x", "repeat": 40, "interval_ms": 1})
    before, _ = all_shown(40)
    page.locator("#log-scroll").evaluate("el => el.scrollTop = 0")
    pill = page.get_by_test_id("log-follow")
    expect(pill).to_be_visible()
    expect(page.locator('[data-testid="event-row"][data-seq="1"]')).to_be_in_viewport()
    reading = rows_in_view(page)
    lab.send(client.id, {"data": "later", "repeat": 3, "interval_ms": 0})
    after, last = all_shown(55)
    expect(pill).to_have_text(f"{after - before} new events ↓")
    expect(pill).to_have_attribute("data-count", str(after - before))
    assert rows_in_view(page) == reading, "what the reader sees stays put"
    assert page.locator("#log-scroll").evaluate("el => el.scrollTop") < 50
    pill.click()
    expect(pill).to_be_hidden()
    expect(page.locator(f'[data-testid="event-row"][data-seq="{last}"]')).to_be_in_viewport()


def test_picking_an_old_row_in_the_diagram_shows_it_in_the_log(page: Any, live_server: Any) -> None:
    lab = lab_of(live_server)
    server, client = tcp_pair(lab)
    for i in range(40):
        lab.send(client.id, {"data": f"m{i:02d}"})
    wait_until(lambda: received_shown(page, live_server, server.id) == 120)
    expect(page.get_by_test_id("log-count")).to_have_text(f"{len(dashboard_log(page, live_server))} events")
    show(page, "split")
    first_send = page.locator(f'[data-testid="ladder-send"][data-lane="{client.id}"]').first
    seq = first_send.get_attribute("data-seq")
    assert int(seq or 0) not in rows_in_view(page)  # far above what the log shows
    first_send.click()
    row = page.locator(f'[data-testid="event-row"][data-seq="{seq}"]')
    expect(row).to_be_in_viewport()
    expect(row).to_have_class(re.compile(r"\bselected\b"))
    expect(page.get_by_test_id("log-detail")).to_contain_text("m00")
    expect(page.get_by_test_id("log-follow")).to_be_visible()  # the log stopped following to show it


def test_gbk_payload_reads_correctly_in_gbk_view(page: Any, live_server: Any) -> None:
    lab = lab_of(live_server)
    server, client = tcp_pair(lab)
    lab.send(server.id, {"data": "c4 e3 ba c3", "encoding": "hex"})  # 你好 in GBK
    row = log_rows(page, "recv", client.id, 4)
    expect(row).to_have_count(1)
    expect(row.locator(".col-text .bad-byte").first).to_be_visible()  # not UTF-8: marked, no crash
    page.get_by_test_id("log-encoding").select_option("gbk")
    expect(row.locator(".col-text")).to_have_text("你好")
    show(page, "split")  # the diagram's previews follow the same choice
    expect(page.locator(f'[data-testid="ladder-send"][data-lane="{server.id}/c1"]')).to_contain_text("send 4 bytes “你好”")
    show(page, "log")
    page.get_by_test_id("log-encoding").select_option("latin1")
    expect(row.locator(".col-text")).to_have_text("\u00c4\u00e3\u00ba\u00c3")
    page.get_by_test_id("log-encoding").select_option("hex")
    expect(row.locator(".col-text")).to_have_text("c4 e3 ba c3")
    page.get_by_test_id("log-encoding").select_option("gbk")
    page.get_by_test_id("log-search").fill("你好")
    expect(log_rows(page)).to_have_count(2)  # the server's send and the client's recv
    row.click()
    expect(page.get_by_test_id("detail-text")).to_have_text("你好")
    lab.send(server.id, {"data": "ff fe 41", "encoding": "hex"})  # invalid in every text encoding but Latin-1
    page.get_by_test_id("log-search").fill("")
    expect(log_rows(page, "recv", client.id, 3).locator(".col-text .bad-byte").first).to_be_visible()


ENGLISH_LEFT = """els => {
  const allowed = /^(TCP|UDP|JSON|Lines|CSV|UTF|GBK|Latin|HTTP|FIN|Esc|MB|Socket|Lab|kB|GB|SOCKETLAB_[A-Z_]+|[ecd]\\d+|[a-z_]+\\(\\d*\\)|[ptnfl])$/;
  const found = [];
  for (const root of els) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!el || !el.checkVisibility() || el.closest("#log-body, #ladder-list, option, title, .lane-addr, .detail-hex, .detail-text, .detail-call code")) continue;
      const text = node.textContent.replace(/“[^”]*”/g, "").replace(/[a-z_]+\\(\\d*\\)/g, "");
      for (const word of text.match(/[A-Za-z][A-Za-z_]+/g) || []) if (!allowed.test(word)) found.push(word + " in: " + el.outerHTML.slice(0, 120));
    }
  }
  return found;
}"""


def test_every_classroom_label_is_translated(page: Any, live_server: Any) -> None:
    lab = lab_of(live_server)
    server, client = tcp_pair(lab)
    lab.send(client.id, {"data": "hello"})
    lab.create({"kind": "udp-server", "host": "127.0.0.1", "port": 0})
    expect(log_rows(page, "recv", server.id)).to_have_count(1)
    page.get_by_test_id("lang-select").select_option("zh")
    roots = "#classroom, #projector-toggle, #theme-toggle, #shortcuts-open"
    for view, label in (("log", "日志"), ("ladder", "时序图"), ("numbers", "统计")):
        page.get_by_test_id(f"view-{view}").click()
        expect(page.get_by_test_id(f"view-{view}")).to_have_text(label)
        if view == "log":
            log_rows(page, "recv", server.id).click()  # the detail panel too (its data stays as it came)
        page.get_by_test_id("record-menu").locator("summary").click()
        left = page.locator(roots).evaluate_all(ENGLISH_LEFT)
        assert left == [], f"{view}: {left}"
        page.get_by_test_id("record-menu").locator("summary").click()
    expect(page.locator('[data-testid="ladder-lane"]').first).to_contain_text("TCP 服务器")
    expect(page.get_by_test_id("counters")).to_contain_text("收到字节")
    page.keyboard.press("?")
    expect(page.get_by_test_id("shortcuts-dialog")).to_be_visible()
    assert page.locator("#shortcuts-dialog").evaluate_all(ENGLISH_LEFT) == []
    expect(page.get_by_test_id("shortcuts-dialog")).to_contain_text("键盘快捷键")
