"""The live log: history for late joiners, each seq once, dropped events counted, rows capped."""

from __future__ import annotations

import json
from typing import Any

from .test_classroom import lab_of, logged
from .ui import ROWS_IN_VIEW, card, expect, log_rows, rows_in_view


def api_post(page: Any, live_server: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = page.request.post(f"{live_server.url}/api{path}", data=body)
    assert answer.ok, answer.text()
    return answer.json()


def seqs(page: Any) -> list[int]:
    return [int(s) for s in page.locator('[data-testid="event-row"]').evaluate_all("rows => rows.map(r => r.dataset.seq)")]


def fake_history(events: list[dict[str, Any]], last: int, dropped: int = 0) -> Any:
    """A route handler answering the first GET /api/events with this history, then the real one."""
    answered = []

    def handle(route: Any) -> None:
        if answered or "after=0&" not in route.request.url:  # (the catch-up, not a look at the newest seq)
            route.continue_()
            return
        answered.append(route.request.url)
        route.fulfill(status=200, content_type="application/json",
                      body=json.dumps({"events": events, "last": last, "dropped": dropped}))

    return handle


def event(seq: int) -> dict[str, Any]:
    return {"seq": seq, "ts": 1_700_000_000 + seq / 1000, "endpoint": "e1", "conn": "c1", "proto": "tcp",
            "kind": "recv", "local": ["127.0.0.1", 5000], "peer": ["127.0.0.1", 40000], "size": 2,
            "data": "hi", "hex": "68 69", "detail": f"recv #{seq}"}


def test_late_joiner_gets_history_then_live_events_once(open_page: Any, live_server: Any) -> None:
    first = open_page()
    server = api_post(first, live_server, "/endpoints", {"kind": "tcp-server", "host": "127.0.0.1", "port": 0, "mode": "echo"})
    client = api_post(first, live_server, "/endpoints", {"kind": "tcp-client", "host": "127.0.0.1", "port": server["local"][1]})
    api_post(first, live_server, f"/endpoints/{client['id']}/send", {"data": "early", "encoding": "utf-8"})
    expect(log_rows(first, "recv", client["id"], 5)).to_have_count(1)

    late = open_page()  # joins after all that: the history comes from GET /api/events
    for kind, ep in (("listen", server), ("accept", server), ("connect", client), ("recv", client)):
        expect(log_rows(late, kind, ep["id"]).first).to_be_visible()
    expect(card(late, server["id"]).get_by_test_id("connection")).to_have_count(1)

    api_post(late, live_server, f"/endpoints/{client['id']}/send", {"data": "later", "encoding": "utf-8"})
    for page in (first, late):
        expect(log_rows(page, "recv", client["id"], 5)).to_have_count(2)
        numbers = seqs(page)
        assert len(numbers) == len(set(numbers)), "each event once"
        assert numbers == [e.seq for e in logged(lab_of(live_server))], "every one (but snapshots), causally ordered"
        expect(page.get_by_test_id("dropped-count")).to_have_attribute("data-count", "0")


def test_dropped_events_are_counted(context: Any, open_page: Any, live_server: Any) -> None:
    # The history claims 3 events left the buffer, and hides the events that exist (the first
    # server's), so the next live event arrives after a gap of as many: 3 + that many dropped in all.
    helper = open_page()
    api_post(helper, live_server, "/endpoints", {"kind": "udp-server", "host": "127.0.0.1", "port": 0})
    hidden = lab_of(live_server).bus.last_seq
    context.route("**/api/events?*", fake_history([], last=0, dropped=3))
    page = open_page()
    expect(page.get_by_test_id("dropped-count")).to_have_text("3 events dropped")
    api_post(page, live_server, "/endpoints", {"kind": "udp-server", "host": "127.0.0.1", "port": 0})
    expect(log_rows(page, "listen")).to_have_count(1)
    expect(page.get_by_test_id("dropped-count")).to_have_text(f"{3 + hidden} events dropped")
    expect(page.get_by_test_id("dropped-count")).to_have_attribute("data-count", str(3 + hidden))


def test_log_builds_only_the_rows_near_the_screen(context: Any, open_page: Any) -> None:
    # 700 events: the log follows the newest, builds only the rows around what is on screen, and
    # every one of the 700 can be scrolled to (each at its place: row i sits at i row heights).
    context.route("**/api/events?*", fake_history([event(n) for n in range(1, 701)], last=700))
    page = open_page()
    expect(page.locator('[data-testid="event-row"][data-seq="700"]')).to_be_in_viewport()
    expect(page.get_by_test_id("log-count")).to_have_text("700 events")
    built = seqs(page)
    assert built == list(range(built[0], 701)) and len(built) < 100, "the newest rows, in order, and only those"
    scroller = page.locator("#log-scroll")
    scroller.evaluate("el => el.scrollTop = 0")
    expect(page.locator('[data-testid="event-row"][data-seq="1"]')).to_be_in_viewport()
    expect(page.get_by_test_id("log-follow")).to_be_visible()  # reading: no longer following
    scroller.evaluate("el => el.scrollTop = el.scrollHeight / 2")
    page.wait_for_function(f"() => ({ROWS_IN_VIEW})().some(seq => seq > 250 && seq < 450)")
    middle = rows_in_view(page)
    assert middle and middle == list(range(middle[0], middle[0] + len(middle))) and 250 < middle[0] < 450
    page.get_by_test_id("log-follow").click()
    expect(page.locator('[data-testid="event-row"][data-seq="700"]')).to_be_in_viewport()
    rows = page.locator('[data-testid="event-row"]')
    heights = rows.evaluate_all("rows => [...new Set(rows.map(r => r.getBoundingClientRect().height))]")
    assert len(heights) == 1, f"every row has one height, got {heights}"