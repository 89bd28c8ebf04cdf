"""One connected TCP socket with its own receive thread: what accept() or connect() hands out.

The thread owns the socket: it receives until EOF, an error, or a shutdown from close(), then
closes the fd and publishes one `close` event that says which side closed.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any, Callable, Protocol

from . import tcpinfo
from .endpoint import Context, join, spawn
from .errors import LabError, Refused, explain_os_error, where
from .events import PREVIEW_BYTES, Address
from .framing import FramingError, make_framer
from .spec import EndpointSpec

RECV_SIZE = 65536


FILE_CHUNK = 1 << 30  # bytes per sendfile() call (as socket.sendfile); the timeout counts from the last progress


def _timeval(seconds: float) -> bytes:
    return struct.pack("ll", int(seconds), int(seconds % 1 * 1_000_000))


def _writable(sock: socket.socket, timeout: float) -> bool:
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLOUT)
    return bool(poller.poll(timeout * 1000))


TCP_INFO_INTERVAL = 1.0  # seconds between TCP_INFO samples while a connection is busy
TCP_INFO_BYTES = 64 * 1024  # bytes moved since the last sample that make a connection "busy"


class Owner(Protocol):
    """What a Connection needs from the endpoint that owns it."""

    id: str
    proto: str
    ctx: Context
    bytes_in: int
    bytes_out: int
    spec: EndpointSpec

    def publish(self, kind: str, **fields: Any) -> None: ...
    def on_open(self, conn: Connection) -> None: ...
    def on_data(self, conn: Connection, data: bytes) -> None: ...
    def on_closed(self, conn: Connection) -> None: ...
    def crashed(self, exc: BaseException) -> None: ...


class Connection:
    def __init__(self, owner: Owner, sock: socket.socket, conn_id: str | None, peer: Address) -> None:
        self.owner = owner
        self.sock = sock
        self.id = conn_id
        self.peer = peer
        self.local: Address = (str(sock.getsockname()[0]), int(sock.getsockname()[1]))
        self.state = "open"
        self.bytes_in = 0
        self.bytes_out = 0
        self.sends = 0
        self.recvs = 0
        self.sent_eof = False
        self.reader: Any = None  # per-connection parser state of the owner's mode (e.g. a request line)
        self.preview: Callable[[bytes], bytes] | None = None  # what events show of received bytes, when not all
        self.framer = make_framer(owner.spec.framing, owner.spec.delimiter)
        self.messages = 0
        self.opened = time.monotonic()
        self._idle_since = (0, self.opened)  # (bytes moved, when that count was first seen)
        self._sampled = 0.0
        self._sampled_bytes = 0
        self._closing: str | None = None  # why the lab is closing it, when it is
        self._send_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = spawn(f"conn-{self.owner.id}-{self.id}", self._run, self.owner.crashed)

    def publish(self, kind: str, size: int = 0, payload: bytes | None = None, detail: str = "") -> None:
        # straight to the bus, every field in order: this runs twice per echoed message
        self.owner.ctx.bus.record(self.owner.id, kind, self.owner.proto, self.id, self.local, self.peer, size, payload, detail)

    # -- receiving (runs in the connection's own thread) ------------------------------------

    def _run(self) -> None:
        closed_by = "lab"
        detail = ""
        buf = bytearray(RECV_SIZE)
        view = memoryview(buf)
        try:
            self.owner.on_open(self)
            while True:
                n = self.sock.recv_into(buf)
                if n == 0:
                    if self._closing is None:
                        closed_by = "peer"
                        detail = "closed by the peer: recv() returned 0 bytes (end of stream)"
                    break
                data = bytes(view[:n])  # one copy; the buffer is reused for the next recv
                self.bytes_in += n
                self.owner.bytes_in += n
                self.recvs += 1
                self.publish("recv", size=n, payload=data if self.preview is None else self.preview(data),
                             detail=f"recv({RECV_SIZE}) returned {n} bytes")
                self._sample()
                try:
                    self.owner.on_data(self, data)
                except LabError as exc:  # an answer could not be sent: reported already, the connection is done
                    closed_by, detail = "error", f"closed after a failed send: {exc}"
                    break
        except OSError as exc:
            if self._closing is None:
                closed_by = "peer" if exc.errno in (errno.ECONNRESET, errno.EPIPE) else "error"
                sentence = explain_os_error(exc, "receive from", *self.peer)
                self.publish("error", detail=sentence)
                detail = "reset by the peer" if closed_by == "peer" else sentence
        finally:
            self.state = "closed"
            self.sock.close()
            if not detail:
                detail = f"closed by the lab ({self._closing or 'done'}): close() on this socket"
            self.publish("close", detail=detail)
            self.owner.on_closed(self)

    # -- commands (from any thread) -----------------------------------------------------------

    def send(self, data: bytes, framed: int | None = None, wait: float | None = None,
             start_wait: float | None = None) -> int:
        """sendall() with a deadline: `wait` seconds for all of it (default: the lab's send timeout),
        of which at most `start_wait` before the first byte goes.

        A peer that does not read gets a `backpressure` event and a Refused: when nothing went, the
        connection goes on; when part went, the peer would see a message cut in two, so the lab
        closes the connection. Either way the send lock is free again by the deadline.
        """
        if self.state != "open":
            name = f"Connection {self.id}" if self.id else "The connection"
            raise Refused(f"{name} to {where(*self.peer)} is closed; nothing can be sent on it.")
        if self.sent_eof:
            raise Refused("This side already finished sending (shutdown SHUT_WR), so it cannot send any more.")
        how = "" if framed is None or self.framer.name == "raw" else f" ({self.framer.name} framing around a {framed}-byte message)"
        now = time.monotonic()
        deadline = now + (self.send_timeout() if wait is None else wait)
        start_by = deadline if start_wait is None else min(deadline, now + start_wait)
        if not self._send_lock.acquire(timeout=max(0.0, start_by - now)):
            raise self._backpressure(0, len(data), keep_open=True, why="an earlier send to it is still waiting for room")
        try:
            # Published just before the call, so the log shows a send before the peer's recv of it
            # (after the call, the peer's thread often reports first); a failure follows as an error.
            self.publish("send", size=len(data), payload=data, detail=f"sendall() of {len(data)} bytes{how}")
            try:
                sent = self._send_within(data, deadline, start_by)
            except OSError as exc:
                if exc.errno == errno.EBADF or self.state != "open":
                    raise Refused("The connection closed while sending; nothing more can be sent on it.") from None
                self.publish("error", detail=explain_os_error(exc, "send to", *self.peer))
                raise Refused(explain_os_error(exc, "send to", *self.peer)) from None
        finally:
            self._send_lock.release()
        if sent:
            self._count_sent(sent)
        if sent < len(data):
            waited = f"its buffers stayed full for {start_by - now:.3g} s" if start_by > now else "its buffers are full"
            raise self._backpressure(sent, len(data), keep_open=sent == 0, why=waited)
        self._sample()
        return len(data)

    def send_timeout(self) -> float:
        return self.owner.ctx.limits.send_timeout_ms / 1000

    def _send_within(self, data: bytes, deadline: float, start_by: float) -> int:
        """Send as much of `data` as the peer takes by `deadline`; returns the bytes that went.

        poll() waits for room and send(MSG_DONTWAIT) takes only what fits, so nothing here blocks
        past the deadline, and the socket's blocking mode (shared with the receiving thread) is
        never changed.
        """
        view = memoryview(data)
        fd = self.sock.fileno()
        if fd < 0:  # closed by the receiving thread a moment ago
            raise OSError(errno.EBADF, "the socket is closed")
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        sent = 0
        while sent < len(data):
            left = (deadline if sent else start_by) - time.monotonic()
            if not poller.poll(max(0.0, left) * 1000):  # an error or hang-up wakes it too: send() then raises
                if left <= 0:
                    break
                continue
            try:
                sent += self.sock.send(view[sent:], socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue  # room was taken before our send(): poll again
        return sent

    def _backpressure(self, sent: int, total: int, *, keep_open: bool, why: str = "") -> Refused:
        """Publish a `backpressure` event for a peer that does not read, and return the Refused to raise."""
        name = f"Connection {self.id} to {where(*self.peer)}" if self.id else f"The connection to {where(*self.peer)}"
        seconds = f"{self.send_timeout():g}"
        if keep_open:
            sentence = (f"{name} is not reading: {why or 'its buffers are full'}, so these {total} bytes were not sent "
                        "(the connection goes on).")
        else:
            sentence = (f"{name} stopped reading: only {sent} of {total} bytes went out within the send timeout "
                        f"({seconds} s), so the lab closed the connection (the rest would have arrived cut in two).")
            self.close("the peer stopped reading", wait=False)
        self.publish("backpressure", size=total - sent, detail=sentence)
        return Refused(sentence)

    def frame(self, data: bytes) -> list[bytes]:
        """Cut received bytes into messages; framed endpoints publish each as a `message` event.

        A recv() may return part of a send, or several sends at once: that is why framing exists.
        Raises LabError when the stream breaks the framing rules.
        """
        try:
            messages = self.framer.feed(data)
        except FramingError as exc:
            self.publish("error", detail=f"{self.framer.name} framing: {exc}")
            raise Refused(str(exc)) from None
        if self.framer.name != "raw":
            for message in messages:
                self.messages += 1
                self.publish("message", size=len(message), payload=message,
                             detail=f"message {self.messages} restored by {self.framer.name} framing ({len(message)} bytes)")
        return messages

    def send_message(self, message: bytes, wait: float | None = None, start_wait: float | None = None) -> int:
        """Send one message, framed as the endpoint's framing says; returns the bytes on the wire."""
        return self.send(self.framer.encode(message), framed=len(message), wait=wait, start_wait=start_wait)

    def idle_for(self, now: float) -> float:
        """Seconds since bytes last moved either way (judged from the counters, so the receive
        path pays nothing for it; precise to the interval between two calls)."""
        moved = self.bytes_in + self.bytes_out
        if moved != self._idle_since[0]:
            self._idle_since = (moved, now)
        return now - self._idle_since[1]

    def tcp_info(self) -> dict[str, Any] | None:
        return tcpinfo.read(self.sock) if self.state == "open" else None

    def _sample(self) -> None:
        """While the connection is busy (TCP_INFO_BYTES moved since the last sample), publish the
        kernel's TCP_INFO at most once a second; a slow chat stays uncluttered."""
        moved = self.bytes_in + self.bytes_out
        if moved - self._sampled_bytes < TCP_INFO_BYTES:
            return
        now = time.monotonic()
        if now - self._sampled < TCP_INFO_INTERVAL:
            return
        self._sampled, self._sampled_bytes = now, moved
        info = self.tcp_info()
        if info is not None:
            self.publish("tcp_info", detail=tcpinfo.summary(info))

    def send_file(self, path: Path, name: str) -> int:
        """Send a whole file with os.sendfile (zero-copy where the OS can), giving up when the peer
        takes nothing for the send timeout: then the connection is closed with a `backpressure`
        event, and a TimeoutError (an OSError, like every other failed send here) follows.

        SO_SNDTIMEO bounds each blocking call without touching the socket's blocking mode, which
        the receiving thread shares; a reset that meets the blocked call still reports EPIPE.
        """
        timeout = self.send_timeout()
        with self._send_lock, open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(PREVIEW_BYTES)  # for the preview only; sendfile() starts from offset 0
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(timeout))
            sent, stalled = 0, False
            progress = time.monotonic()
            while sent < size:
                try:
                    n = os.sendfile(self.sock.fileno(), f.fileno(), sent, min(size - sent, FILE_CHUNK))
                except BlockingIOError:  # no room for SO_SNDTIMEO (or a non-blocking socket: wait here)
                    left = progress + timeout - time.monotonic()
                    if left <= 0 or not _writable(self.sock, left):
                        stalled = True
                        break
                    continue
                if n == 0:
                    break  # the file shrank while it was being sent
                sent += n
                progress = time.monotonic()
        self._count_sent(sent)
        self.publish("send", size=sent, payload=head, detail=f"sendfile() sent {sent} of {size} bytes of '{name}'")
        if stalled:
            raise TimeoutError(str(self._backpressure(sent, size, keep_open=False)))
        return sent

    def send_header(self, data: bytes) -> None:
        deadline = time.monotonic() + self.send_timeout()
        with self._send_lock:
            sent = self._send_within(data, deadline, deadline)
        self._count_sent(sent)
        if sent < len(data):  # a file answer without its header is no answer: close in any case
            raise TimeoutError(str(self._backpressure(sent, len(data), keep_open=False)))
        self.publish("send", size=len(data), payload=data, detail=f"sendall() sent a {len(data)}-byte header")

    def finish_sending(self) -> None:
        """shutdown(SHUT_WR): tell the peer we are done; keep reading so closing never resets."""
        self.sent_eof = True
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            return
        self.publish("shutdown", detail="shutdown(SHUT_WR): no more data from this side; the peer's recv() will return 0 bytes")

    def _count_sent(self, n: int) -> None:
        self.bytes_out += n
        self.owner.bytes_out += n
        self.sends += 1

    def close(self, reason: str = "stopped", wait: bool = True) -> None:
        """Close from the lab's side; the receive thread wakes, closes the fd and reports."""
        if self._closing is None:
            self._closing = reason
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed by the peer or the thread: nothing left to wake
        if wait:
            join(self._thread)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "peer": list(self.peer),
            "local": list(self.local),
            "state": self.state,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "sends": self.sends,
            "recvs": self.recvs,
            "messages": self.messages,
            "tcp_info": self.tcp_info(),
        }
