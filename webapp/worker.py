"""gunicorn's gthread worker, except that a connection reaches a thread only with a whole request.

gunicorn.conf.py selects it (`worker_class`), so the production gunicorn command runs it unchanged.

Why: gunicorn 27's ThreadWorker hands a connection to a thread as soon as any byte arrives
(`handle` waits 5 s for the first byte, then reads the head and the body with blocking reads and no
deadline). A client that sends one header line every few seconds (slowloris), or a whole head and
then its body one byte at a time, keeps that thread forever: 120 slow heads, or 100 slow bodies,
stopped a 100-thread dashboard. Here the main loop, which already polls every socket, collects the
whole request, head and body, without a thread:

- a head must be complete within `head_seconds` (ConnLimits), and then its body (Content-Length
  bytes) within `body_seconds`, or it is answered 408 and closed;
- a body that could never be collected whole is refused before a byte of it is held: longer than
  the app's MAX_CONTENT_LENGTH (413, what Flask would answer), or sent with a Transfer-Encoding
  (411). The dashboard's clients (browsers' fetch and XHR, requests, the tracer's urllib) always
  send a Content-Length; refusing chunked bodies keeps one way of finding a body's end;
- at most `pending_per_address` requests wait per client address and `pending` in all, holding
  at most `pending_bytes`; a new connection beyond a count closes the oldest waiting one (429/503
  with a sentence), and so do bytes beyond the budget. Oldest, not newest: a real client's request
  arrives at once, so what has waited longest is the slow one, and a flood from one address cannot
  lock that address (or the teacher's loopback) out;
- the collected bytes are handed to gunicorn's parser untouched (`HeadConn.init`), so requests are
  parsed exactly as before; a thread then never waits on the client to read a request.

Counts go to the app's ConnBudget (conns.py), which /api/stats reports, and the worker fits the
app's Socket.IO bound below its thread count there. Keep -w 1: one process holds the lab.
"""

from __future__ import annotations

import errno
import selectors
import socket
import time
from collections import Counter
from dataclasses import dataclass
from functools import partial
from typing import Any

from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import TConn, ThreadWorker

from .conns import ConnBudget, raw_refusal

MAX_HEAD = 64 << 10  # bytes; gunicorn's own header limits are far below this by default
HEAD_END = b"\r\n\r\n"
BARE_LF_END = b"\n\n"  # gunicorn refuses a bare LF (400) as soon as it reads one: nothing to wait for
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
READ_AT_ONCE = 256 << 10


@dataclass(frozen=True)
class Framing:
    """Where the body of the request at the start of some bytes ends, read from its whole head."""

    body_start: int  # offset of the body's first byte, just after the head
    length: int  # body bytes to collect before a thread takes the request
    transfer_encoding: bool  # the body is sent with a Transfer-Encoding (refused: see the module docstring)
    expects_continue: bool  # an HTTP/1.1 client waits for "100 Continue" before sending the body

    @property
    def end(self) -> int:
        return self.body_start + self.length


def framing(data: bytes) -> Framing | None:
    """The framing of the request at the start of `data`, or None while its head is incomplete.

    It reads the head as gunicorn's parser does (http/message.py), so that a thread never finds it
    must wait for more: lines end with CRLF; a field's name is what comes before its first colon,
    upper-cased; a single Content-Length of ASCII digits is the body's length. No Content-Length, or
    one gunicorn refuses (two of them, anything but digits), means nothing to wait for: gunicorn
    answers that 400 before reading a body.
    """
    end = data.find(HEAD_END)
    if end < 0:
        bare = data.find(BARE_LF_END)
        return None if bare < 0 else Framing(bare + len(BARE_LF_END), 0, False, False)
    lines = data[:end].split(b"\r\n")
    request_line = lines[1] if lines[0] == b"" and len(lines) > 1 else lines[0]  # (one empty line may lead)
    lengths: list[bytes] = []
    transfer_encoding = expects = False
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            continue
        name, value = name.upper(), value.strip(b" \t")
        if name == b"CONTENT-LENGTH":
            lengths.append(value)
        elif name == b"TRANSFER-ENCODING":
            transfer_encoding = True
        elif name == b"EXPECT":
            expects = value.lower() == b"100-continue"
    length = int(lengths[0]) if len(lengths) == 1 and lengths[0].isdigit() else 0
    # (a 100-continue expectation in HTTP/1.0 is ignored: RFC 9110 section 10.1.1)
    return Framing(end + len(HEAD_END), length, transfer_encoding, expects and request_line.endswith(b"HTTP/1.1"))


