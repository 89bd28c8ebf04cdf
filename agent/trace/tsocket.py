"""`socket.socket`, traced: each call the program makes is recorded around the real one.

Installed as `socket.socket` before the program runs, so everything that builds a socket from the
module global gets it: socket.create_connection, socketserver, http.server, and accept() itself.
Behaviour is unchanged by construction: the real call runs exactly as it would, its result is
returned and its exception re-raised as they were; recording happens after it (a send is stamped
when it began: its bytes may be received before it returns), and nothing recorded can raise into
the program.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from typing import Any, Tuple

from . import facts as _facts
from .facts import errno_name as _errno
from .facts import head as _head
from .facts import os_problem
from .facts import thread_name as _thread
from .facts import unread_bytes
from .labfacts import PREVIEW_BYTES
from .tracer import Tracer
from .unpack import address as _address  # (the courier applies it to the data calls' addresses)

Address = Tuple[str, int]
_real_socket = socket.socket
# the real calls and the clock, looked up once: the data calls run per send and recv
_send, _sendall, _sendto = _real_socket.send, _real_socket.sendall, _real_socket.sendto
_recv, _recv_into, _recvfrom = _real_socket.recv, _real_socket.recv_into, _real_socket.recvfrom
_time = time.time
_ACTIVE: list[Tracer] = []  # the one tracer of this process, once installed
_HOW = {socket.SHUT_RD: "SHUT_RD", socket.SHUT_WR: "SHUT_WR", socket.SHUT_RDWR: "SHUT_RDWR"}


def install(tracer: Tracer) -> None:
    """Trace every socket made from now on, and what the program prints (tracer.py Output)."""
    _ACTIVE[:] = [tracer]
    socket.socket = TracedSocket  # type: ignore[misc]  # (the point: every later socket() is traced)
    tracer.watch_output()


class Received:
    """The bytes a socket received, counted and hashed as they arrive: one sha256 update per receive
    (some 0.5 ns a byte), so a downloader's close() can say which file its program really got."""

    __slots__ = ("count", "_sha")

    def __init__(self) -> None:
        self.count = 0
        self._sha: Any = None  # (made at the first byte: most sockets of a flood receive little)

    def add(self, data: Any) -> None:
        if self._sha is None:
            self._sha = hashlib.sha256()
        self._sha.update(data)
        self.count += len(data)

    def add_from(self, buffer: Any, n: int) -> None:
        """The first `n` bytes of a buffer recv_into() filled (bytearray, memoryview of any format)."""
        try:
            view = memoryview(buffer)
            self.add(view.cast("B")[:n] if view.format != "B" or view.ndim != 1 else view[:n])
        except (TypeError, ValueError):  # (a buffer hashlib cannot read: counted, as received)
            self.count += n

    def args(self) -> dict[str, Any]:
        sha = self._sha or hashlib.sha256()
        return {"received": self.count, "sha256": sha.hexdigest()}


