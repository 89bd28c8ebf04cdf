"""UDP server and client with recvfrom/sendto, against plain textbook programs."""

from __future__ import annotations

import socket

import pytest

from lab import Lab, Refused, TooLarge

from ..support import Resources, wait_until


def of(lab: Lab, endpoint: str, kind: str) -> list:
    return [e for e in lab.bus.since(0, 10_000)[0] if e.endpoint == endpoint and e.kind == kind]


def test_udp_echo_server_answers_a_textbook_client(lab: Lab) -> None:
    server = lab.create({"kind": "udp-server", "port": 0, "mode": "echo"})
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(b"ping", ("127.0.0.1", server.local[1]))
        data, addr = s.recvfrom(1024)
        assert (data, addr) == (b"ping", tuple(server.local))
        recv = wait_until(lambda: of(lab, server.id, "recv"))[0]
        assert recv.peer == ("127.0.0.1", s.getsockname()[1]) and recv.size == 4 and recv.proto == "udp"


def test_udp_reply_and_manual_answer_to_the_last_peer(lab: Lab) -> None:
    server = lab.create({"kind": "udp-server", "port": 0, "mode": "manual"})
    with pytest.raises(Refused, match="No datagram has arrived"):
        lab.send(server.id, {"data": "nobody"})
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(b"hi", tuple(server.local))
        wait_until(lambda: server.last_peer)
        lab.send(server.id, {"data": "back"})
        assert s.recvfrom(100)[0] == b"back"
        lab.send(server.id, {"data": "explicit", "to": ["127.0.0.1", s.getsockname()[1]]})
        assert s.recvfrom(100)[0] == b"explicit"


def test_udp_client_does_not_bind_until_it_sends(lab: Lab) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as plain_server:
        plain_server.bind(("127.0.0.1", 0))
        plain_server.settimeout(5)
        client = lab.create({"kind": "udp-client", "port": plain_server.getsockname()[1]})
        assert client.local is None
        lab.send(client.id, {"data": "hello"})
        data, addr = plain_server.recvfrom(100)
        assert data == b"hello" and client.local is not None and addr[1] == client.local[1]
        plain_server.sendto(b"OK", addr)  # recvfrom/sendto: answer whoever sent
        assert wait_until(lambda: of(lab, client.id, "recv"))[0].data == "OK"


def test_datagram_limit(folders: dict) -> None:
    from lab import Limits

    lab = Lab(folders["files"], folders["downloads"], Limits(datagram_bytes=10))
    try:
        client = lab.create({"kind": "udp-client", "port": 9})
        with pytest.raises(TooLarge, match="at most 10 bytes"):
            lab.send(client.id, {"data": "x" * 11})
    finally:
        lab.close()


def test_udp_stop_ends_thread_and_fd(lab: Lab, resources: Resources) -> None:
    server = lab.create({"kind": "udp-server", "port": 0})
    client = lab.create({"kind": "udp-client", "port": server.local[1]})
    lab.send(client.id, {"data": "x"})
    wait_until(lambda: of(lab, client.id, "recv"))
    lab.remove(client.id)
    lab.remove(server.id)
    resources.settled()


def test_an_answer_that_cannot_be_sent_does_not_end_the_server(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    # e.g. the socket closing while an echo is on its way: the receive thread must not die with it
    server = lab.create({"kind": "udp-server", "host": "127.0.0.1", "port": 0, "mode": "echo"})
    real = server.sendto
    failures = []

    def refuse_once(data: bytes, peer: tuple[str, int]) -> int:
        if not failures:
            failures.append(data)
            raise Refused("udp-socket-closed")
        return real(data, peer)

    monkeypatch.setattr(server, "sendto", refuse_once)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(b"first", server.local)
        wait_until(lambda: failures)
        s.sendto(b"second", server.local)
        assert s.recvfrom(100)[0] == b"second"  # the same thread still receives and answers