class HeadConn(TConn):  # type: ignore[misc]
    """A gthread connection carrying the bytes of a whole request read before a thread took it."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.head = bytearray()  # the request's head, its body, and whatever the client sent behind them
        self.framing: Framing | None = None  # known once the head is whole
        self.head_ready = False
        self.continued = False  # the main loop answered this request's 100-continue expectation
        self.deadline = 0.0

    def init(self) -> None:
        super().init()
        if self.head:  # first in line for the parser, before anything still on the socket
            self.parser.unreader.unread(bytes(self.head))
            self.head = bytearray()


def _address(client: Any) -> str:
    return str(client[0]) if isinstance(client, tuple) else str(client)


class HeadFirstWorker(ThreadWorker):  # type: ignore[misc]
    """ThreadWorker whose threads only ever see whole requests (see the module docstring)."""

    max_body: int | None = None  # the app's MAX_CONTENT_LENGTH
    held = 0  # bytes held by the requests in `waiting`

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget = ConnBudget()  # the app's own replaces it in load_wsgi
        self.waiting: dict[HeadConn, None] = {}  # requests being collected, in the order they began
        self.waiting_from: Counter[str] = Counter()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        budget = getattr(self.wsgi, "extensions", {}).get("socketlab_conns")
        if isinstance(budget, ConnBudget):
            self.budget = budget
        self.budget.fit_threads(self.cfg.threads)
        self.max_body = getattr(self.wsgi, "config", {}).get("MAX_CONTENT_LENGTH")

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
            conn.head_ready = False  # one request, one trip to a thread
            super().enqueue_req(conn)
        else:
            self._wait_for_head(conn)

    def handle_request(self, req: Any, conn: TConn) -> Any:
        if isinstance(conn, HeadConn) and conn.continued:
            # one "100 Continue" per request: the main loop sent it, gunicorn's wsgi.create need not
            req._expected_100_continue = False
            conn.continued = False
        return super().handle_request(req, conn)

    def _wait_for_head(self, conn: HeadConn) -> None:
        """Collect the next request on `conn`, head then body, and hand it to a thread once whole."""
        if conn.parser is not None:  # a body drain read ahead into the next request: the start of its head
            conn.head += conn.parser.unreader.take_buffered()
        conn.framing, conn.continued = None, False
        if self._request_arrived(conn):
            return
        conn.sock.setblocking(False)
        if self._read_request(conn):  # a real client's request is usually there already: no wait at all
            return
        limits, address = self.budget.limits, _address(conn.client)
        # the oldest waiting makes room, unless its request came meanwhile (not yet polled): it goes on,
        # and the next oldest is looked at. (A probe from an attacked address was refused so, once,
        # when a burst of new connections came between its accept and the poll that read its head.)
        while self.waiting_from[address] >= limits.pending_per_address:
            oldest = next(c for c in self.waiting if _address(c.client) == address)
            if not self._read_request(oldest):
                self._refuse(oldest, "too-many-pending-from-address")
        while len(self.waiting) >= limits.pending:
            oldest = next(iter(self.waiting))
            if not self._read_request(oldest):
                self._refuse(oldest, "too-many-pending")
        conn.deadline = time.monotonic() + (limits.head_seconds if conn.framing is None else limits.body_seconds)
        self.waiting[conn] = None
        self.waiting_from[address] += 1
        self.held += len(conn.head)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))
        self._keep_to_budget()

    def _on_readable(self, conn: HeadConn, _sock: Any) -> None:
        if not self._read_request(conn) and conn in self.waiting:
            self._keep_to_budget()

    def _read_request(self, conn: HeadConn) -> bool:
        """Take what has arrived of `conn`'s request, never blocking. True when it no longer waits: it
        is whole (it went to a thread), or the client left, or it was refused."""
        want = READ_AT_ONCE if conn.framing is None else max(READ_AT_ONCE, conn.framing.end - len(conn.head))
        try:
            data = conn.sock.recv(min(want, 4 * READ_AT_ONCE))
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
        if conn in self.waiting:
            self.held += len(data)
        return self._request_arrived(conn)

    def _request_arrived(self, conn: HeadConn) -> bool:
        """Hand `conn` to a thread when its request is whole, or refuse what can never be. True when it
        no longer waits."""
        if conn.framing is None:
            conn.framing = framing(bytes(conn.head[:MAX_HEAD]))
            if conn.framing is None:
                if len(conn.head) > MAX_HEAD:
                    self._refuse(conn, "head-too-large")
                    return True
                return False
            if conn.framing.transfer_encoding:
                self._refuse(conn, "length-required")
                return True
            if self.max_body is not None and conn.framing.length > self.max_body:
                self._refuse(conn, "too-large")  # before a byte of it is held
                return True
            if len(conn.head) < conn.framing.end:  # the body is to come: its own deadline, from now
                conn.deadline = time.monotonic() + self.budget.limits.body_seconds
                if conn.framing.expects_continue:
                    self._send_continue(conn)
        if len(conn.head) < conn.framing.end:
            return False
        self._forget(conn)
        conn.head_ready = conn.data_ready = True
        self.enqueue_req(conn)
        return True

    def _send_continue(self, conn: HeadConn) -> None:
        """Tell a client that waits for it to send its body (never blocking: a client that has not
        read earlier answers gets none, and sends its body after its own wait, as clients do)."""
        try:
            conn.continued = conn.sock.send(CONTINUE) == len(CONTINUE)
        except OSError:
            pass  # the client is gone, or not reading: its body will come or its deadline will

    def _keep_to_budget(self) -> None:
        """Close the oldest waiting requests while they hold more than `pending_bytes`."""
        while self.held > self.budget.limits.pending_bytes and self.waiting:
            self._refuse(next(iter(self.waiting)), "too-many-pending")

    def _forget(self, conn: HeadConn) -> None:
        if conn in self.waiting:
            del self.waiting[conn]
            self.held -= len(conn.head)
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
        if code in ("head-timeout", "body-timeout"):
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
        """Called by the main loop about once a second: also close requests past their deadline."""
        super().murder_pending()
        now = time.monotonic()
        # a stopping worker takes no new requests; (a few hundred at most: one look at each)
        for conn in [c for c in self.waiting if c.deadline <= now or not self.alive]:
            self._refuse(conn, "head-timeout" if conn.framing is None else "body-timeout")
