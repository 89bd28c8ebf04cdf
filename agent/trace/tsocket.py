"""`socket.socket`, traced: each call the program makes is recorded around the real one.

Installed as `socket.socket` before the program runs, so everything that builds a socket from the
module global gets it: socket.create_connection, socketserver, http.server, and accept() itself.
Behaviour is unchanged by construction: the real call runs exactly as it would, its result is
returned and its exception re-raised as they were; recording happens after it (or, for a send,
with the bytes it was given), and nothing recorded can raise into the program.
"""

from __future__ import annotations

import errno
import socket
import time
from typing import Any

from lab.errors import os_problem
from lab.events import PREVIEW_BYTES, Address

from .tracer import Tracer

_real_socket = socket.socket
_ACTIVE: list[Tracer] = []  # the one tracer of this process, once installed
_HOW = {socket.SHUT_RD: "SHUT_RD", socket.SHUT_WR: "SHUT_WR", socket.SHUT_RDWR: "SHUT_RDWR"}


def install(tracer: Tracer) -> None:
    _ACTIVE[:] = [tracer]
    socket.socket = TracedSocket  # type: ignore[misc]  # (the point: every later socket() is traced)


def _address(value: Any) -> Address | None:
    return (str(value[0]), int(value[1])) if isinstance(value, tuple) and len(value) >= 2 else None


def _head(data: Any, n: int) -> bytes:
    """The first bytes of a buffer the program passed (bytes, bytearray, memoryview of any format)."""
    if type(data) is bytes:
        return data[:min(n, PREVIEW_BYTES)]
    return bytes(memoryview(data).cast("B")[:min(n, PREVIEW_BYTES)])


def _errno(exc: OSError) -> str | None:
    return errno.errorcode.get(exc.errno) if exc.errno else None


