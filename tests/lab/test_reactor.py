"""The lab's reactor (lab/sockets/reactor.py): echo connections share one thread over epoll, and the
moment one would wait (a peer that does not read, a send lock another thread holds) it leaves for a
thread of its own, with its bytes whole and in order, while the others go on. Abused here: a peer
that never reads, a stream far bigger than the buffers, connections churning while others talk, a
bug in a mode; and nothing may be left behind (threads, fds)."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import Iterator

import pytest

from lab import Lab
from lab.sockets.endpoint import Limits
from lab.sockets.handlers import EchoHandler

from ..support import Resources, wait_until

MiB = 1 << 20


@pytest.fixture
def lab(folders: dict[str, Path]) -> Iterator[Lab]:
    before = Resources.now()
    the_lab = Lab(folders["files"], folders["downloads"], Limits(send_timeout_ms=3000))
    yield the_lab
    the_lab.close()
    before.settled(timeout=10)  # no reactor thread, no connection thread, no socket left


def of(lab: Lab, endpoint: str, kind: str) -> list:
    return [e for e in lab.bus.since(0, 100_000)[0] if e.endpoint == endpoint and e.kind == kind]


def named(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(prefix) and t.is_alive()]


def echo(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    got = b""
    while len(got) < len(data) and (chunk := sock.recv(65536)):
        got += chunk
    return got


def echo_server(lab: Lab) -> tuple[str, tuple[str, int]]:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    assert server.local is not None
    return server.id, server.local


def test_echo_connections_share_one_thread_and_say_the_same_calls(lab: Lab) -> None:
    ep, address = echo_server(lab)
    clients = [socket.create_connection(address, timeout=10) for _ in range(8)]
    try:
        for i, c in enumerate(clients):
            assert echo(c, f"hello {i}".encode()) == f"hello {i}".encode()
        assert lab.ctx.reactor.serving() == 8
        assert len(named("lab-reactor")) == 1 and named(f"conn-{ep}-") == []
        recvs, sends = of(lab, ep, "recv"), of(lab, ep, "send")
        assert sorted(e.data for e in recvs) == sorted(f"hello {i}" for i in range(8))
        assert {(e.call, e.args["bufsize"]) for e in recvs} == {("recv", 65536)}
        assert {e.call for e in sends} == {"sendall"} and sorted(e.size for e in sends) == sorted(len(f"hello {i}") for i in range(8))
    finally:
        for c in clients:
            c.close()
    closes = wait_until(lambda: len(of(lab, ep, "close")) == 8 and of(lab, ep, "close"))
    assert {e.closed_by for e in closes} == {"peer"}
    wait_until(lambda: named("lab-reactor") == [])  # it ends with the last one it served


def test_a_peer_that_never_reads_gets_a_thread_and_the_others_go_on(lab: Lab) -> None:
    ep, address = echo_server(lab)
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(address)
    with stuck, socket.create_connection(address, timeout=10) as talker:
        wait_until(lambda: len(lab.endpoint(ep).connections) == 2)
        stuck.setblocking(False)
        sent = 0
        while sent < 64 * MiB:  # until its echoes fill every buffer and its own sends stop going
            try:
                sent += stuck.send(b"x" * 65536)
            except BlockingIOError:
                break
        wait_until(lambda: named(f"conn-{ep}-c1"))  # its echo would wait: it left the reactor
        assert lab.ctx.reactor.serving() == 1
        for i in range(20):  # meanwhile the reactor answers the other at once
            assert echo(talker, b"still here %d" % i) == b"still here %d" % i
        event = wait_until(lambda: of(lab, ep, "backpressure"), timeout=15)[0]
        assert event.conn == "c1" and event.code in {"peer-not-reading", "peer-stopped-reading"}
        assert echo(talker, b"after") == b"after"


def test_a_stream_bigger_than_the_buffers_comes_back_whole_and_in_order(lab: Lab) -> None:
    ep, address = echo_server(lab)
    data = os.urandom(8 * MiB)
    with socket.create_connection(address, timeout=20) as client:
        writer = threading.Thread(target=client.sendall, args=(data,))
        writer.start()
        # nothing is read until the echo had to wait: part of a send went, the rest goes from a thread
        wait_until(lambda: named(f"conn-{ep}-c1"), timeout=10)
        got = bytearray()
        while len(got) < len(data) and (chunk := client.recv(1 << 20)):
            got += chunk
        writer.join(10)
        assert bytes(got) == data
        assert echo(client, b"and on") == b"and on"  # the thread serves it from now on
    assert of(lab, ep, "backpressure") == []


def test_an_echo_waits_for_another_threads_send_in_a_thread_of_its_own(lab: Lab) -> None:
    ep, address = echo_server(lab)
    with socket.create_connection(address, timeout=10) as first, socket.create_connection(address, timeout=10) as other:
        wait_until(lambda: len(lab.endpoint(ep).connections) == 2)
        conn = lab.endpoint(ep).connection("c1")
        conn._send_lock.acquire()  # as a teacher's send to c1 in progress
        try:
            first.sendall(b"ping")
            wait_until(lambda: named(f"conn-{ep}-c1"))
            assert echo(other, b"meanwhile") == b"meanwhile"  # the reactor did not wait with it
        finally:
            conn._send_lock.release()
        assert first.recv(10) == b"ping"
        assert echo(first, b"pong") == b"pong"


def test_churning_connections_never_get_each_others_bytes(lab: Lab) -> None:
    """Socket numbers are handed out again at once: the reactor must forget one before it closes."""
    ep, address = echo_server(lab)
    errors: list[str] = []

    def talk(name: str) -> None:
        with socket.create_connection(address, timeout=10) as s:
            for i in range(300):
                message = f"{name}:{i};".encode()
                if (got := echo(s, message)) != message:
                    errors.append(f"{name} sent {message!r}, got {got!r}")
                    return

    talkers = [threading.Thread(target=talk, args=(f"t{n}",)) for n in range(4)]
    for t in talkers:
        t.start()
    for i in range(300):
        with socket.create_connection(address, timeout=10) as s:
            message = b"short-lived %d" % i
            assert echo(s, message) == message
    for t in talkers:
        t.join(30)
    assert errors == []
    wait_until(lambda: lab.ctx.reactor.serving() == 0 and not lab.endpoint(ep).connections, timeout=10)
    assert len(of(lab, ep, "close")) == 304


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_bug_in_one_servers_mode_leaves_the_reactor_serving_the_others(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    broken_ep, broken_address = echo_server(lab)
    ep, address = echo_server(lab)
    on_data = EchoHandler.on_data

    def broken(self: EchoHandler, data: bytes) -> None:
        if self.service.server.id == broken_ep:
            raise RuntimeError("a bug in a mode")
        on_data(self, data)

    monkeypatch.setattr(EchoHandler, "on_data", broken)
    with socket.create_connection(address, timeout=10) as fine:
        assert echo(fine, b"before") == b"before"
        with socket.create_connection(broken_address, timeout=10) as peer:
            peer.sendall(b"boom")
            wait_until(lambda: lab.endpoint(broken_ep).state == "error")
            assert peer.recv(10) == b""  # its connection was closed, not left hanging
        assert echo(fine, b"after") == b"after"
    errors = [e.detail for e in of(lab, broken_ep, "error")]
    assert any("stopped unexpectedly (RuntimeError: a bug in a mode)" in d for d in errors)
    assert lab.endpoint(ep).to_json()["state"] == "listening"


def test_closing_the_lab_ends_the_reactor_with_its_connections(folders: dict[str, Path]) -> None:
    before = Resources.now()
    lab = Lab(folders["files"], folders["downloads"])
    clients = []
    try:
        ep, address = echo_server(lab)
        clients = [socket.create_connection(address, timeout=10) for _ in range(50)]
        for c in clients:
            assert echo(c, b"x") == b"x"
        assert len(named("lab-reactor")) == 1
    finally:
        lab.close()  # (the clients still open: the lab closes its side of each)
    assert named("lab-reactor") == []  # close() waited for it
    assert {e.closed_by for e in lab.bus.since(0, 100_000)[0] if e.kind == "close" and e.conn} == {"local"}
    for c in clients:
        assert c.recv(10) == b""
        c.close()
    before.settled(timeout=10)
