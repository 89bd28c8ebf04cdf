"""webapp/socketio_internals.py against the installed python-socketio and python-engineio: each read,
on a real server with real clients. An upgrade that moves what one of them reads fails here, by name.

The stalled client is an Engine.IO session on the polling transport that joins the default namespace
and then never polls again: whatever is emitted to it waits in its queue, one packet per emit."""

from __future__ import annotations

import json
from typing import Any, Callable

import requests

from webapp import socketio_internals as internals
from webapp.relay import QUEUE_MAX

from ..support import EventCollector, LiveServer, wait_until


def stalled_session(url: str) -> str:
    """A session that joins "/" over polling and polls no more; its Engine.IO sid."""
    base = f"{url}/socket.io/?EIO=4&transport=polling"
    opened = requests.get(base, timeout=5).text
    eio_sid: str = json.loads(opened[opened.index("{"):])["sid"]
    assert requests.post(f"{base}&sid={eio_sid}", data="40", timeout=5).ok
    return eio_sid


def test_each_read_answers_from_the_installed_socketio(live_server: LiveServer,
                                                       events_client: Callable[..., EventCollector]) -> None:
    app = live_server.app
    relay = app.extensions["socketlab_relay"]
    server = relay.server
    viewer = events_client(live_server.url)
    stalled = stalled_session(live_server.url)
    viewers = wait_until(lambda: (found := internals.clients(server, "/")) and len(found) == 2 and found, 5)
    assert viewer.sio.get_sid("/") in viewers and stalled in viewers.values()
    assert stalled in internals.joined(server) and set(viewers.values()) <= internals.joined(server)
    assert internals.clients(server, "/nowhere") == {}
    sessions = internals.sessions(server)
    assert set(viewers.values()) <= set(sessions) and not internals.is_closed(sessions[stalled])
    assert "socketlab.live" in internals.environs(server)[stalled]  # (the live gate's mark, kept by engine.io)
    assert internals.queued(server, "no-such-session") == 0

    # what is emitted to the stalled session waits in its queue, one packet per emit
    before = internals.queued(server, stalled)
    sid = next(s for s, e in viewers.items() if e == stalled)
    for _ in range(3):
        server.emit("events", [], to=sid)
    assert internals.queued(server, stalled) == before + 3

    # so the relay skips it once its queue is long, and the viewer that reads gets every event
    bus = relay.bus
    for i in range(QUEUE_MAX + 2):
        batches = relay.batches
        bus.publish("e1", "recv", detail=f"batch {i}")
        wait_until(lambda batches=batches: relay.batches > batches, 5)
    assert relay.skipped > 0 and internals.queued(server, stalled) <= QUEUE_MAX + 1
    last = bus.last_seq
    viewer.wait_for(timeout=5, seq=last)
    assert [e["seq"] for e in viewer.find(kind="recv")] == list(range(last - QUEUE_MAX - 1, last + 1))

    internals.abort(sessions[stalled])  # (at once: it would otherwise wait for a poll that never comes)
    assert internals.is_closed(sessions[stalled])


def test_a_moved_queue_is_said_once_and_skips_nobody(caplog: Any) -> None:
    internals._warned.discard("queued")  # (said once per process)
    class Upgraded:  # an engine.io whose sessions keep their packets elsewhere
        class eio:  # noqa: N801
            sockets = {"s1": object()}

    assert internals.queued(Upgraded(), "s1") == 0
    assert internals.queued(Upgraded(), "s1") == 0
    assert [r.message.count("socketio_internals.py") for r in caplog.records] == [1]