class TracedSocket(_real_socket):
    __slots__ = ("_tr", "_tr_id", "_tr_proto", "_tr_local", "_tr_peer", "_tr_listening", "_tr_where", "_tr_read",
                 "_tr_got")

    def __init__(self, family: Any = -1, type: Any = -1, proto: Any = -1, fileno: Any = None) -> None:  # noqa: A002
        super().__init__(family, type, proto, fileno)
        tracer = _ACTIVE[0] if _ACTIVE else None
        if tracer is not None and (not tracer.on or tracer.untraced and threading.get_ident() in tracer.untraced):
            tracer = None
        self._tr: Tracer | None = tracer
        if self._tr is None:
            return
        kind = self.type
        self._tr_proto = "udp" if kind == socket.SOCK_DGRAM else "tcp" if kind == socket.SOCK_STREAM else str(kind.name).lower()
        self._tr_id = self._tr.new_socket(self, self._tr_proto)
        self._tr_local: Address | None = None
        self._tr_peer: Address | None = None
        self._tr_listening = False
        self._tr_read = False  # a recv returned: unread bytes at close() then mean a message cut short
        # every byte received, hashed as it comes (a file as the program got it): its close() reports both
        self._tr_got = Received()
        self._tr_where: tuple[str, str, Address | None, Address | None] = (self._tr_id, self._tr_proto, None, None)
        if fileno is None:  # (a socket made from an fd, as accept() does, is announced by that call)
            args = {"family": self.family.name, "type": kind.name}
            self._note("setup", f"socket({self.family.name}, {kind.name})", "socket", args)

    # -- recording ----------------------------------------------------------------------------

    def _note(self, kind: str, detail: str, call: str, args: dict[str, Any], size: int = 0,
              payload: bytes | None = None, result: Any = None, peer: Address | None = None, ts: float | None = None,
              closed_by: str | None = None) -> None:
        tracer = self._tr
        if tracer is not None and tracer.on:
            tracer.record(time.time() if ts is None else ts, self._tr_id, None, self._tr_proto, kind, self._tr_local,
                          peer or self._tr_peer, size, None if payload is None else payload[:PREVIEW_BYTES], detail,
                          call, args, result, closed_by)

    def _failed(self, call: str, exc: BaseException, args: dict[str, Any], action: str | None = None,
                address: Address | None = None, code: str | None = None) -> None:
        """Record the exception the program is about to get, with a hint where the lab has one."""
        tracer = self._tr
        if tracer is None or not tracer.on:
            return
        err = _errno(exc) if isinstance(exc, OSError) else None
        params: dict[str, Any] | None = {"call": call} if code else None
        if code is None and isinstance(exc, OSError) and action and address:
            code, params = os_problem(exc, action, *address)  # the lab's own sentences: port in use, refused, ...
        if code is None and not isinstance(exc, OSError):
            code, params = "traced-call-failed", {"call": call, "exception": type(exc).__name__}
        tracer.record(time.time(), self._tr_id, None, self._tr_proto, "error", self._tr_local, address or self._tr_peer,
                      0, None, f"{call}() failed: {exc}", call, args, None, None, err, code, params)

    def _learn_local(self) -> None:
        """Ask the OS for the local address once (bind, listen, connect, accept, first sendto), never
        per data call: the data records carry it from `_tr_where`."""
        try:
            self._tr_local = _address(self.getsockname())
        except OSError:
            pass
        self._tr_where = (self._tr_id, self._tr_proto, self._tr_local, self._tr_peer)

    # -- setting up ---------------------------------------------------------------------------

    def bind(self, address: Any, /) -> None:
        if self._tr is None:
            return _real_socket.bind(self, address)
        args = {"address": list(address) if isinstance(address, tuple) else str(address)}
        try:
            _real_socket.bind(self, address)
        except OSError as exc:
            self._failed("bind", exc, args, "bind", _address(address))
            raise
        self._learn_local()
        if self._tr_proto == "udp":  # a UDP server's bind is where it starts to listen (it has no listen())
            self._note("listen", f"bind({address!r}): waiting for datagrams", "bind", args)
        else:
            self._note("setup", f"bind({address!r})", "bind", args)

    def listen(self, *backlog: int) -> None:
        if self._tr is None:
            return _real_socket.listen(self, *backlog)
        args: dict[str, Any] = {"address": list(self._tr_local) if self._tr_local else None,
                                "backlog": backlog[0] if backlog else None}
        try:
            _real_socket.listen(self, *backlog)
        except OSError as exc:
            self._failed("listen", exc, args, "listen", self._tr_local)
            raise
        self._tr_listening = True
        self._learn_local()
        args["address"] = list(self._tr_local) if self._tr_local else None
        self._note("listen", f"listen({args['backlog']})", "listen", args)

    def accept(self) -> tuple[Any, Any]:
        if self._tr is None:
            return _real_socket.accept(self)
        try:
            fd, addr = self._accept()  # type: ignore[attr-defined]
        except OSError as exc:
            self._failed("accept", exc, {})
            raise
        # (as socket.socket.accept does, the new socket built from the module's class: this one)
        sock = TracedSocket(self.family, self.type, self.proto, fileno=fd)
        if socket.getdefaulttimeout() is None and self.gettimeout():
            sock.setblocking(True)
        if sock._tr is not None:
            sock._tr_peer = _address(addr)
            sock._learn_local()
            sock._note("accept", f"accept() returned {addr!r}", "accept", {"listener": self._tr_id},
                       result=sock._tr_peer)
        return sock, addr

    def connect(self, address: Any, /) -> None:
        if self._tr is None:
            return _real_socket.connect(self, address)
        args = {"address": list(address) if isinstance(address, tuple) else str(address)}
        began = time.time()  # (connect waits for the peer: its event is stamped when it began)
        try:
            _real_socket.connect(self, address)
        except (OSError, TypeError) as exc:
            self._failed("connect", exc, args, "connect", _address(address))
            raise
        self._tr_peer = _address(address)
        self._learn_local()
        self._note("connect", f"connect({address!r})", "connect", args, ts=began)

    def settimeout(self, value: float | None, /) -> None:
        _real_socket.settimeout(self, value)
        if self._tr is not None:
            self._note("setup", f"settimeout({value!r})", "settimeout", {"timeout": value})

    def setsockopt(self, level: int, option: int, value: Any, *optlen: Any) -> None:
        _real_socket.setsockopt(self, level, option, value, *optlen)
        if self._tr is not None:
            self._note("setup", f"setsockopt({level}, {option}, {value!r})", "setsockopt",
                       {"level": level, "option": option, "value": value if isinstance(value, int) else None})

    # -- data: the hot path (one tuple appended per call: tracer.py) ---------------------------

    def send(self, data: Any, *flags: int) -> int:
        tracer = self._tr
        if tracer is None:
            return _send(self, data, *flags)
        began = _time()  # (its bytes may be received, and recorded, before it returns)
        try:
            n = _send(self, data, *flags) if flags else _send(self, data)
        except TypeError as exc:
            self._failed("send", exc, {}, code="send-str" if isinstance(data, str) else None)
            raise
        except OSError as exc:
            self._failed("send", exc, {"bytes": len(data)}, "send", self._tr_peer)
            raise
        if tracer.on:
            try:
                thread = _facts.names.name  # (facts.thread_name, inlined: the hot path)
            except AttributeError:
                thread = _thread()
            head = data[:min(n, PREVIEW_BYTES)] if type(data) is bytes else _head(data, n)
            tracer.put((began, thread, self._tr_where, "send", len(data), n, head, None))
        return n

    def sendall(self, data: Any, *flags: int) -> None:
        tracer = self._tr
        if tracer is None:
            return _sendall(self, data, *flags)
        began = _time()
        try:
            _sendall(self, data, *flags) if flags else _sendall(self, data)
        except TypeError as exc:
            self._failed("sendall", exc, {}, code="send-str" if isinstance(data, str) else None)
            raise
        except OSError as exc:
            self._failed("sendall", exc, {"bytes": len(data)}, "send", self._tr_peer)
            raise
        if tracer.on:
            try:
                thread = _facts.names.name  # (facts.thread_name, inlined: the hot path)
            except AttributeError:
                thread = _thread()
            if type(data) is bytes:
                n, head = len(data), data[:PREVIEW_BYTES]
            else:
                n = memoryview(data).nbytes
                head = _head(data, n)
            tracer.put((began, thread, self._tr_where, "sendall", n, n, head, None))
        return None

    def sendto(self, data: Any, *rest: Any) -> int:
        tracer = self._tr
        if tracer is None:
            return _sendto(self, data, *rest)
        to = rest[-1] if rest else None  # (as the program gave it: the courier makes it [host, port])
        began = _time()
        try:
            n = _sendto(self, data, *rest)
        except TypeError as exc:
            self._failed("sendto", exc, {}, code="send-str" if isinstance(data, str) else None)
            raise
        except OSError as exc:
            self._failed("sendto", exc, {"bytes": len(data)}, "send", _address(to))
            raise
        if self._tr_local is None:  # a client's first sendto binds it to a free port
            self._learn_local()
        if tracer.on:
            try:
                thread = _facts.names.name  # (facts.thread_name, inlined: the hot path)
            except AttributeError:
                thread = _thread()
            head = data[:min(n, PREVIEW_BYTES)] if type(data) is bytes else _head(data, n)
            tracer.put((began, thread, self._tr_where, "sendto", n, n, head, to))
        return n

    def recv(self, bufsize: int, *flags: int) -> bytes:
        tracer = self._tr
        if tracer is None:
            return _recv(self, bufsize, *flags)
        try:
            data = _recv(self, bufsize, *flags) if flags else _recv(self, bufsize)
        except OSError as exc:
            self._recv_failed("recv", exc, {"bufsize": bufsize})
            raise
        self._tr_read = True
        if data:
            self._tr_got.add(data)
        if tracer.on:
            try:
                thread = _facts.names.name  # (facts.thread_name, inlined: the hot path)
            except AttributeError:
                thread = _thread()
            tracer.put((_time(), thread, self._tr_where, "recv", bufsize, len(data), data[:PREVIEW_BYTES], None))
        return data

    def recv_into(self, buffer: Any, nbytes: int = 0, *flags: int) -> int:
        tracer = self._tr
        if tracer is None:
            return _recv_into(self, buffer, nbytes, *flags)
        try:
            n = _recv_into(self, buffer, nbytes, *flags) if flags else _recv_into(self, buffer, nbytes)
        except OSError as exc:
            self._recv_failed("recv_into", exc, {"bufsize": nbytes})
            raise
        self._tr_read = True
        if n:
            self._tr_got.add_from(buffer, n)
        if tracer.on:
            try:
                thread = _facts.names.name  # (facts.thread_name, inlined: the hot path)
            except AttributeError:
                thread = _thread()
            tracer.put((_time(), thread, self._tr_where, "recv_into", nbytes or len(buffer), n, _head(buffer, n), None))
        return n

    def recvfrom(self, bufsize: int, *flags: int) -> tuple[bytes, Any]:
        tracer = self._tr
        if tracer is None:
            return _recvfrom(self, bufsize, *flags)
        try:
            got = _recvfrom(self, bufsize, *flags) if flags else _recvfrom(self, bufsize)
        except OSError as exc:
            self._recv_failed("recvfrom", exc, {"bufsize": bufsize})
            raise
        if got[0]:
            self._tr_got.add(got[0])
        if tracer.on:
            try:
                thread = _facts.names.name  # (facts.thread_name, inlined: the hot path)
            except AttributeError:
                thread = _thread()
            data = got[0]
            tracer.put((_time(), thread, self._tr_where, "recvfrom", bufsize, len(data), data[:PREVIEW_BYTES], got[1]))
        return got  # (the very tuple the call returned)

    def _recv_failed(self, call: str, exc: OSError, args: dict[str, Any]) -> None:
        if self._tr_listening:  # (Linux: ENOTCONN) the program reads where it should accept()
            self._failed(call, exc, args, code="recv-on-listening-socket")
        else:
            self._failed(call, exc, args, "receive", self._tr_peer)

    # -- the end ------------------------------------------------------------------------------

    def shutdown(self, how: int, /) -> None:
        if self._tr is None:
            return _real_socket.shutdown(self, how)
        args = {"how": _HOW.get(how, how)}
        try:
            _real_socket.shutdown(self, how)
        except OSError as exc:
            self._failed("shutdown", exc, args)
            raise
        self._note("shutdown", f"shutdown({args['how']})", "shutdown", args)

    def close(self) -> None:
        first = self._tr is not None and not self._closed  # type: ignore[attr-defined]  # (socket.socket sets it; typeshed does not say so)
        unread = self._unread() if first and self._tr_read else 0
        if unread and self._tr is not None and self._tr.on:  # (before the close: its reset reaches the peer next)
            self._tr.record(time.time(), self._tr_id, None, self._tr_proto, "error", self._tr_local, self._tr_peer,
                            unread, None, f"close() with {unread} received bytes never read", "close",
                            {"unread": unread}, code="recv-missed-pieces", params={"socket": self._tr_id, "unread": unread})
        _real_socket.close(self)
        if first and self._tr is not None:
            self._tr.closed(self._tr_id)
            self._note("close", "close()", "close", self._tr_got.args(), closed_by="local")

    def _unread(self) -> int:
        """Bytes that arrived on this TCP socket and were never read (FIONREAD): a program that read
        once with recv() and closed took the first piece of a message for all of it."""
        return 0 if self._tr_proto != "tcp" or self._tr_listening else unread_bytes(self.fileno())
