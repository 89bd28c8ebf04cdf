"""One connected TCP socket and what receives from it: what accept() or connect() hands out.

Its receiver owns the socket: the connection's own thread, or the lab's reactor (one thread over epoll,
lab/sockets/reactor.py) for a handler whose calls all finish at once, until one would wait. It
receives until EOF, an error, or a shutdown from close(), then closes the fd and publishes one
`close` event that says which side closed. A connection only moves
bytes: what they mean (framing, a protocol's parser, what events show of them) belongs to its
handler (lab/sockets/handlers.py), made for it by its owner, which gets every recv()'s bytes.
"""

from __future__ import annotations

import errno
import functools
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable, Generic, NamedTuple, Protocol, TypeVar

from . import tcpinfo
from .endpoint import Context, join, os_fields, spawn
from .deadline import send_within, sendfile_within
from .reactor import Reactor
from ..errors import LabError, Problem, Refused, explain_os_error, os_problem, where
from ..events.bus import PREVIEW_BYTES, Address, Form
from ..spec import EndpointSpec

RECV_SIZE = 65536
# Shared by every event that uses them (never mutated): the hot path builds no dict per recv.
RECV_ARGS: dict[str, Any] = {"bufsize": RECV_SIZE}
SHUT_WR_ARGS: dict[str, Any] = {"how": "SHUT_WR"}
RESET_ERRNOS = (errno.ECONNRESET, errno.EPIPE)  # the peer's kernel answered with RST


