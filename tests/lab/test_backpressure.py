"""Peers that never read: every TCP send has a deadline, the send lock is free again by then, the
peer gets its own `backpressure` event, and a relay keeps serving the clients that do read."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import Iterator

import pytest

from lab import Lab
from lab.sockets.endpoint import Limits
from lab.errors import Refused

from ..support import wait_until

MiB = 1 << 20


def of(lab: Lab, endpoint: str, kind: str) -> list:
    return [e for e in lab.bus.since(0, 100_000)[0] if e.endpoint == endpoint and e.kind == kind]


@pytest.fixture
def lab(folders: dict[str, Path]) -> Iterator[Lab]:
    the_lab = Lab(folders["files"], folders["downloads"], Limits(send_timeout_ms=300))
    yield the_lab
    the_lab.close()


def sleeper(port: int) -> socket.socket:
    """A client that connects and never reads, with a small receive buffer so it fills soon."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    return sock


def test_send_to_a_peer_that_never_reads_ends_with_a_sentence(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "manual"})
    with sleeper(server.local[1]):
        wait_until(lambda: server.connections)
        with pytest.raises(Refused, match="reading"):
            for _ in range(256):  # far more than both buffers hold: before the fix, a send blocked forever here
                lab.send(server.id, {"data": "x" * MiB, "conn": "c1"})
        event = wait_until(lambda: of(lab, server.id, "backpressure"))[0]
        assert event.conn == "c1" and "0.3 s" in event.detail
        if "closed the connection" in event.detail:  # part of a message went: the stream is cut, so closed
            wait_until(lambda: not server.connections)
            assert "the peer stopped reading" in of(lab, server.id, "close")[0].detail
        else:  # nothing went: the stream is whole, and the connection goes on
            assert "the connection goes on" in event.detail and server.connection("c1").state == "open"


def test_relay_goes_on_while_one_client_never_reads(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "relay", "framing": "line"})
    received = bytearray()
    with sleeper(server.local[1]) as stalled, socket.create_connection(server.local) as reader, \
            socket.create_connection(server.local) as sender:
        wait_until(lambda: len(server.connections) == 3)  # c1 stalled (first in the relay's loop), c2 reads, c3 sends

        def read() -> None:
            while chunk := reader.recv(65536):
                received.extend(chunk)

        thread = threading.Thread(target=read)
        thread.start()
        line = b"m" * 65535 + b"\n"
        for _ in range(512):  # until the stalled client's buffers are full (32 MiB at most)
            sender.sendall(line)
            if of(lab, server.id, "backpressure"):
                break
        assert of(lab, server.id, "backpressure")[0].conn == "c1"
        sender.sendall(b"still here\n")
        wait_until(lambda: received.endswith(b"still here\n"), timeout=30)
        assert "c1" not in [e.conn for e in of(lab, server.id, "relay") if "still here" in (e.data or "")]
        reader.shutdown(socket.SHUT_RDWR)
        thread.join(10)
        del stalled


def test_file_to_a_client_that_never_reads_is_abandoned(lab: Lab, folders: dict[str, Path]) -> None:
    folders["files"].mkdir(parents=True, exist_ok=True)
    (folders["files"] / "big.bin").write_bytes(os.urandom(32 * MiB))
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "file", "file": "big.bin"})
    with sleeper(server.local[1]):
        event = wait_until(lambda: of(lab, server.id, "backpressure"), timeout=30)[0]
        assert "stopped reading" in event.detail
        error = wait_until(lambda: of(lab, server.id, "error"))[0]
        assert error.detail.startswith("sending 'big.bin' stopped: Connection c1 to 127.0.0.1:")
        wait_until(lambda: not server.connections)
