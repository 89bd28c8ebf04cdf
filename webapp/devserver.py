"""Bounds for `python -m webapp` (Werkzeug's threaded server: one thread per connection).

Werkzeug reads a request head and body with blocking reads and no deadline, and starts a thread for
every connection it accepts, so slow heads and bodies pile up threads without end. This request
handler gives the head a deadline (ConnLimits.head_seconds, for the whole head, not per read: one
header line every 8 s must not keep a connection) and then the body one of its own (body_seconds,
for the whole body, read before the app runs), and bounds connections per client address and in
total. Beyond a bound, the oldest connection still waiting for its head or body is closed to make
room (as worker.py does under gunicorn: a real client's request arrives at once, so a flood from
one address cannot lock that address out); only when none is waiting is the new connection
refused. A body is refused before a byte of it is read when it is longer than the app's
MAX_CONTENT_LENGTH (413) or comes with a Transfer-Encoding (411), as under gunicorn. Socket.IO
connections are bounded and reaped by conns.LiveGate, as under gunicorn.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from typing import Any

from werkzeug.sansio.utils import get_content_length
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
    """WSGIRequestHandler with head and body deadlines and connection caps; see `bounded_handler`."""

    budget: ConnBudget
    per_address: int
    total: int
    _lock = threading.Lock()
    _open: dict[str, dict["BoundedRequestHandler", None]]  # address -> its connections, oldest first

    head_deadline: float | None = None
    body_deadline: float | None = None  # set while a body is being read
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
        """Close the oldest of `candidates` still waiting for a head or body; False when none is (under _lock)."""
        for victim in list(candidates):
            if victim.head_deadline is not None or victim.body_deadline is not None:
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
            self._answer(self._refusal)
            return
        super().handle()

    def _answer(self, code: str) -> None:
        """Refuse with a sentence and end the connection."""
        self.close_connection = True
        try:
            self.connection.settimeout(1.0)  # a refusal never waits on a client that does not read
            self.connection.sendall(raw_refusal(code))
            self.connection.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def handle_one_request(self) -> None:
        self.head_deadline = time.monotonic() + self.budget.limits.head_seconds
        super().handle_one_request()
        if self.head_deadline is not None and time.monotonic() >= self.head_deadline:
            self.budget.count_closed("head-timeout")  # (the stdlib closed it: "Request timed out")
            self.close_connection = True

    def parse_request(self) -> bool:
        ok = super().parse_request()
        self.head_deadline = None  # the head is in: the body has a deadline of its own, websockets none
        self.connection.settimeout(None)
        return ok

    def run_wsgi(self) -> None:
        """Run the app once the whole body is in; the app reads it from memory, never from the client."""
        body = self._read_body()
        if body is None:
            return
        stream, self.rfile = self.rfile, io.BytesIO(body)
        try:
            super().run_wsgi()
        finally:
            self.rfile = stream

    def _read_body(self) -> bytes | None:
        """The request's body, read within `body_seconds`; None when it was refused or never came."""
        if "Transfer-Encoding" in self.headers:
            self.budget.count_refused("length-required")
            self._answer("length-required")
            return None
        lengths = self.headers.get_all("Content-Length") or []
        length = get_content_length(lengths[-1] if lengths else None) or 0  # (as Werkzeug reads it)
        limit = getattr(self.server.app, "config", {}).get("MAX_CONTENT_LENGTH")
        if limit is not None and length > limit:
            self.budget.count_refused("too-large")
            self._answer("too-large")
            return None
        if not length:
            return b""
        # (the stdlib has answered an "Expect: 100-continue" in parse_request: the body is on its way)
        self.body_deadline = time.monotonic() + self.budget.limits.body_seconds
        body: bytes | None = None
        try:
            body = self._receive(length, self.body_deadline)
        except TimeoutError:
            self.budget.count_closed("body-timeout")
            self._answer("body-timeout")
        except OSError:
            pass  # the client is gone
        finally:
            with self._lock:  # from here on, no new connection may close this one to make room
                self.body_deadline = None
                evicted = self not in self._open.get(self._address, {})
            self.connection.settimeout(None)
        if body is None or evicted:
            self.close_connection = True
            return None
        return body

    def _receive(self, length: int, deadline: float) -> bytes | None:
        """`length` bytes from the client by `deadline` (TimeoutError), or None when it leaves first
        (or the connection was closed to make room)."""
        body = bytearray()
        while len(body) < length:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            # one read at a time, each under what is left of the deadline: a body trickled one byte
            # at a time cannot stretch it
            self.connection.settimeout(left)
            chunk = self.rfile.read1(min(length - len(body), 1 << 20))
            if not chunk:
                return None
            body += chunk
        return bytes(body)

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
    """A handler class for one app's dev server. Every connection (kept-alive, websocket, or a head or
    body still arriving) holds a thread here, so the caps cover all of them: what Socket.IO may hold
    plus what may wait for a request, per address and in total."""
    limits = budget.limits
    return type("BoundedRequestHandler", (BoundedRequestHandler,), {
        "budget": budget, "_open": {},
        "per_address": budget.websockets_per_address + limits.pending_per_address,
        "total": budget.websockets + limits.pending,
    })
