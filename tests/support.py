"""Helpers for the tests: waiting with timeouts, resource counts, a Socket.IO event collector."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

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


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@dataclass
class Resources:
    threads: int
    fds: int

    @classmethod
    def now(cls) -> "Resources":
        return cls(threading.active_count(), open_fds())

    def settled(self, timeout: float = 2.0) -> None:
        """Assert threads and fds come back to this snapshot within `timeout` seconds."""
        try:
            wait_until(lambda: threading.active_count() <= self.threads and open_fds() <= self.fds, timeout)
        except AssertionError:
            raise AssertionError(f"leak: threads {self.threads} -> {threading.active_count()} "
                                 f"({[t.name for t in threading.enumerate()]}), fds {self.fds} -> {open_fds()}") from None


@dataclass
class LiveServer:
    url: str
    app: Any
    port: int


class EventCollector:
    """A python-socketio client that gathers every event batch the relay sends."""

    def __init__(self, url: str, transports: list[str] | None = None, auth: dict[str, str] | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.batches = 0
        self._lock = threading.Lock()
        self.sio = socketio_client.Client(reconnection=False)
        self.sio.on("events", self._on_events)
        self.sio.connect(url, transports=transports or ["websocket"], auth=auth, wait_timeout=5)

    def _on_events(self, batch: list[dict[str, Any]]) -> None:
        # python-socketio's client may run handlers for two messages in parallel threads, so keep
        # the events in seq order here; the server sends them in order.
        with self._lock:
            self.events.extend(batch)
            self.events.sort(key=lambda e: e["seq"])
            self.batches += 1

    def find(self, **match: Any) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if all(e.get(k) == v for k, v in match.items())]

    def wait_for(self, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        found: list[dict[str, Any]] = wait_until(lambda: self.find(**match), timeout)
        return found[0]

    def close(self) -> None:
        self.sio.disconnect()
