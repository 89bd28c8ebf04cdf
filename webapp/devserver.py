"""Bounds for `python -m webapp` (Werkzeug's threaded server: one thread per connection).

Werkzeug reads a request head with blocking reads and no deadline, and starts a thread for every
connection it accepts, so slow heads pile up threads without end. This request handler gives the
head a deadline (ConnLimits.head_seconds, for the whole head, not per read: one header line every
8 s must not keep a connection) and bounds connections per client address and in total. Beyond
a bound, the oldest connection still waiting for a head is closed to make room (as worker.py does
under gunicorn: a real client's head arrives at once, so a flood from one address cannot lock that
address out); only when none is waiting is the new connection refused. Socket.IO connections are
bounded and reaped by conns.LiveGate, as under gunicorn.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from werkzeug.serving import WSGIRequestHandler

from .conns import ConnBudget, raw_refusal


class _HeadReader:
    """The handler's rfile, with the socket's timeout set to what is left of the head's deadline
    before each line read while a head is being read; everything else goes straight through."""

    def __init__(self, raw: Any, handler: "BoundedRequestHandler") -> None:
        self._raw, self._handler = raw, handler

    def readline(self, *args: Any) -> bytes:
        deadline = self._handler.head_deadline
        if deadline is not None:
            # socket.timeout (TimeoutError) ends the request: BaseHTTPRequestHandler catches it
            self._handler.connection.settimeout(max(0.001, deadline - time.monotonic()))
        line: bytes = self._raw.readline(*args)
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class BoundedRequestHandler(WSGIRequestHandler):
    """WSGIRequestHandler with a head deadline and connection caps; see `bounded_handler`."""

    budget: ConnBudget
    per_address: int
    total: int
    _lock = threading.Lock()
    _open: dict[str, dict["BoundedRequestHandler", None]]  # address -> its connections, oldest first

    head_deadline: float | None = None
    _admitted = False

    def setup(self) -> None:
        super().setup()
        self.rfile = _HeadReader(self.rfile, self)  # type: ignore[assignment]
        self._address = str(self.client_address[0]) if isinstance(self.client_address, tuple) else ""
        self._refusal = ""
        with self._lock:
            mine = self._open.setdefault(self._address, {})
            if len(mine) >= self.per_address and not self._evict(mine.keys()):
                self._refusal = "too-many-pending-from-address"
            elif sum(map(len, self._open.values())) >= self.total and not self._evict(
                    h for conns in self._open.values() for h in conns):
                self._refusal = "too-many-pending"
            else:
                mine[self] = None
                self._admitted = True
            if not mine:
                del self._open[self._address]
        if not self._admitted:
            self.budget.count_refused(self._refusal)

    def _evict(self, candidates: Any) -> bool:
        """Close the oldest of `candidates` still waiting for a head; False when none is (under _lock)."""
        for victim in list(candidates):
            if victim.head_deadline is not None:
                del self._open[victim._address][victim]
                self.budget.count_refused("too-many-pending-from-address" if victim._address == self._address
                                          else "too-many-pending")
                try:
                    victim.connection.shutdown(socket.SHUT_RDWR)  # its blocked read ends; its thread finishes
                except OSError:
                    pass
                return True
        return False

    def handle(self) -> None:
        if not self._admitted:
            try:
                self.connection.settimeout(1.0)  # a refusal never waits on a client that does not read
                self.connection.sendall(raw_refusal(self._refusal))
                self.connection.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return
        super().handle()

    def handle_one_request(self) -> None:
        self.head_deadline = time.monotonic() + self.budget.limits.head_seconds
        super().handle_one_request()
        if self.head_deadline is not None and time.monotonic() >= self.head_deadline:
            self.budget.count_closed("head-timeout")  # (the stdlib closed it: "Request timed out")
            self.close_connection = True

    def parse_request(self) -> bool:
        ok = super().parse_request()
        self.head_deadline = None  # the head is in: bodies and websockets have no such deadline
        self.connection.settimeout(None)
        return ok

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self._lock:
                mine = self._open.get(self._address, {})
                mine.pop(self, None)  # (gone already when it was evicted)
                if not mine:
                    self._open.pop(self._address, None)


def bounded_handler(budget: ConnBudget) -> type[BoundedRequestHandler]:
    """A handler class for one app's dev server. Every connection (kept-alive, websocket, or a head
    still arriving) holds a thread here, so the caps cover all of them: what Socket.IO may hold
    plus what may wait for a head, per address and in total."""
    limits = budget.limits
    return type("BoundedRequestHandler", (BoundedRequestHandler,), {
        "budget": budget, "_open": {},
        "per_address": budget.websockets_per_address + limits.pending_per_address,
        "total": budget.websockets + limits.pending,
    })
