"""TCP server and client, with a socketserver-like lifecycle.

The server binds and listens in its constructor (so port 0 works and the real port is known at
once), accepts in its own thread, and gives every accepted socket its own Connection thread.
The listening socket and the accepted sockets are separate: stop_listening() closes only the
first, close() closes them all.
"""

from __future__ import annotations

import itertools
import socket
import threading
from typing import Any

from . import download_protocol as proto
from .connection import Connection
from .endpoint import Context, Endpoint, address, bind_socket, join, spawn
from .errors import BadInput, LabError, NotFound, Refused, where
from .events import Address

BACKLOG = 128


class TcpServer(Endpoint):
    kind = "tcp-server"

    def __init__(self, ctx: Context, ep_id: str, host: str, port: int, mode: str = "echo",
                 reply: str = "OK", file: str | None = None, protocol: str = "raw") -> None:
        super().__init__(ctx, ep_id)
        self.mode, self.reply, self.file, self.protocol = mode, reply, file, protocol
        if mode == "file":
            ctx.files.resolve(file or "")  # unknown file: refuse now, not on every connect
        self.connections: dict[str, Connection] = {}
        self._ids = itertools.count(1)
        try:
            self._listener: socket.socket | None = bind_socket(ctx, host, port, socket.SOCK_STREAM)
        except OSError as exc:
            raise self.fail(exc, "listen on", host, port) from None
        try:
            self._listener.listen(BACKLOG)
        except OSError as exc:
            self._listener.close()
            raise self.fail(exc, "listen on", host, port) from None
        self.local = address(self._listener.getsockname())
        self.state = "listening"
        self.publish("listen", detail=f"socket() + bind({where(*self.local)}) + listen({BACKLOG}): waiting for clients to connect")
        self._accept_thread: threading.Thread | None = spawn(f"accept-{ep_id}", self._accept_loop)

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while True:
            try:
                sock, peer_addr = listener.accept()
            except OSError as exc:
                if self.state == "listening":
                    self.publish("error", detail=f"accept() failed: {exc.strerror or exc}")
                return
            peer = address(peer_addr)
            conn_id = f"c{next(self._ids)}"
            if len(self.connections) >= self.ctx.limits.connections_per_server:
                self.publish("refuse", conn=conn_id, peer=peer,
                             detail=f"accept() returned a socket, but this server is at its limit of "
                                    f"{self.ctx.limits.connections_per_server} connections: closed it at once")
                sock.close()
                continue
            conn = Connection(self, sock, conn_id, peer)
            with self._lock:
                self.connections[conn_id] = conn
            conn.publish("accept", detail=f"accept() returned a new socket {where(*conn.local)} <-> {where(*peer)}; "
                                          "the listening socket keeps listening")
            conn.start()

    # -- what each mode does (called in the connection's thread) --------------------------------

    def on_open(self, conn: Connection) -> None:
        if self.mode == "file":
            self._serve(conn, self.file or "")
        elif self.mode == "files":
            conn.reader = proto.RequestReader()

    def on_data(self, conn: Connection, data: bytes) -> None:
        if self.mode == "echo":
            conn.send(data)
        elif self.mode == "reply":
            conn.send(self.reply.encode("utf-8"))
        elif self.mode == "files" and not conn.sent_eof:
            try:
                name = conn.reader.feed(data)
            except ValueError as exc:
                self._refuse_file(conn, str(exc))
                return
            if name is not None:
                self._serve(conn, name)

    def on_closed(self, conn: Connection) -> None:
        with self._lock:
            self.connections.pop(conn.id or "", None)

    def _serve(self, conn: Connection, name: str | bytes) -> None:
        """Send one file (after an OK header when framed), then finish sending; keep reading."""
        try:
            path = self.ctx.files.resolve(name)
            size = path.stat().st_size
            if size > self.ctx.limits.file_bytes:
                raise BadInput(f"The file is larger than the lab's limit of {self.ctx.limits.file_bytes} bytes.")
        except LabError as exc:
            self._refuse_file(conn, str(exc))
            return
        shown = path.name
        try:
            if self.protocol == "framed":
                conn.send_header(proto.encode_ok(size, self.ctx.files.sha256(path)))
            conn.send_file(path, shown)
        except OSError as exc:
            conn.publish("error", detail=f"sending '{shown}' stopped: {exc.strerror or exc}")
            return
        conn.finish_sending()

    def _refuse_file(self, conn: Connection, reason: str) -> None:
        conn.publish("error", detail=f"file request refused: {reason}")
        if self.protocol == "framed":
            try:
                conn.send_header(proto.encode_err(reason))
            except OSError:
                return
        conn.finish_sending()

    # -- commands -----------------------------------------------------------------------------

    def send(self, data: bytes, conn: str | None = None, to: Address | None = None) -> int:
        if conn is not None:
            return self.connection(conn).send(data)
        with self._lock:
            targets = [c for c in self.connections.values() if c.state == "open"]
        if not targets:
            raise Refused("No client is connected to this server, so there is nobody to send to.")
        return sum(c.send(data) for c in targets)

    def connection(self, conn_id: str) -> Connection:
        with self._lock:
            conn = self.connections.get(conn_id)
        if conn is None:
            raise NotFound(f"This server has no connection '{conn_id}' (it may have closed already).")
        return conn

    def stop_listening(self) -> None:
        """Close only the listening socket: new clients are refused, established ones go on."""
        with self._lock:
            listener, self._listener = self._listener, None
            if listener is None:
                return
            self.state = "not-listening"
        try:
            listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        join(self._accept_thread)
        listener.close()
        self.publish("close", detail=f"close() on the listening socket: new clients are now refused; "
                                     f"{len(self.connections)} established connection(s) go on")

    def close(self) -> None:
        self.stop_listening()
        with self._lock:
            conns = list(self.connections.values())
        for conn in conns:
            conn.close("server stopped", wait=False)
        for conn in conns:
            join(conn._thread)
        self.state = "stopped"

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        with self._lock:
            data["connections"] = [c.to_json() for c in self.connections.values()]
        data.update(reply=self.reply if self.mode == "reply" else None, file=self.file, protocol=self.protocol)
        return data


class TcpClient(Endpoint):
    kind = "tcp-client"
    CONNECT_TIMEOUT = 5.0

    def __init__(self, ctx: Context, ep_id: str, host: str, port: int) -> None:
        super().__init__(ctx, ep_id)
        family, sockaddr = ctx.targets.check(host, port, socket.SOCK_STREAM)
        self.remote = sockaddr
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(self.CONNECT_TIMEOUT)
        try:
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            raise self.fail(exc, "connect to", host, port, peer=sockaddr) from None
        sock.settimeout(None)
        self.local = address(sock.getsockname())
        self.state = "connected"
        self.conn = Connection(self, sock, None, sockaddr)
        self.publish("connect", peer=sockaddr,
                     detail=f"connect({where(*sockaddr)}) succeeded; the client did not bind: "
                            f"the OS picked its local port {self.local[1]}")
        self.conn.start()

    def on_open(self, conn: Connection) -> None:
        return None

    def on_data(self, conn: Connection, data: bytes) -> None:
        return None

    def on_closed(self, conn: Connection) -> None:
        self.state = "closed"

    def send(self, data: bytes, conn: str | None = None, to: Address | None = None) -> int:
        return self.conn.send(data)

    def close(self) -> None:
        self.conn.close("closed from the dashboard")
        self.state = "closed"