class Recv(Form):
    """A `recv` event from its raw values (ts, where, n, head): what EventBus.record_call makes of
    them, only for the events it keeps. `where` is a connection's (endpoint, conn, proto, local, peer)."""

    kind = "recv"

    def __init__(self, args: dict[str, Any]) -> None:
        self.args = args

    def fields(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        ts, (endpoint, conn, proto, local, peer), n, head = values
        return (ts, endpoint, conn, proto, "recv", local, peer, n, head, f"recv({RECV_SIZE}) returned {n} bytes",
                "recv", self.args, n, None, None, None, None, None, None, None)


class Sendall(Form):
    """A `send` event of sendall() from its raw values (ts, where, n, head, message, framing, how)."""

    kind = "send"

    def fields(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        ts, (endpoint, conn, proto, local, peer), n, head, message, framing, how = values
        return (ts, endpoint, conn, proto, "send", local, peer, n, head, f"sendall() of {n} bytes{how}",
                "sendall", {"bytes": n}, n, None, None, None, None, message, framing, None)


RECV = Recv(RECV_ARGS)
SENDALL = Sendall()

TCP_INFO_INTERVAL = 1.0  # seconds between TCP_INFO samples while a connection is busy
TCP_INFO_BYTES = 64 * 1024  # bytes moved since the last sample that make a connection "busy"


class Handoff(Exception):
    """Raised on the reactor's thread by a send that would have to wait: the connection leaves the
    reactor for a thread of its own, which makes `rest` first (what is left of that send, its
    deadline kept). So a handler served there must make at most one send, as its last call (at_once)."""

    def __init__(self, rest: Callable[[], object]) -> None:
        super().__init__("a send that must wait, for the connection's own thread")
        self.rest = rest


class Ending(NamedTuple):
    """How a connection ended, for its `close` event."""

    closed_by: str  # "peer" | "reset" | "local"
    code: str | None = None  # why the lab closed it (lab/messages.py)
    params: dict[str, Any] | None = None
    errno: str | None = None
    detail: str = ""


class Owner(Protocol):
    """What a Connection needs from the endpoint that owns it."""

    id: str
    proto: str
    ctx: Context
    bytes_in: int
    bytes_out: int
    spec: EndpointSpec

    def publish(self, kind: str, **fields: Any) -> None: ...
    def count_in(self, n: int) -> None: ...
    def count_out(self, n: int) -> None: ...
    def on_closed(self, conn: Connection[Any]) -> None: ...
    def crashed(self, exc: BaseException) -> None: ...


class Receiver(Protocol):
    """What a Connection hands its bytes to: the handler its owner made for it (lab/sockets/handlers.py)."""

    preview: Callable[[bytes], bytes] | None  # what events show of received bytes, when not all of them
    messages: int  # messages restored from the stream, for the connection's JSON
    at_once: bool  # served by the lab's reactor: on_data makes at most one send, as its last call

    def on_open(self) -> None: ...
    def on_data(self, data: bytes) -> None: ...


H = TypeVar("H", bound=Receiver)


class Connection(Generic[H]):
    def __init__(self, owner: Owner, sock: socket.socket, conn_id: str | None, peer: Address,
                 handler: Callable[[Connection[H]], H]) -> None:
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
        # framed messages sent: the `message` index of framed send events. Counted here, under the send
        # lock, not by the handler that framed them: only the lock knows the order they take on the wire.
        self.messages_sent = 0
        self.opened = time.monotonic()
        self._idle_since = (0, self.opened)  # (bytes moved, when that count was first seen)
        self._sampled = 0.0
        self._sampled_bytes = 0
        self._closing: str | None = None  # why the lab is closing it (a code of lab/messages.py), when it is
        self._stopping = threading.Event()  # set by close(): ends a slow reader's wait at once
        self._closing_params: dict[str, Any] | None = None
        self._closing_ts: float | None = None
        self._reset_seen: str | None = None  # errno name of a reset a send met: then the peer's close is a reset
        self.summary: dict[str, Any] = {"id": conn_id, "peer": list(peer), "local": list(self.local)}
        self._send_lock = threading.Lock()
        # what every event of this connection says of where it happened (a Form's `where`)
        self._where = (owner.id, conn_id, owner.proto, self.local, peer)
        self._bus = owner.ctx.bus
        self._thread: threading.Thread | None = None
        self._reactor: Reactor | None = None  # serving it, until it ends or leaves for a thread (start())
        self._fd = sock.fileno()
        self._done = threading.Event()  # set once its `close` event is out and its owner told
        self.handler: H = handler(self)  # (made last: it may read any of the above)

    def start(self) -> None:
        """Serve the connection: from the lab's reactor when its handler's calls all finish at once
        (lab/sockets/reactor.py), else from a thread of its own."""
        if self.handler.at_once and not self.owner.spec.recv_delay_ms:
            self._reactor = self.owner.ctx.reactor
            self._open()
            self._reactor.add(self)
        else:
            self._thread = spawn(f"conn-{self.owner.id}-{self.id}", self._run, self.owner.crashed)

    def fileno(self) -> int:
        """The socket's number while open (the reactor's key for it; sock.fileno() is -1 once closed)."""
        return self._fd

    def publish(self, kind: str, size: int = 0, payload: bytes | None = None, detail: str = "",
                call: str | None = None, args: dict[str, Any] | None = None, result: Any = None,
                closed_by: str | None = None, errno: str | None = None, code: str | None = None,
                params: dict[str, Any] | None = None, message: int | None = None,
                framing: str | None = None, ts: float | None = None) -> None:
        # straight to the bus, every field in order (the data path's recv and send: record_call, below)
        self._bus.record(time.time() if ts is None else ts, self.owner.id, self.id, self.owner.proto, kind,
                         self.local, self.peer, size, payload, detail, call, args, result, closed_by, errno,
                         code, params, message, framing, None)

    # -- receiving (in the connection's own thread, or the reactor's) ---------------------------

    def _open(self) -> None:
        self._publish_tcp_info()  # the kernel's view just after the handshake (its first RTT), so no page asks
        self.handler.on_open()

    def _run(self, first: Callable[[], object] | None = None) -> None:
        """The connection's own thread: receive until the end. `first`: the call that made it leave
        the reactor, to finish before anything else (the rest of a send, its deadline kept)."""
        ending = Ending("local")
        delay = self.owner.spec.recv_delay_ms / 1000  # a slow reader: the sender's bytes pile up meanwhile
        form = RECV if not delay else Recv({**RECV_ARGS, "delay_ms": self.owner.spec.recv_delay_ms})
        recv = self.sock.recv
        try:
            handler = self.handler
            try:
                if first is None:
                    self._open()
                else:
                    first()
                while True:
                    if delay and self._stopping.wait(delay):
                        # closed while it waited: a slow reader stops without reading, so what it never read
                        # is still unread at close(), and the kernel answers with RST (the RST lesson)
                        break
                    # recv(), not recv_into() a buffer of our own: an idle connection then holds no
                    # 64 KiB buffer while it waits (1,000 idle students: 93 -> 29-34 KiB each, bench 15),
                    # and for small messages it is as fast (the bytes object is shrunk in place).
                    data = recv(RECV_SIZE)
                    if not data:
                        ending = self._end_of_stream()
                        break
                    self._took(data, form)
                    handler.on_data(data)
            except LabError as exc:  # an answer could not be sent: reported already, the connection is done
                ending = self._failed_send(exc)
        except OSError as exc:
            if self._closing is None:  # (an error while the lab closes it is that close)
                ending = self._recv_failed(exc)
        finally:
            self._finish(ending)

    def react(self) -> None:
        """The socket is readable (or closed): one recv() and what it brings, on the reactor's thread,
        which nothing here may keep waiting. A send that would wait raises Handoff (send()): then the
        connection leaves the reactor for a thread of its own, which finishes that send first."""
        reactor = self._reactor
        assert reactor is not None
        try:
            data = self.sock.recv(RECV_SIZE, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return  # (woken for nothing: the next readable event brings it)
        except OSError as exc:
            self._end_on_reactor(reactor, Ending("local") if self._closing is not None else self._recv_failed(exc))
            return
        if not data:
            self._end_on_reactor(reactor, self._end_of_stream())
            return
        try:
            self._took(data, RECV)
            self.handler.on_data(data)
        except Handoff as handoff:
            reactor.remove(self)  # (before its thread reads: one reader at a time)
            self._thread = spawn(f"conn-{self.owner.id}-{self.id}", functools.partial(self._run, handoff.rest),
                                 self.owner.crashed)
            self._reactor = None  # (after: join() goes by the thread from now on)
        except LabError as exc:
            self._end_on_reactor(reactor, self._failed_send(exc))
        except Exception as exc:  # a bug: as a connection thread's death (spawn()), but the reactor serves on
            self._end_on_reactor(reactor, Ending("local"))
            self.owner.crashed(exc)
            threading.excepthook(threading.ExceptHookArgs((type(exc), exc, exc.__traceback__, threading.current_thread())))

    def _took(self, data: bytes, form: Recv) -> None:
        """What every recv() of `data` (never b"") costs: the counts, its `recv` event, a TCP_INFO sample when due."""
        n = len(data)
        self.bytes_in += n
        self.owner.count_in(n)
        self.recvs += 1
        preview = self.handler.preview
        shown = data if preview is None else preview(data)
        self._bus.record_call(form, time.time(), self._where, n, shown if len(shown) <= PREVIEW_BYTES else shown[:PREVIEW_BYTES])
        if self.bytes_in + self.bytes_out - self._sampled_bytes >= TCP_INFO_BYTES:
            self._sample()

    def _end_of_stream(self) -> Ending:
        """recv() returned 0 bytes: how the peer ended."""
        if self._reset_seen:  # a reset met our send (EPIPE consumes it): no FIN came
            return Ending("reset", errno=self._reset_seen,
                          detail="reset by the peer (a send met the reset); recv() then returned 0 bytes")
        return Ending("peer", detail="closed by the peer: recv() returned 0 bytes (end of stream)")

    def _failed_send(self, exc: LabError) -> Ending:
        detail = f"closed after a failed send: {exc}"
        return (Ending("reset", errno=self._reset_seen, detail=detail) if self._reset_seen
                else Ending("local", "failed-send", detail=detail))

    def _end_on_reactor(self, reactor: Reactor, ending: Ending) -> None:
        reactor.remove(self)  # (before the socket closes: its number may be handed out again at once)
        self._finish(ending)

    def _finish(self, ending: Ending) -> None:
        self.state = "closed"
        self.sock.close()
        self._publish_close(ending)
        self.owner.on_closed(self)
        self._done.set()

    def _recv_failed(self, exc: OSError) -> Ending:
        err, code, params = os_fields(exc, "receive from", *self.peer)
        sentence = explain_os_error(exc, "receive from", *self.peer)
        self.publish("error", detail=sentence, call="recv", errno=err, code=code, params=params)
        if exc.errno in RESET_ERRNOS:  # the reset says it all; `errno` keeps its name
            return Ending("reset", errno=err, detail="reset by the peer")
        return Ending("local", code, params, err, sentence)

    def _publish_close(self, ending: Ending) -> None:
        """The one `close` event of this connection; the lab's own reason, when it closed it, wins
        over what the socket saw meanwhile."""
        began = None
        if self._closing is not None:
            ending = Ending("local", self._closing, self._closing_params)
            began = self._closing_ts  # the lab's close began then; the peer's recv() of it returns after
        closed_by, code, params, err, detail = ending
        if not detail:
            code = code or "done"
            detail = f"closed by the lab ({Problem(code, params or {}).sentence}): close() on this socket"
        self.publish("close", detail=detail, call="close", closed_by=closed_by, errno=err, code=code, params=params,
                     ts=began)

    # -- commands (from any thread) -----------------------------------------------------------

    def send(self, data: bytes, framed: int | None = None, framing: str = "raw", wait: float | None = None,
             start_wait: float | None = None) -> int:
        """sendall() with a deadline: `wait` seconds for all of it (default: the lab's send timeout),
        of which at most `start_wait` before the first byte goes. `framed`: the size of the message
        that `data` frames with `framing` (the handler's framer); framed sends are numbered in the
        order they go on the wire.

        A peer that does not read gets a `backpressure` event and a Refused: when nothing went, the
        connection goes on; when part went, the peer would see a message cut in two, so the lab
        closes the connection. Either way the send lock is free again by the deadline.
        """
        if self.state != "open" or self.sent_eof:
            raise self._not_open()
        how = "" if framed is None or framing == "raw" else f" ({framing} framing around a {framed}-byte message)"
        now = time.monotonic()
        # (untimed first: a timed acquire costs 4x an uncontended one, and the lock is nearly always free)
        if not self._send_lock.acquire(False):
            if self._on_reactor():  # another thread's send is under way: this one waits, in a thread of its own
                raise Handoff(functools.partial(self.send, data, framed, framing, wait, start_wait))
            start_by = self._deadlines(now, wait, start_wait)[1]
            if not self._send_lock.acquire(timeout=max(0.0, start_by - now)):
                raise self._backpressure(0, len(data), keep_open=True, waited=start_by - now)
        try:
            shown, index = None, None
            if framed is not None and framing != "raw":
                self.messages_sent += 1
                shown, index = framing, self.messages_sent
            # Recorded just before the call, so the log shows a send before the peer's recv of it
            # (after the call, the peer's thread often reports first); a failure follows as an error.
            n = len(data)
            self._bus.record_call(SENDALL, time.time(), self._where, n, data if n <= PREVIEW_BYTES else data[:PREVIEW_BYTES],
                                  index, shown, how)
            try:  # the usual case first, before any deadline or poll: the kernel has room, one call sends it all
                sent = self.sock.send(data, socket.MSG_DONTWAIT)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                raise self._send_failed(exc) from None
        except BaseException:
            self._send_lock.release()
            raise
        if sent < n and self._on_reactor():
            # the rest would wait: the connection's own thread sends it, by the same deadline, the lock held for it
            raise Handoff(functools.partial(self._send_rest, data, sent, now, wait, start_wait))
        return self._send_rest(data, sent, now, wait, start_wait)

    def _send_rest(self, data: bytes, sent: int, now: float, wait: float | None, start_wait: float | None) -> int:
        """The end of a send() begun at `now` whose first try sent `sent` bytes: the rest within its
        deadline, the send lock (held on entry) released, the counts and a backpressure event."""
        n = len(data)
        try:
            if sent < n:
                try:
                    sent = send_within(self.sock, data, *self._deadlines(now, wait, start_wait), sent)
                except OSError as exc:
                    raise self._send_failed(exc) from None
        finally:
            self._send_lock.release()
        if sent:
            self._count_sent(sent)
        if sent < n:
            raise self._backpressure(sent, n, keep_open=sent == 0, waited=self._deadlines(now, wait, start_wait)[1] - now)
        if self.bytes_in + self.bytes_out - self._sampled_bytes >= TCP_INFO_BYTES:
            self._sample()
        return n

    def _on_reactor(self) -> bool:
        """Whether this call runs on the reactor's thread, which must never wait (only asked before a wait)."""
        return self._reactor is not None and threading.get_ident() == self._reactor.ident

    def _not_open(self) -> Refused:
        """Why nothing can be sent on this connection (closed, or shut down for sending)."""
        if self.state != "open":
            if self.id:
                return Refused("connection-closed", conn=self.id, address=where(*self.peer))
            return Refused("client-connection-closed", address=where(*self.peer))
        return Refused("already-shut-down")

    def _deadlines(self, now: float, wait: float | None, start_wait: float | None) -> tuple[float, float]:
        """(deadline, start_by) of a send begun at `now`: `wait` seconds for all of it (default: the
        lab's send timeout), of which at most `start_wait` before the first byte goes."""
        deadline = now + (self.send_timeout() if wait is None else wait)
        return deadline, deadline if start_wait is None else min(deadline, now + start_wait)

    def _send_failed(self, exc: OSError) -> Refused:
        """The Refused to raise for a send the OS failed, its `error` event published (none when the
        lab closed the socket meanwhile: that close is the story)."""
        self._saw_reset(exc)
        if exc.errno == errno.EBADF or self.state != "open":
            return Refused("closed-while-sending")
        err, code, params = os_fields(exc, "send to", *self.peer)
        self.publish("error", detail=explain_os_error(exc, "send to", *self.peer), call="sendall",
                     errno=err, code=code, params=params)
        return Refused.of(os_problem(exc, "send to", *self.peer))

    def send_timeout(self) -> float:
        return self.owner.ctx.limits.send_timeout_ms / 1000

    def _send_within(self, data: bytes, deadline: float, start_by: float) -> int:
        try:
            return send_within(self.sock, data, deadline, start_by)
        except OSError as exc:
            self._saw_reset(exc)
            raise

    def _saw_reset(self, exc: OSError) -> None:
        """A send that meets a reset consumes it (the next recv() returns 0, as after a FIN): keep
        the fact, so the close says "reset" and not "peer"."""
        if exc.errno in RESET_ERRNOS:
            self._reset_seen = errno.errorcode[exc.errno]

    def _backpressure(self, sent: int, total: int, *, keep_open: bool, waited: float = 0.0,
                      call: str = "sendall") -> Refused:
        """Publish a `backpressure` event for a peer that does not read, and return the Refused to raise."""
        if not keep_open:
            self.close("backpressure", wait=False)
        # one problem for the event and the refusal: the page words both from the same code and params
        problem = Problem("peer-not-reading" if keep_open else "peer-stopped-reading", {
            "conn": self.id or self.owner.id, "address": where(*self.peer), "sent": sent, "total": total, "timeout_s": self.send_timeout(),
            "waited_s": round(max(0.0, waited), 3)})
        self.publish("backpressure", size=total - sent, detail=problem.sentence, call=call, result=sent,
                     code=problem.code, params=problem.params)
        return Refused.of(problem)

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
            self._sampled_bytes = moved  # (asked again after TCP_INFO_BYTES more, not at every recv and send)
            return
        self._sampled, self._sampled_bytes = now, moved
        self._publish_tcp_info()

    def _publish_tcp_info(self) -> None:
        info = self.tcp_info()
        if info is not None:
            self.publish("tcp_info", detail=tcpinfo.summary(info), call="getsockopt", args=info)

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
            began = time.time()
            try:
                sent, stalled = sendfile_within(self.sock, f, size, timeout)
            except OSError as exc:
                self._saw_reset(exc)
                raise
        self._count_sent(sent)
        self.publish("send", size=sent, payload=head, detail=f"sendfile() sent {sent} of {size} bytes of '{name}'",
                     call="sendfile", args={"bytes": size, "file": name}, result=sent, ts=began)
        if stalled:
            raise TimeoutError(str(self._backpressure(sent, size, keep_open=False, waited=timeout, call="sendfile")))
        return sent

    def send_header(self, data: bytes) -> None:
        deadline = time.monotonic() + self.send_timeout()
        began = time.time()
        with self._send_lock:
            sent = self._send_within(data, deadline, deadline)
        self._count_sent(sent)
        if sent < len(data):  # a file answer without its header is no answer: close in any case
            raise TimeoutError(str(self._backpressure(sent, len(data), keep_open=False, waited=self.send_timeout())))
        self.publish("send", size=len(data), payload=data, detail=f"sendall() sent a {len(data)}-byte header",
                     call="sendall", args={"bytes": len(data), "header": True}, result=len(data), ts=began)

    def finish_sending(self) -> None:
        """shutdown(SHUT_WR): tell the peer we are done; keep reading so closing never resets."""
        self.sent_eof = True
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            return
        self.publish("shutdown", detail="shutdown(SHUT_WR): no more data from this side; the peer's recv() will return 0 bytes",
                     call="shutdown", args=SHUT_WR_ARGS)

    def _count_sent(self, n: int) -> None:
        self.bytes_out += n
        self.owner.count_out(n)
        self.sends += 1

    def close(self, reason: str = "stopped", wait: bool = True, params: dict[str, Any] | None = None) -> None:
        """Close from the lab's side; the receive thread wakes, closes the fd and reports.

        `reason` is a code of lab/messages.py (the close event's `code`), `params` its values.
        """
        if self._closing is None:
            self._closing_params = params  # (set first: the receive thread reads these once _closing is set)
            self._closing_ts = time.time()
            self._closing = reason
        self._stopping.set()
        # SHUT_RD wakes a blocked recv without sending a FIN: a slow reader's close() then happens with
        # its unread bytes still queued, a reset as in any program (SHUT_RDWR would send FIN first)
        how = socket.SHUT_RD if self.owner.spec.recv_delay_ms else socket.SHUT_RDWR
        try:
            self.sock.shutdown(how)
        except OSError:
            pass  # already closed by the peer or the thread: nothing left to wake
        if wait:
            self.join()

    def join(self, timeout: float = 5.0) -> bool:
        """Wait for the connection to end (its `close` event published), as after close(wait=False);
        False if it had not within `timeout`. One the reactor served to its end leaves no thread, but
        the reactor's own, when it was the last, is waited for too."""
        reactor = self._reactor
        if reactor is None:
            return join(self._thread, timeout)
        if self._on_reactor():  # (the reactor's thread would wait for itself)
            return self._done.is_set()
        deadline = time.monotonic() + timeout
        if not self._done.wait(timeout):
            return False
        if self._thread is not None:  # it left the reactor meanwhile
            return join(self._thread, max(0.0, deadline - time.monotonic()))
        return reactor.settle(max(0.0, deadline - time.monotonic()))

    def to_json(self, tcp_info: bool = True) -> dict[str, Any]:
        return {
            "id": self.id,
            "peer": list(self.peer),
            "local": list(self.local),
            "state": self.state,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "sends": self.sends,
            "recvs": self.recvs,
            "messages": self.handler.messages,
            "tcp_info": self.tcp_info() if tcp_info else None,
        }