class TracedSocket(_real_socket):
    __slots__ = ("_tr", "_tr_id", "_tr_proto", "_tr_local", "_tr_peer", "_tr_listening")

    def __init__(self, family: Any = -1, type: Any = -1, proto: Any = -1, fileno: Any = None) -> None:  # noqa: A002
        super().__init__(family, type, proto, fileno)
        tracer = _ACTIVE[0] if _ACTIVE else None
        self._tr: Tracer | None = tracer if tracer is not None and tracer.traces_here() else None
        if self._tr is None:
            return
        kind = self.type
        self._tr_proto = "udp" if kind == socket.SOCK_DGRAM else "tcp" if kind == socket.SOCK_STREAM else str(kind.name).lower()
        self._tr_id = self._tr.new_socket(self, self._tr_proto)
        self._tr_local: Address | None = None
        self._tr_peer: Address | None = None
        self._tr_listening = False
        if fileno is None:  # (a socket made from an fd, as accept() does, is announced by that call)
            args = {"family": self.family.name, "type": kind.name}
            self._note("setup", f"socket({self.family.name}, {kind.name})", "socket", args)

    # -- recording ----------------------------------------------------------------------------

    def _note(self, kind: str, detail: str, call: str, args: dict[str, Any], size: int = 0,
              payload: bytes | None = None, result: Any = None, peer: Address | None = None, ts: float | None = None,
              closed_by: str | None = None) -> None:
        tracer = self._tr
        if tracer is not None and tracer.on:
            tracer.record(self._tr_id, kind, self._tr_proto, self._tr_local, peer or self._tr_peer, size, payload,
                          detail, call, args, result, ts=ts, closed_by=closed_by)

    def _failed(self, call: str, exc: BaseException, args: dict[str, Any], action: str | None = None,
                address: Address | None = None, code: str | None = None) -> None:
        """Record the exception the program is about to get, with a hint where the lab has one."""
        tracer = self._tr
        if tracer is None or not tracer.on:
            return
        err = _errno(exc) if isinstance(exc, OSError) else None
        params: dict[str, Any] | None = {"call": call} if code else None
        if code is None and isinstance(exc, OSError) and action and address:
            problem = os_problem(exc, action, *address)  # the lab's own sentences: port in use, refused, ...
            code, params = problem.code, problem.params
        if code is None and not isinstance(exc, OSError):
            code, params = "traced-call-failed", {"call": call, "exception": type(exc).__name__}
        tracer.record(self._tr_id, "error", self._tr_proto, self._tr_local, address or self._tr_peer, 0, None,
                      f"{call}() failed: {exc}", call, args, None, err, code, params)

    def _learn_local(self) -> None:
        try:
            self._tr_local = _address(self.getsockname())
        except OSError:
            pass

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

    # -- data ---------------------------------------------------------------------------------

    def send(self, data: Any, *flags: int) -> int:
        if self._tr is None:
            return _real_socket.send(self, data, *flags)
        try:
            n = _real_socket.send(self, data, *flags)
        except TypeError as exc:
            self._failed("send", exc, {}, code="send-str" if isinstance(data, str) else None)
            raise
        except OSError as exc:
            self._failed("send", exc, {"bytes": len(data)}, "send", self._tr_peer)
            raise
        self._note("send", f"send() of {n} bytes", "send", {"bytes": len(data)}, n, _head(data, n), n)
        return n

    def sendall(self, data: Any, *flags: int) -> None:
        if self._tr is None:
            return _real_socket.sendall(self, data, *flags)
        try:
            _real_socket.sendall(self, data, *flags)
        except TypeError as exc:
            self._failed("sendall", exc, {}, code="send-str" if isinstance(data, str) else None)
            raise
        except OSError as exc:
            self._failed("sendall", exc, {"bytes": len(data)}, "send", self._tr_peer)
            raise
        n = len(data) if type(data) is bytes else memoryview(data).nbytes
        self._note("send", f"sendall() of {n} bytes", "sendall", {"bytes": n}, n, _head(data, n), n)
        return None

    def sendto(self, data: Any, *rest: Any) -> int:
        if self._tr is None:
            return _real_socket.sendto(self, data, *rest)
        to = _address(rest[-1]) if rest else None
        try:
            n = _real_socket.sendto(self, data, *rest)
        except TypeError as exc:
            self._failed("sendto", exc, {}, code="send-str" if isinstance(data, str) else None)
            raise
        except OSError as exc:
            self._failed("sendto", exc, {"bytes": len(data)}, "send", to)
            raise
        if self._tr_local is None:  # a client's first sendto binds it to a free port
            self._learn_local()
        self._note("send", f"sendto() of {n} bytes", "sendto", {"bytes": n, "address": list(to) if to else None},
                   n, _head(data, n), n, peer=to)
        return n

    def recv(self, bufsize: int, *flags: int) -> bytes:
        if self._tr is None:
            return _real_socket.recv(self, bufsize, *flags)
        try:
            data = _real_socket.recv(self, bufsize, *flags)
        except OSError as exc:
            self._recv_failed("recv", exc, {"bufsize": bufsize})
            raise
        n = len(data)
        self._note("recv", f"recv({bufsize}) returned {n} bytes", "recv", {"bufsize": bufsize}, n, data, n)
        return data

    def recv_into(self, buffer: Any, nbytes: int = 0, *flags: int) -> int:
        if self._tr is None:
            return _real_socket.recv_into(self, buffer, nbytes, *flags)
        try:
            n = _real_socket.recv_into(self, buffer, nbytes, *flags)
        except OSError as exc:
            self._recv_failed("recv_into", exc, {"bufsize": nbytes})
            raise
        self._note("recv", f"recv_into() returned {n} bytes", "recv_into", {"bufsize": nbytes or len(buffer)},
                   n, _head(buffer, n), n)
        return n

    def recvfrom(self, bufsize: int, *flags: int) -> tuple[bytes, Any]:
        if self._tr is None:
            return _real_socket.recvfrom(self, bufsize, *flags)
        try:
            data, addr = _real_socket.recvfrom(self, bufsize, *flags)
        except OSError as exc:
            self._recv_failed("recvfrom", exc, {"bufsize": bufsize})
            raise
        n = len(data)
        self._note("recv", f"recvfrom({bufsize}) returned {n} bytes", "recvfrom", {"bufsize": bufsize}, n, data, n,
                   peer=_address(addr))
        return data, addr

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
        _real_socket.close(self)
        if first and self._tr is not None:
            self._tr.closed(self._tr_id)
            self._note("close", "close()", "close", {}, closed_by="local")
