"""A lecture hall of idle clients on one lab server, and a flood of connects beyond its limit.

Memory per idle connection is measured in bench 15 (no thresholds here); these tests hold the
behaviour: the default limit lets a room of 1,000 in, one more is accepted and closed at once,
an echo server's room is served by the lab's one reactor thread (another mode's by a thread per
connection), accept() keeps answering, and everything is gone after.
"""

from __future__ import annotations

import resource
import socket
import threading

import pytest

from lab import Lab, Limits

from ..support import Resources, wait_until

ROOM = 1000
FLOOD = 300


@pytest.fixture
def fds_for_a_room() -> None:
    """Both ends of every connection live in this process: 2 fds each, and some to spare."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * (ROOM + FLOOD) + 256
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"this machine allows {hard} open files; the room needs {need}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def conn_threads(server_id: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"conn-{server_id}-")]


def reactor_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "lab-reactor" and t.is_alive()]


def echo(port: int, data: bytes = b"still here") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        got = b""
        while len(got) < len(data) and (chunk := s.recv(64)):
            got += chunk
        return got


def test_default_limit_lets_a_room_in_and_a_flood_beyond_it_stays_bounded(folders: dict, fds_for_a_room: None) -> None:
    before = Resources.now()
    lab = Lab(folders["files"], folders["downloads"])  # the default limits: a room of 1,000 must fit
    idle: list[socket.socket] = []
    flood: list[socket.socket] = []
    try:
        server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
        assert server.local is not None
        port = server.local[1]
        for _ in range(ROOM):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        wait_until(lambda: len(server.connections) == ROOM, timeout=60)
        # A flood of connects beyond the limit: each is accepted and closed at once (EOF, never a
        # hang), no thread is started for any, and the room stays as it was.
        for _ in range(FLOOD):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            flood.append(s)
        for s in flood:
            assert s.recv(10) == b""
        refused = wait_until(lambda: [e for e in lab.bus.since(0, 100_000)[0] if e.endpoint == server.id and e.kind == "refuse"],
                             timeout=30)
        assert len(refused) == FLOOD and refused[0].params == {"limit": ROOM}
        # the echo room is served by the lab's reactor: one thread for all of it, none per connection
        assert len(server.connections) == ROOM and lab.ctx.reactor.serving() == ROOM
        assert conn_threads(server.id) == [] and len(reactor_threads()) == 1
        # accept() still answers once a place is free, and the newcomer is served at once
        idle.pop().close()
        wait_until(lambda: len(server.connections) == ROOM - 1, timeout=30)
        assert echo(port) == b"still here"
        # an idle client that speaks is answered too: idling cost it nothing
        idle[0].sendall(b"hello")
        assert idle[0].recv(10) == b"hello"
    finally:
        for s in idle + flood:
            s.close()
        lab.close()
    before.settled(timeout=30)


def test_a_room_on_a_mode_that_may_wait_has_a_thread_each(folders: dict) -> None:
    """A reply server's handler frames and answers through its Service (it may send more than once):
    each connection keeps a thread of its own, and the reactor serves none."""
    lab = Lab(folders["files"], folders["downloads"])
    clients: list[socket.socket] = []
    try:
        server = lab.create({"kind": "tcp-server", "port": 0, "mode": "reply", "reply": "ok", "framing": "line"})
        assert server.local is not None
        clients = [socket.create_connection(server.local, timeout=10) for _ in range(20)]
        wait_until(lambda: len(conn_threads(server.id)) == 20)
        assert lab.ctx.reactor.serving() == 0 and reactor_threads() == []
        clients[0].sendall(b"hi\n")
        assert clients[0].recv(10) == b"ok\n"
    finally:
        for s in clients:
            s.close()
        lab.close()
    wait_until(lambda: conn_threads("e1") == [])


def test_a_smaller_limit_is_still_configurable(folders: dict) -> None:
    lab = Lab(folders["files"], folders["downloads"], Limits(connections_per_server=3))
    try:
        server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
        assert server.local is not None
        keep = [socket.create_connection(server.local, timeout=10) for _ in range(3)]
        wait_until(lambda: len(server.connections) == 3)
        with socket.create_connection(server.local, timeout=10) as extra:
            assert extra.recv(10) == b""
        for s in keep:
            s.close()
    finally:
        lab.close()


# A room connecting at once, from another process (as a room would): connect() is far quicker than
# the lab's accept + events + thread, so clients wait in the backlog.
ROOM_PROCESS = """
import socket, sys
clients = [socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) for _ in range(int(sys.argv[2]))]
print("ready", flush=True)
sys.stdin.read()
"""


def test_a_room_connecting_at_once_gets_few_snapshots_and_the_last_lists_everyone(lab: Lab) -> None:
    """Each `state` snapshot lists every connection, so one per accept would make a room of n cost
    every viewer n^2/2 entries; the accept loop coalesces them while clients wait in the backlog."""
    import subprocess
    import sys

    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    assert server.local is not None
    room = 300
    proc = subprocess.Popen([sys.executable, "-c", ROOM_PROCESS, str(server.local[1]), str(room)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        wait_until(lambda: len(server.connections) == room, timeout=60)

        def states() -> list:
            return [e for e in lab.bus.since(0, 100_000)[0] if e.endpoint == server.id and e.kind == "state"]

        # the last snapshot (sent at the burst's end or the loop's next tick, within a second) lists all
        last = wait_until(lambda: (s := states()) and len(s[-1].state["connections"]) == room and s[-1], timeout=5)
        assert len(last.state["connections"]) == room
        accepts = [e for e in lab.bus.since(0, 100_000)[0] if e.endpoint == server.id and e.kind == "accept"]
        assert len(accepts) == room  # every accept is still its own event
        assert len(states()) < room // 2, f"{len(states())} snapshots for {room} accepts"
        arrived = len(states())
    finally:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()  # the room leaves at once: every client closes
        proc.wait(30)
        proc.stdout.close()
    wait_until(lambda: not server.connections, timeout=30)
    # leaving is coalesced the same way, and the last snapshot (within the accept loop's tick) is empty
    wait_until(lambda: not states()[-1].state["connections"], timeout=5)
    closes = [e for e in lab.bus.since(0, 100_000)[0] if e.endpoint == server.id and e.kind == "close"]
    assert len(closes) == room  # every close is still its own event
    assert len(states()) - arrived < room // 2, f"{len(states()) - arrived} snapshots for {room} closes"


def test_stopping_a_server_with_a_room_sends_one_snapshot_for_all_its_closes(lab: Lab) -> None:
    import subprocess
    import sys

    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    assert server.local is not None
    room = 200
    proc = subprocess.Popen([sys.executable, "-c", ROOM_PROCESS, str(server.local[1]), str(room)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        wait_until(lambda: len(server.connections) == room, timeout=60)
        before = lab.bus.last_seq
        lab.remove(server.id)  # Stop: the listening socket, then every connection
        after = [e for e in lab.bus.since(before, 100_000)[0] if e.endpoint == server.id]
        assert sum(1 for e in after if e.kind == "close") == room + 1  # each connection, and the listening socket
        snapshots = [e.state for e in after if e.kind == "state"]
        assert len(snapshots) == 3, [len(s["connections"]) for s in snapshots]  # stop listening, stopped, removed
        assert snapshots[-1].get("removed") and not snapshots[-1]["connections"]
    finally:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()
        proc.wait(30)
        proc.stdout.close()
