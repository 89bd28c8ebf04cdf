"""Cards follow the lab from events: with 40 Socket.IO viewers watching, a burst of 100 TCP
connections makes the page ask GET /api/endpoints for nothing, and its card still counts them."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..support import wait_until
from .test_classroom import lab_of
from .ui import card, expect

VIEWERS = 40
BURST = 100


def test_a_burst_of_connections_needs_no_refetch(page: Any, live_server: Any, events_client: Any) -> None:
    lab = lab_of(live_server)
    server = lab.create({"kind": "tcp-server", "host": "127.0.0.1", "port": 0, "mode": "echo"})
    found = card(page, server.id)
    expect(found).to_be_visible()  # from its `state` event: the page asked nothing
    viewers = [events_client(live_server.url) for _ in range(VIEWERS)]
    try:
        watched(page, lab, server, found, viewers)
    finally:
        # each disconnect waits for the dev server's close handshake: 40 in a row take minutes
        with ThreadPoolExecutor(VIEWERS) as pool:
            list(pool.map(lambda viewer: viewer.close(), viewers))


def watched(page: Any, lab: Any, server: Any, found: Any, viewers: list[Any]) -> None:
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if r.url.split("?")[0].endswith("/api/endpoints") else None)

    clients = []
    try:
        for _ in range(BURST):
            clients.append(socket.create_connection(("127.0.0.1", server.local[1]), timeout=5))
        wait_until(lambda: len(server.connections) == BURST, timeout=20)
        expect(found.get_by_test_id("connection")).to_have_count(BURST)
        expect(found.get_by_test_id("connections-title")).to_contain_text(str(BURST))
    finally:
        for sock in clients:
            sock.close()
    wait_until(lambda: not server.connections)
    expect(found.get_by_test_id("connection")).to_have_count(0)
    expect(found.get_by_test_id("connections-title")).to_contain_text("0")
    # every viewer saw the whole story (each accept and close), and the page asked for no list
    def story(viewer: Any) -> tuple[int, int]:
        kinds = [e["kind"] for e in list(viewer.events) if e["endpoint"] == server.id]
        return kinds.count("accept"), kinds.count("close")

    wait_until(lambda: all(story(v) == (BURST, BURST) for v in viewers), timeout=30)
    assert asked == [], f"the page asked for the endpoint list {len(asked)} times: {asked[:3]}"
