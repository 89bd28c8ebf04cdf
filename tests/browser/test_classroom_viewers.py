"""Many viewers: every browser sees the same diagram and numbers, and one that joins late rebuilds
them at once from the history (GET /api/events?after=0), then follows the live stream."""

from __future__ import annotations

from typing import Any

from .test_classroom import coalesced_burst, lab_of, show
from .test_replay import diagram, numbers
from .ui import expect, wait_ready


def test_every_viewer_sees_the_same_state_and_a_late_joiner_gets_history(browser: Any, page: Any, live_server: Any) -> None:
    lab = lab_of(live_server)
    server, client = coalesced_burst(lab)
    udp = lab.create({"kind": "udp-server", "host": "127.0.0.1", "port": 0, "mode": "echo"})
    udp_client = lab.create({"kind": "udp-client", "host": "127.0.0.1", "port": udp.local[1]})
    lab.send(udp_client.id, {"data": "ping"})
    show(page, "ladder")
    expect(page.locator('[data-testid="ladder-arrow"][data-kind="udp"]')).to_have_count(2)
    expect(page.locator(f'[data-testid="ladder-recv"][data-lane="{server.id}/c1"]').first).to_be_visible()

    late_context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="en-US")
    try:
        late = late_context.new_page()
        late.goto(live_server.url + "/")
        wait_ready(late)
        show(late, "ladder")
        expect(late.locator('[data-testid="ladder-arrow"][data-kind="udp"]')).to_have_count(2)
        expect(late.get_by_test_id("ladder-arrow")).to_have_count(page.get_by_test_id("ladder-arrow").count())
        assert diagram(late) == diagram(page), "the late joiner draws the same diagram from the history"
        assert numbers(late) == numbers(page), "and counts the same bytes and messages"

        lab.send(server.id, {"data": "to everyone", "conn": "c1"})  # then both follow the live stream
        for viewer in (page, late):
            expect(viewer.locator(f'[data-testid="ladder-recv"][data-lane="{client.id}"][data-bytes="11"]')).to_have_count(1)
            show(viewer, "numbers")
            row = viewer.locator(f'[data-testid="counter-row"][data-lane="{client.id}"]')
            expect(row.locator('td[data-key="bytesIn"]')).to_have_text("11")
            expect(row.locator('td[data-key="msgsOut"]')).not_to_have_text("0")
        assert numbers(late) == numbers(page)
        show(page, "ladder")
        show(late, "ladder")
        assert diagram(late) == diagram(page)
    finally:
        late_context.close()
