"""TCP server and client on real loopback sockets, against plain textbook socket programs."""

from __future__ import annotations

import socket
import threading

import pytest

from lab import Lab, NotFound, Refused
from lab.sockets.tcp import TcpServer

from ..support import Resources, wait_until


def kinds(lab: Lab, endpoint: str, kind: str) -> list:
    events, _ = lab.bus.since(0, 10_000)
    return [e for e in events if e.endpoint == endpoint and e.kind == kind]


def textbook_client(port: int, message: bytes = b"hello") -> bytes:
    """The classic client: connect, send, print recv(1024)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect(("127.0.0.1", port))
    s.send(message)
    data = s.recv(1024)
    s.close()
    return data


def test_echo_server_answers_a_textbook_client(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "host": "127.0.0.1", "port": 0, "mode": "echo"})
    assert server.local is not None and server.local[1] > 0  # port 0: the real port is reported
    assert textbook_client(server.local[1]) == b"hello"
    recv = wait_until(lambda: kinds(lab, server.id, "recv"))[0]
    assert (recv.size, recv.data, recv.hex) == (5, "hello", "68 65 6c 6c 6f")
    assert recv.conn == "c1" and recv.peer is not None


def test_reply_mode_answers_ok(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "reply"})
    assert textbook_client(server.local[1]) == b"OK"
    custom = lab.create({"kind": "tcp-server", "port": 0, "mode": "reply", "reply": "你好"})
    assert textbook_client(custom.local[1]).decode() == "你好"


def test_many_clients_at_once_each_with_its_own_connection(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    clients = [socket.create_connection(server.local) for _ in range(20)]
    try:
        wait_until(lambda: len(server.connections) == 20)
        ids = {c["id"] for c in server.to_json()["connections"]}
        peers = {tuple(c["peer"]) for c in server.to_json()["connections"]}
        assert len(ids) == 20 and peers == {c.getsockname() for c in clients}
        for i, c in enumerate(clients):
            c.sendall(f"msg {i}".encode())
        for i, c in enumerate(clients):
            assert c.recv(100) == f"msg {i}".encode()
        assert len(kinds(lab, server.id, "accept")) == 20
        assert len(kinds(lab, server.id, "listen")) == 1  # one listening socket for all of them
    finally:
        for c in clients:
            c.close()


def test_peer_close_is_reported_as_closed_by_the_peer(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "manual"})
    c = socket.create_connection(server.local)
    wait_until(lambda: server.connections)
    c.close()
    close = wait_until(lambda: kinds(lab, server.id, "close"))[0]
    assert "closed by the peer" in close.detail and "recv() returned 0 bytes" in close.detail
    wait_until(lambda: not server.connections)


def test_stop_listening_refuses_new_clients_but_keeps_old_ones_talking(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    old = socket.create_connection(server.local)
    try:
        wait_until(lambda: server.connections)
        lab.stop_listening(server.id)
        assert server.state == "not-listening"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(server.local, timeout=2).close()
        old.sendall(b"still here")
        assert old.recv(100) == b"still here"
    finally:
        old.close()


def test_stop_with_clients_connected_ends_every_thread_and_fd(lab: Lab, resources: Resources) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    clients = [socket.create_connection(server.local) for _ in range(10)]
    wait_until(lambda: len(server.connections) == 10)
    lab.remove(server.id)
    for c in clients:
        assert c.recv(10) == b""  # each client sees the server close
        c.close()
    resources.settled(timeout=2.0)
    closes = kinds(lab, server.id, "close")
    assert len(closes) == 11  # the listening socket and ten connections


def test_manual_mode_sends_to_one_connection_or_all(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "manual"})
    a, b = socket.create_connection(server.local), socket.create_connection(server.local)
    try:
        wait_until(lambda: len(server.connections) == 2)
        first = min(server.connections, key=lambda cid: int(cid[1:]))
        assert lab.send(server.id, {"data": "to one", "conn": first})["sent"] == 6
        assert a.recv(100) == b"to one"
        assert lab.send(server.id, {"data": "41 4c 4c", "encoding": "hex"})["sent"] == 6  # 3 bytes x 2
        assert a.recv(100) == b"ALL" and b.recv(100) == b"ALL"
        with pytest.raises(NotFound):
            lab.send(server.id, {"data": "x", "conn": "c99"})
    finally:
        a.close()
        b.close()


def test_sending_with_nobody_connected_is_refused(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "manual"})
    with pytest.raises(Refused, match="No client is connected"):
        lab.send(server.id, {"data": "hi"})


def test_port_in_use_is_a_sentence(lab: Lab) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(Refused, match="already in use"):
            lab.create({"kind": "tcp-server", "port": taken.getsockname()[1]})
    assert kinds(lab, "e1", "error")


def test_lab_client_talks_to_a_plain_threaded_ok_server(lab: Lab, resources: Resources) -> None:
    """The classic threaded server that answers OK, with the lab as its client."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    handled = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn:
            while conn.recv(1024):
                conn.send(b"OK")
        handled.set()

    def serve() -> None:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn,)).start()

    acceptor = threading.Thread(target=serve)
    acceptor.start()
    client = lab.create({"kind": "tcp-client", "host": "127.0.0.1", "port": listener.getsockname()[1]})
    acceptor.join(5)
    connect = kinds(lab, client.id, "connect")[0]
    assert "did not bind" in connect.detail
    assert lab.send(client.id, {"data": "hello"})["sent"] == 5
    reply = wait_until(lambda: kinds(lab, client.id, "recv"))[0]
    assert reply.data == "OK"
    lab.remove(client.id)
    assert handled.wait(5)
    listener.close()
    resources.settled()


def test_client_sees_the_server_close_and_cannot_send_after(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "manual"})
    client = lab.create({"kind": "tcp-client", "port": server.local[1]})
    wait_until(lambda: server.connections)
    lab.close_connection(server.id, "c1")
    wait_until(lambda: client.state == "closed")
    assert "closed by the peer" in kinds(lab, client.id, "close")[0].detail
    with pytest.raises(Refused, match="is closed"):
        lab.send(client.id, {"data": "late"})


def test_connection_refused_is_a_sentence(lab: Lab) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connect is refused
        with pytest.raises(Refused, match="Connection refused.*nothing is listening"):
            lab.create({"kind": "tcp-client", "port": port})


def test_connection_limit_accepts_and_closes_the_extra_client(folders: dict) -> None:
    from lab import Limits

    lab = Lab(folders["files"], folders["downloads"], Limits(connections_per_server=2))
    try:
        server = lab.create({"kind": "tcp-server", "port": 0})
        keep = [socket.create_connection(server.local) for _ in range(2)]
        wait_until(lambda: len(server.connections) == 2)
        extra = socket.create_connection(server.local)
        assert extra.recv(10) == b""  # accepted and closed at once, never left hanging
        assert wait_until(lambda: kinds(lab, server.id, "refuse"))
        for s in keep + [extra]:
            s.close()
    finally:
        lab.close()


def test_server_on_ipv6_loopback(lab: Lab) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        server = lab.create({"kind": "tcp-server", "host": "::1", "port": 0})
    except Refused as exc:
        pytest.skip(f"IPv6 loopback is not usable here: {exc}")
    assert isinstance(server, TcpServer)
    with socket.create_connection(("::1", server.local[1])) as c:
        c.sendall(b"v6")
        assert c.recv(10) == b"v6"
