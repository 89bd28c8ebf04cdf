"""Helpers for the tests: waiting with timeouts, resource counts, a Socket.IO event collector."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable

import engineio
import socketio as socketio_client


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01) -> Any:
    """Poll `predicate` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate}")
        time.sleep(interval)


def open_fds() -> dict[int, str]:
    """This process's open file descriptors: number -> what it refers to (a path, `socket:[inode]`, ...)."""
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # closed since the listing: among them the fd listdir() itself used
    return fds


@dataclass(frozen=True)
class Resources:
    """The threads and fds alive at one moment, by identity.

    Counting is not enough: a late thread or fd of an earlier test that ends meanwhile would make
    room for one this test leaks. So a leak is anything alive now that was not alive then; what
    was alive then may end or stay, as it likes.
    """

    threads: frozenset[threading.Thread]
    fds: dict[int, str]

    @classmethod
    def now(cls) -> "Resources":
        return cls(frozenset(threading.enumerate()), open_fds())

    def new_threads(self) -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t not in self.threads]

    def new_fds(self) -> dict[int, str]:
        # An fd number that was closed and reused for something else is new too.
        return {fd: target for fd, target in open_fds().items() if self.fds.get(fd) != target}

    def settled(self, timeout: float = 2.0) -> None:
        """Assert every thread and fd opened since this snapshot is gone within `timeout` seconds."""
        try:
            wait_until(lambda: not self.new_threads() and not self.new_fds(), timeout)
        except AssertionError:
            raise AssertionError(f"leak: threads {[t.name for t in self.new_threads()]}, "
                                 f"fds {self.new_fds()} still open {timeout} s after the test") from None


@dataclass
class LiveServer:
    url: str
    app: Any
    port: int


@contextmanager
def serve(app: Any, name: str = "live-server") -> Iterator[LiveServer]:
    """`app` on a real threaded HTTP server at 127.0.0.1, port 0, until the block ends."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app, server.server_port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class _InOrderEngineIO(engineio.Client):  # type: ignore[misc]
    """engine.io's client starts a new thread for every message packet it reads (python-engineio
    4.15, `_receive_packet`), so two batches can be handled, and recorded, in either order. This one
    runs the handler in the read loop itself: one thread, packet after packet, as they arrived."""

    def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if event == "message":
            kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)


class _InOrderClient(socketio_client.Client):  # type: ignore[misc]
    def _engineio_client_class(self) -> type[engineio.Client]:
        return _InOrderEngineIO


class EventCollector:
    """A python-socketio client that gathers every event batch the relay sends, in the order it
    received them: `events` is never sorted, so tests can check the order the server sent."""

    def __init__(self, url: str, transports: list[str] | None = None, auth: dict[str, str] | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.batches = 0
        self._lock = threading.Lock()
        self._off_reader = 0  # batches handled outside the engine.io read loop
        self.sio = _InOrderClient(reconnection=False)
        self.sio.on("events", self._on_events)
        self.sio.connect(url, transports=transports or ["websocket"], auth=auth, wait_timeout=5)

    def _on_events(self, batch: list[dict[str, Any]]) -> None:
        with self._lock:
            if threading.current_thread() is not self.sio.eio.read_loop_task:
                self._off_reader += 1
            self.events.extend(batch)
            self.batches += 1

    def _check_one_reader(self) -> None:
        # Receive order is only kept while one thread handles every message (see _InOrderEngineIO):
        # should a new python-engineio dispatch differently, say so rather than compare shuffled lists.
        if self._off_reader:
            raise AssertionError(f"{self._off_reader} batches were handled outside the read loop, so their receive "
                                 "order is lost: check _InOrderEngineIO against this python-engineio")

    def seqs(self) -> list[int]:
        """The seq of every event received so far, in receive order."""
        with self._lock:
            self._check_one_reader()
            return [e["seq"] for e in self.events]

    def find(self, **match: Any) -> list[dict[str, Any]]:
        with self._lock:
            self._check_one_reader()
            return [e for e in self.events if all(e.get(k) == v for k, v in match.items())]

    def wait_for(self, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        found: list[dict[str, Any]] = wait_until(lambda: self.find(**match), timeout)
        return found[0]

    def close(self) -> None:
        self.sio.disconnect()
