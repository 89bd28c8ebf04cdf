"""Live servers: the python-socketio client receives the events of real traffic, in batches.

Once against the app on Werkzeug in this process, once against the contract's gunicorn command
in its own process (websocket transport), as it runs in production.
"""

from __future__ import annotations

import socket
from itertools import pairwise
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests

from ..servers import running
from ..support import EventCollector, LiveServer, wait_until



def traffic(base: str, session: Any = requests) -> tuple[dict, dict]:
    """A server, a client, and one message: the events every test here waits for."""
    server = session.post(f"{base}/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo"}).json()
    client = session.post(f"{base}/api/endpoints", json={"kind": "tcp-client", "port": server["local"][1]}).json()
    assert session.post(f"{base}/api/endpoints/{client['id']}/send", json={"data": "hello"}).json() == {"sent": 5}
    return server, client


def check_events(collector: EventCollector, server: dict, client: dict) -> None:
    collector.wait_for(endpoint=server["id"], kind="listen")
    collector.wait_for(endpoint=server["id"], kind="accept")
    sent = collector.wait_for(endpoint=client["id"], kind="send")
    echoed = collector.wait_for(endpoint=server["id"], kind="send")
    got = collector.wait_for(endpoint=client["id"], kind="recv")
    assert sent["size"] == echoed["size"] == got["size"] == 5 and got["data"] == "hello"
    seqs = collector.seqs()  # in the order they arrived, never sorted
    assert all(a < b for a, b in pairwise(seqs)), f"seqs must arrive strictly increasing, each at most once: {seqs}"


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_socketio_client_receives_real_traffic(live_server: LiveServer, events_client: Callable[..., EventCollector],
                                               transport: str) -> None:
    collector = events_client(live_server.url, transports=[transport])
    server, client = traffic(live_server.url)
    check_events(collector, server, client)
    assert collector.batches < len(collector.events)  # batched, not one message per event


def test_late_joiner_catches_up_with_the_rest_api(live_server: LiveServer, events_client: Callable[..., EventCollector]) -> None:
    server, client = traffic(live_server.url)
    wanted = {"listen", "accept", "connect", "send", "recv"}  # (the echo arrives a moment after the send answers)
    history = wait_until(lambda: (h := requests.get(f"{live_server.url}/api/events?after=0").json())
                         and wanted <= {e["kind"] for e in h["events"]} and h)
    collector = events_client(live_server.url)
    requests.post(f"{live_server.url}/api/endpoints/{client['id']}/send", json={"data": "again"})
    later = collector.wait_for(endpoint=client["id"], kind="recv", data="again")
    assert later["seq"] > history["last"]


def test_two_clients_see_the_same_events(live_server: LiveServer, events_client: Callable[..., EventCollector]) -> None:
    first, second = events_client(live_server.url), events_client(live_server.url)
    server, client = traffic(live_server.url)
    check_events(first, server, client)
    check_events(second, server, client)
    wait_until(lambda: first.seqs() == second.seqs())


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[str]:
    """The contract's production command, on 127.0.0.1 port 0 instead of 0.0.0.0:5000."""
    with running("gunicorn", tmp_path) as dash:
        yield dash.url


def test_gunicorn_websocket_transport(gunicorn: str, events_client: Callable[..., EventCollector]) -> None:
    collector = events_client(gunicorn, transports=["websocket"])
    assert collector.sio.transport() == "websocket"
    server, client = traffic(gunicorn)
    check_events(collector, server, client)
    # and the lab's servers talk to plain programs under gunicorn too
    with socket.create_connection(("127.0.0.1", server["local"][1]), timeout=5) as plain:
        plain.sendall(b"hi from a plain client")
        assert plain.recv(1024) == b"hi from a plain client"


class RelayProgress:
    """Stands in for the relay's bus and remembers the newest seq the relay is done with.

    The relay calls `wait(after=last)` only once every event up to `last` has been emitted or
    passed over, so that call is the moment to look at its counters: nothing sleeps and hopes.
    """

    def __init__(self, bus: Any) -> None:
        self._bus = bus
        self.done_up_to = 0

    def wait(self, after: int, timeout: float, cancelled: Callable[[], bool] = lambda: False) -> bool:
        self.done_up_to = max(self.done_up_to, after)
        return bool(self._bus.wait(after, timeout, cancelled))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bus, name)


def test_the_relay_encodes_nothing_while_nobody_watches(live_server: LiveServer,
                                                       events_client: Callable[..., EventCollector],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    lab, relay = live_server.app.extensions["socketlab"], live_server.app.extensions["socketlab_relay"]
    progress = RelayProgress(lab.bus)
    monkeypatch.setattr(relay, "bus", progress)
    for i in range(50):
        lab.bus.publish("quiet", "recv", size=2, payload=b"hi", detail=f"nobody sees {i}")
    last = lab.bus.last_seq
    wait_until(lambda: progress.done_up_to >= last)
    assert relay.batches == 0  # the relay went through all 50 and emitted none
    collector = events_client(live_server.url)  # a late joiner gets those from GET /api/events; then live ones
    lab.bus.publish("quiet", "marker", detail="someone is watching")
    collector.wait_for(timeout=10, kind="marker")
    assert relay.batches >= 1
    assert all(e["seq"] > last for e in collector.events)  # the quiet ones were passed over, not held back
