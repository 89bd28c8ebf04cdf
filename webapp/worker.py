"""gunicorn's gthread worker, except that a connection reaches a thread only with a whole request head.

gunicorn.conf.py selects it (`worker_class`), so the README's command runs it unchanged.

Why: gunicorn 27's ThreadWorker hands a connection to a thread as soon as any byte arrives
(`handle` waits 5 s for the first byte, then reads the head with blocking reads and no deadline).
A client that sends one header line every few seconds (slowloris) keeps that thread forever, and
120 such clients stopped a 100-thread dashboard. Here the main loop, which already polls every
socket, collects the head without a thread:

- a head must be complete within `head_seconds` (ConnLimits), or it is answered 408 and closed;
- at most `pending_per_address` heads wait per client address and `pending` in all; a new
  connection beyond either closes the oldest waiting one (429/503 with a sentence). Oldest, not
  newest: a real browser's head arrives at once, so what has waited longest is the slow one, and
  a flood from one address cannot lock that address (or the teacher's loopback) out;
- the collected bytes are handed to gunicorn's parser untouched (`HeadConn.init`), so requests are
  parsed exactly as before. Request bodies are read by the thread, as before.

Counts go to the app's ConnBudget (conns.py), which /api/stats reports, and the worker fits the
app's Socket.IO bound below its thread count there. Keep -w 1: one process holds the lab.
"""

from __future__ import annotations

import errno
import selectors
import socket
import time
from collections import Counter
from functools import partial
from typing import Any

from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import TConn, ThreadWorker

from .conns import ConnBudget, raw_refusal

MAX_HEAD = 64 << 10  # bytes; gunicorn's own header limits are far below this by default
HEAD_ENDS = (b"\r\n\r\n", b"\n\n")


class HeadConn(TConn):  # type: ignore[misc]
    """A gthread connection carrying the bytes of a request head read before a thread took it."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.head = b""
        self.head_ready = False
        self.deadline = 0.0

    def init(self) -> None:
        super().init()
        if self.head:  # first in line for the parser, before anything still on the socket
            self.parser.unreader.unread(self.head)
            self.head = b""


def _address(client: Any) -> str:
    return str(client[0]) if isinstance(client, tuple) else str(client)


class HeadFirstWorker(ThreadWorker):  # type: ignore[misc]
    """ThreadWorker whose threads only ever see whole request heads (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget = ConnBudget()  # the app's own replaces it in load_wsgi
        self.waiting: dict[HeadConn, None] = {}  # heads being collected, oldest (earliest deadline) first
        self.waiting_from: Counter[str] = Counter()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        budget = getattr(self.wsgi, "extensions", {}).get("socketlab_conns")
        if isinstance(budget, ConnBudget):
            self.budget = budget
        self.budget.fit_threads(self.cfg.threads)

    def accept(self, listener: socket.socket) -> None:
        try:
            client_sock, client = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self.enqueue_req(HeadConn(self.cfg, client_sock, client, listener.getsockname()))

    def enqueue_req(self, conn: TConn) -> None:
        """Every way to a thread passes here: new, kept-alive, and read-ahead connections."""
        if not isinstance(conn, HeadConn) or self.cfg.is_ssl or negotiation.prior_knowledge_allowed(self.cfg, conn.client):
            super().enqueue_req(conn)  # encrypted or HTTP/2 bytes have no head to look for
        elif conn.head_ready:
            conn.head_ready = False  # one head, one trip to a thread
            super().enqueue_req(conn)
        else:
            self._wait_for_head(conn)

    def _wait_for_head(self, conn: HeadConn) -> None:
        if conn.parser is not None:  # a body drain read ahead into the next request: the start of its head
            conn.head += conn.parser.unreader.take_buffered()
        if self._head_arrived(conn):
            return
        conn.sock.setblocking(False)
        if self._read_head(conn):  # a real client's head is usually there already: no wait at all
            return
        limits, address = self.budget.limits, _address(conn.client)
        # the oldest waiting makes room, unless its head came meanwhile (not yet polled): it goes on,
        # and the next oldest is looked at. (A probe from an attacked address was refused so, once,
        # when a burst of new connections came between its accept and the poll that read its head.)
        while self.waiting_from[address] >= limits.pending_per_address:
            oldest = next(c for c in self.waiting if _address(c.client) == address)
            if not self._read_head(oldest):
                self._refuse(oldest, "too-many-pending-from-address")
        while len(self.waiting) >= limits.pending:
            oldest = next(iter(self.waiting))
            if not self._read_head(oldest):
                self._refuse(oldest, "too-many-pending")
        conn.deadline = time.monotonic() + limits.head_seconds
        self.waiting[conn] = None
        self.waiting_from[address] += 1
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_head_readable, conn))

    def _on_head_readable(self, conn: HeadConn, _sock: Any) -> None:
        self._read_head(conn)

    def _read_head(self, conn: HeadConn) -> bool:
        """Take what has arrived of `conn`'s head, never blocking. True when it no longer waits: its
        head is whole (it went to a thread), or it left, or it was refused."""
        try:
            data = conn.sock.recv(MAX_HEAD)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            data = b""
        if not data:  # the client left before finishing its request
            self._forget(conn)
            self.nr_conns -= 1
            conn.close()
            return True
        conn.head += data
        if len(conn.head) > MAX_HEAD:
            self._refuse(conn, "head-too-large")
            return True
        if any(end in conn.head for end in HEAD_ENDS):
            self._forget(conn)
            self._head_arrived(conn)
            return True
        return False

    def _head_arrived(self, conn: HeadConn) -> bool:
        """Hand `conn` to a thread when its head is whole."""
        if not any(end in conn.head for end in HEAD_ENDS):
            return False
        conn.head_ready = conn.data_ready = True
        self.enqueue_req(conn)
        return True

    def _forget(self, conn: HeadConn) -> None:
        if conn in self.waiting:
            del self.waiting[conn]
            address = _address(conn.client)
            self.waiting_from[address] -= 1
            if not self.waiting_from[address]:
                del self.waiting_from[address]
            try:
                self.poller.unregister(conn.sock)
            except (KeyError, ValueError, OSError):
                pass  # the socket is already closed

    def _refuse(self, conn: HeadConn, code: str) -> None:
        """Answer with a sentence (best effort, never blocking) and close."""
        self._forget(conn)
        if code == "head-timeout":
            self.budget.count_closed(code)
        else:
            self.budget.count_refused(code)
        try:
            conn.sock.send(raw_refusal(code))
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the client's buffer is full or it is gone: closing is the answer
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """Called by the main loop about once a second: also close heads past their deadline."""
        super().murder_pending()
        now = time.monotonic()
        while self.waiting:
            conn = next(iter(self.waiting))
            if conn.deadline > now and self.alive:  # a stopping worker takes no new requests
                break
            self._refuse(conn, "head-timeout")
