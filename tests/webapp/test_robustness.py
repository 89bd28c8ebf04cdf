"""Random JSON at every route never gives a 5xx and leaves the lab alive; a slow Socket.IO client
that never reads keeps bounded memory and does not delay the others."""

from __future__ import annotations

import json
import socket
from typing import Any, Callable

import websocket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp import socketio_internals as internals
from webapp.relay import QUEUE_MAX

from ..support import EventCollector, LiveServer, wait_until

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.text(max_size=40), st.sampled_from(["tcp-server", "udp-server", "tcp-client", "udp-client",
                                                           "echo", "files", "file", "framed", "hex", "127.0.0.1",
                                                           "../hello.txt", "hello.txt", "c1", "e1", "d1"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(st.text(max_size=10), inner, max_size=5)),
                           max_leaves=12)
KEYS = ["kind", "host", "port", "mode", "reply", "file", "protocol", "data", "encoding", "conn", "to"]
specs = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8)
bodies = st.one_of(specs, json_values)

ROUTES = [
    ("POST", "/api/endpoints"),
    ("POST", "/api/endpoints/{id}/send"),
    ("POST", "/api/endpoints/{id}/stop-listening"),
    ("DELETE", "/api/endpoints/{id}/connections/{conn}"),
    ("GET", "/api/endpoints/{id}"),
    ("POST", "/api/downloads"),
    ("GET", "/api/downloads/{dl}"),
    ("GET", "/api/downloads/{dl}/file"),
    ("GET", "/api/events?after={after}&limit={limit}"),
]
ids = st.sampled_from(["e1", "e2", "e999", "c1", "", "%2e%2e", "x" * 300, "d1", "-1", "0"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES), body=bodies, ep=ids, conn=ids, dl=ids,
       after=st.one_of(st.integers(-5, 2**64), st.text(max_size=5)), limit=st.one_of(st.integers(-5, 10**6), st.text(max_size=5)),
       raw=st.booleans())
def test_fuzz_every_route(client: Any, route: tuple[str, str], body: Any, ep: str, conn: str, dl: str,
                          after: Any, limit: Any, raw: bool) -> None:
    method, path = route
    url = path.format(id=ep, conn=conn, dl=dl, after=after, limit=limit)
    if raw:
        response = client.open(url, method=method, data=json.dumps(body)[:-1] if body else b"\xff", content_type="application/json")
    else:
        response = client.open(url, method=method, json=body)
    assert response.status_code < 500, (method, url, body, response.get_data()[:300])
    if response.status_code >= 400:
        assert isinstance(response.get_json()["error"], str)
    response.close()
    lab = client.application.extensions["socketlab"]
    for endpoint in list(lab.endpoints):  # keep the fuzzed lab small, and alive
        if len(lab.endpoints) > 20:
            lab.remove(endpoint)
    assert client.get("/api/health").status_code == 200


def test_oversized_json_body_is_a_413(client: Any) -> None:
    response = client.post("/api/endpoints", data=b'{"kind": "' + b"x" * (9 << 20) + b'"}', content_type="application/json")
    assert response.status_code == 413 and response.get_json()["error"]


def test_slow_socketio_client_is_bounded_and_does_not_delay_others(
        live_server: LiveServer, events_client: Callable[..., EventCollector]) -> None:
    # A websocket Socket.IO client with a tiny receive buffer that connects and then never reads.
    url = live_server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    stalled = websocket.create_connection(url, sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)], timeout=5)
    try:
        flood_past(stalled, live_server, events_client)
    finally:
        stalled.close()


def flood_past(stalled: Any, live_server: LiveServer, events_client: Callable[..., EventCollector]) -> None:
    app = live_server.app
    lab, relay = app.extensions["socketlab"], app.extensions["socketlab_relay"]
    stalled.recv()  # the engine.io open packet
    stalled.send("40")  # socket.io connect to the default namespace
    server = app.extensions["socketlab_relay"].server
    wait_until(lambda: len(internals.clients(server, "/")) == 1)
    healthy = events_client(live_server.url)
    payload = b"x" * 64
    for wave in range(200):  # waves of events, each sent as a batch, until the stalled client is skipped
        batches = relay.batches
        for i in range(1000):
            lab.bus.publish("flood", "recv", size=64, payload=payload, detail=f"flood {wave}.{i}")
        wait_until(lambda batches=batches: relay.batches > batches)
        if relay.skipped:
            break
    assert relay.skipped > 0
    lab.bus.publish("flood", "marker", detail="after the flood")
    healthy.wait_for(timeout=15, kind="marker")
    queues = [internals.queued(server, eio_sid) for eio_sid in internals.sessions(server)]
    assert max(queues) <= QUEUE_MAX + 2, queues  # bounded: the stalled client is skipped, not queued
    assert max(e["seq"] for e in healthy.events) == healthy.find(kind="marker")[0]["seq"]
