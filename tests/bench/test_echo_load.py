"""The echo rows' load generator (bench/echo_load.py) against a real echo server on 127.0.0.1: every
round trip it counts was a whole 64-byte echo, with both of its programs (C where a compiler is, and
Python). No timing thresholds: what is checked is the count, not the rate."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
from typing import Iterator

import pytest

from bench import echo_load


class CountingEchoServer:
    """A threaded echo server that counts the bytes it echoed and the connections it served."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.echoed = 0
        self.connections = 0
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            thread = threading.Thread(target=self._echo, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _echo(self, conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)
                with self.lock:
                    self.echoed += len(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # (a second close: already shut)
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(), which close() alone does not
        self.listener.close()
        self.acceptor.join(5)
        for thread in self.threads:
            thread.join(5)


@pytest.fixture
def server() -> Iterator[CountingEchoServer]:
    made = CountingEchoServer()
    yield made
    made.close()


@pytest.fixture(params=["c", "python"])
def kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "python":
        monkeypatch.setattr(echo_load, "_built", [""])  # as on a machine without a C compiler
    elif not (shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")):
        pytest.skip("no C compiler here")
    return str(request.param)


def test_every_round_trip_counted_was_a_whole_echo(server: CountingEchoServer, kind: str) -> None:
    load = echo_load.drive(server.port, connections=3, seconds=0.2)
    server.close()  # (every connection closed by then: its thread ended, its count is in)
    assert echo_load.generator() == kind
    assert server.connections == 3 and load.round_trips > 0 and load.seconds == 0.2
    # C ends with one round trip in flight on each connection, taken back after the clock and not
    # counted; the Python clients end between two round trips
    in_flight = 3 if kind == "c" else 0
    assert server.echoed == 64 * (load.round_trips + in_flight)
    assert load.generator_cpu_s > 0
