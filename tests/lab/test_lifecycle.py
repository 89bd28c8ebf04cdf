"""The lab and its endpoints close as context managers; a thread that will not end is said, not hidden."""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path

import pytest

from lab import Lab, commands
from lab.sockets.endpoint import join, stuck_threads


def test_a_lab_closes_its_endpoints_when_its_block_ends(tmp_path: Path) -> None:
    with Lab(tmp_path / "files", tmp_path / "downloads") as lab:
        server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
        port = server.local[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"hi")
            assert sock.recv(10) == b"hi"
    assert server.state == "stopped"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_an_endpoint_closes_when_its_block_ends(lab: Lab) -> None:
    with lab.create({"kind": "udp-server", "port": 0, "mode": "echo"}) as server:
        assert server.state == "bound"
    assert server.state == "stopped"


def test_a_join_that_gives_up_names_the_thread(lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()
    thread = threading.Thread(target=release.wait, args=(30,), name="stubborn-worker")
    thread.start()
    try:
        with caplog.at_level(logging.WARNING, logger="lab.sockets.endpoint"):
            assert join(thread, timeout=0.05) is False
        assert "stubborn-worker did not end" in caplog.text
        assert stuck_threads()[-1] == "stubborn-worker"
        assert commands.run(lab, "stats")["stuck_threads"] == len(stuck_threads())  # (/api/stats adds them up)
    finally:
        release.set()
        thread.join(5)
    assert join(thread) is True


def test_bytes_are_counted_once_each_under_many_senders(lab: Lab) -> None:
    """Many connections' threads add to their server's totals at once: no byte is lost."""
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    clients = [socket.create_connection(("127.0.0.1", server.local[1]), timeout=10) for _ in range(8)]
    chunk, rounds = b"x" * 100, 200

    def talk(sock: socket.socket) -> None:
        for _ in range(rounds):
            sock.sendall(chunk)
        got = 0
        while got < len(chunk) * rounds:
            got += len(sock.recv(65536))

    threads = [threading.Thread(target=talk, args=(sock,)) for sock in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for sock in clients:
        sock.close()
    total = len(chunk) * rounds * len(clients)
    assert server.bytes_in == total and server.bytes_out == total
