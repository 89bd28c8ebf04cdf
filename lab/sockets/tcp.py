"""TCP server and client, with a socketserver-like lifecycle.

The server binds and listens in its constructor (so port 0 works and the real port is known at
once), accepts in its own thread, and gives every accepted socket a Connection, served by a thread of
its own or, for a handler that never waits (echo), by the lab's reactor (lab/sockets/reactor.py).
The listening socket and the accepted sockets are separate: stop_listening() closes only the
first, close() closes them all.
"""

from __future__ import annotations

import errno
import itertools
import select
import socket
import threading
import time
from typing import Any

from . import handlers
from .connection import Connection
from .snapshots import Snapshots
from .endpoint import Context, Endpoint, address, bind_socket, errno_name, join, spawn
from ..errors import LabError, NotFound, Refused, where
from ..events.bus import Address
from .handlers import Handler
from ..spec import EndpointSpec

BACKLOG = 128
RELAY_FINISH = 0.2  # seconds a relay receiver that took part of a message gets for the rest
IDLE_CHECK = 1.0  # seconds between two looks for idle connections
ACCEPT_BACKOFF = (0.05, 1.0)  # seconds to wait after a failed accept(), doubling up to the second


class TcpServer(Endpoint):
    kind = "tcp-server"

    def __init__(self, ctx: Context, ep_id: str, spec: EndpointSpec) -> None:
        super().__init__(ctx, ep_id, spec)
        host, port = spec.host, spec.port
        self.reply, self.file, self.protocol = spec.reply, spec.file, spec.protocol
        self.service = handlers.service(self, self.mode or "echo")  # may refuse, e.g. an unknown file
        self.connections: dict[str, Connection[Handler]] = {}
        self.accepted = 0  # connections accept() has returned, ever
        self._accepted = threading.Condition(self._lock)
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        # `state` snapshots, held back in a burst of accepts or closes (lab/sockets/snapshots.py says why)
        self._snapshots = Snapshots(self.publish_state, lambda: len(self.connections))
        self._closing_all = False  # close() is closing every connection
        try:
            self._listener: socket.socket | None = bind_socket(ctx, host, port, socket.SOCK_STREAM)
        except OSError as exc:
            raise self.fail(exc, "listen on", host, port, "bind") from None
        try:
            self._listener.listen(BACKLOG)
        except OSError as exc:
            self._listener.close()
            raise self.fail(exc, "listen on", host, port, "listen") from None
        self.local = address(self._listener.getsockname())
        self.state = "listening"
        self.publish("listen", detail=f"socket() + bind({where(*self.local)}) + listen({BACKLOG}): waiting for clients to connect",
                     call="listen", args={"address": list(self.local), "backlog": BACKLOG})
        self._accept_thread: threading.Thread | None = None

    def start(self) -> None:
        self._accept_thread = spawn(f"accept-{self.id}", self._accept_loop, self.crashed)

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        backoff = ACCEPT_BACKOFF[0]
        # accept() wakes at least once a second to close idle connections: no thread of its own,
        # and nothing added to the connections' receive path.
        listener.settimeout(IDLE_CHECK)
        next_check = time.monotonic() + IDLE_CHECK
        while True:
            if time.monotonic() >= next_check:
                self.close_idle(time.monotonic())
                next_check = time.monotonic() + IDLE_CHECK
            try:
                sock, peer_addr = listener.accept()
            except TimeoutError:
                self._snapshots.send(hold=False)
                continue
            except OSError as exc:
                if self.state != "listening" or self._stopping.is_set():
                    return  # stop_listening() shut the socket down to wake us
                reason = {"errno": errno_name(exc) or "?", "reason": exc.strerror or str(exc)}
                if exc.errno in (errno.EBADF, errno.EINVAL, errno.ENOTSOCK):
                    self.state = "error"
                    self.publish("error", detail=f"accept() failed: {exc.strerror or exc}; this server no longer accepts",
                                 call="accept", errno=errno_name(exc), code="accept-failed", params=reason)
                    self.publish_state()
                    return
                # Out of file descriptors or memory, or a client that left before accept(): like
                # socketserver, keep serving; wait a little so an EMFILE storm does not spin.
                self.publish("error", detail=f"accept() failed: {exc.strerror or exc}; trying again in "
                                            f"{backoff * 1000:.0f} ms (clients wait in the backlog meanwhile)",
                             call="accept", errno=errno_name(exc), code="accept-retry",
                             params={**reason, "retry_ms": round(backoff * 1000)})
                if self._stopping.wait(backoff):
                    return
                backoff = min(backoff * 2, ACCEPT_BACKOFF[1])
                continue
            backoff = ACCEPT_BACKOFF[0]
            peer = address(peer_addr)
            conn_id = f"c{next(self._ids)}"
            if len(self.connections) >= self.ctx.limits.connections_per_server:
                self.publish("refuse", conn=conn_id, peer=peer,
                             detail=f"accept() returned a socket, but this server is at its limit of "
                                    f"{self.ctx.limits.connections_per_server} connections: closed it at once",
                             call="accept", result=peer, code="connection-limit",
                             params={"limit": self.ctx.limits.connections_per_server})
                sock.close()
                self._snapshots.send(hold=self._backlogged(listener))
                continue
            conn = Connection(self, sock, conn_id, peer, self.service.handler)
            with self._lock:
                self.connections[conn_id] = conn
                self.accepted += 1
                self._accepted.notify_all()
            conn.publish("accept", detail=f"accept() returned a new socket {where(*conn.local)} <-> {where(*peer)}; "
                                          "the listening socket keeps listening", call="accept", result=peer)
            self._snapshots.send(hold=self._backlogged(listener), due=True)
            conn.start()

    @staticmethod
    def _backlogged(listener: socket.socket) -> bool:
        """More clients wait to be accepted (so the burst goes on: a snapshot may wait for them)."""
        return bool(select.select([listener], [], [], 0)[0])

    def wait_accepted(self, count: int, timeout: float) -> bool:
        """Block until accept() has returned `count` connections in all (or the timeout). A client's
        connect() returns once the kernel completed the handshake, before this server's accept():
        closing the listening socket in between would reset that client."""
        with self._accepted:
            return self._accepted.wait_for(lambda: self.accepted >= count, timeout)

    def close_idle(self, now: float) -> None:
        """Close connections idle for SOCKETLAB_MAX_IDLE_SECONDS, and HTTP connections whose request
        has not arrived whole within their mode's request_seconds (as real web servers do): a crowd of
        silent peers must not hold every slot of the server."""
        limit = self.ctx.limits.idle_seconds
        with self._lock:
            conns = [c for c in self.connections.values() if c.state == "open"]
        for conn in conns:
            idle = conn.idle_for(now)
            request_limit = self.service.mode.request_seconds
            if request_limit is not None and not conn.sent_eof and now - conn.opened >= request_limit:
                conn.close("http-timeout", wait=False, params={"limit": request_limit})
            elif limit and idle >= limit:
                conn.close("idle-timeout", wait=False, params={"limit": limit})

    # -- called by the connections' handlers, in their threads ------------------------------------

    def relay(self, sender: Connection[Handler], message: bytes) -> None:
        """Client-to-client through the server: the server is the only one that knows everyone."""
        with self._lock:
            others = [c for c in self.connections.values() if c is not sender and c.state == "open"]
        delivered, skipped = [], []
        for other in others:
            # A client that does not read must not hold up the others: if its buffers have no room
            # the message is skipped for it at once, and one that took part of it gets RELAY_FINISH
            # seconds for the rest, then is closed (its `backpressure` event says which happened).
            try:
                other.handler.send_message(message, wait=min(RELAY_FINISH, other.send_timeout()), start_wait=0.0)
                delivered.append(other.id or "")
            except LabError:
                skipped.append(other.id or "")  # gone or not reading; its own event says which
        to = ", ".join(delivered) if delivered else "nobody (no other client is connected)"
        if skipped:
            to += f" (not to {', '.join(skipped)}: closed or not reading)"
        sender.publish("relay", size=len(message), payload=message, detail=f"relayed from {sender.id} via the server to {to}",
                       args={"from": sender.id, "to": delivered, "skipped": skipped})

    def on_closed(self, conn: Connection[Any]) -> None:
        with self._lock:
            self.connections.pop(conn.id or "", None)
            closing_all = self._closing_all
            looping = self._listener is not None and not self._stopping.is_set()  # its tick sends a held snapshot
        if closing_all:  # close() sends one snapshot once every connection is gone
            self._snapshots.owe()
            return
        self._snapshots.send(hold=looping, due=True)

    # -- commands -----------------------------------------------------------------------------

    def send(self, data: bytes, conn: str | None = None, to: Address | None = None) -> int:
        if conn is not None:
            return self.connection(conn).handler.send_message(data)
        with self._lock:
            targets = [c for c in self.connections.values() if c.state == "open"]
        if not targets:
            raise Refused("no-client-connected")
        return sum(c.handler.send_message(data) for c in targets)

    def connection(self, conn_id: str) -> Connection[Handler]:
        with self._lock:
            conn = self.connections.get(conn_id)
        if conn is None:
            raise NotFound("no-such-connection", conn=conn_id)
        return conn

    def stop_listening(self, reason: str = "stopped") -> None:
        """Close only the listening socket: new clients are refused, established ones go on.

        `reason` is the close event's code: "stopped" (asked for), "server-stopped" (from close()).
        """
        with self._lock:
            listener, self._listener = self._listener, None
            if listener is None:
                return
            if self.state == "listening":
                self.state = "not-listening"
            self._stopping.set()
        try:
            listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        join(self._accept_thread)
        listener.close()
        established = len(self.connections)
        self.publish("close", detail=f"close() on the listening socket: new clients are now refused; "
                                     f"{established} established connection(s) go on",
                     call="close", args={"socket": "listening"}, closed_by="local", code=reason,
                     params={"established": established})
        self._snapshots.send(hold=False, due=True)

    def close(self) -> None:
        self.stop_tasks()
        self.stop_listening("server-stopped")
        with self._lock:
            conns = list(self.connections.values())
            self._closing_all = True  # their closes owe one snapshot in all, sent below
        for conn in conns:
            conn.close("server-stopped", wait=False)
        for conn in conns:
            conn.join()
        self.state = "stopped"
        self._snapshots.send(hold=False)

    def to_json(self, snapshot: bool = False) -> dict[str, Any]:
        data = super().to_json(snapshot)
        with self._lock:
            # A snapshot lists each connection's summary, one dict made at accept and shared by
            # every state event: a server with n connections costs n pointers per event, not n
            # new dicts (a buffer of 10,000 events stays small). Counters travel in send/recv events.
            data["connections"] = [c.summary if snapshot else c.to_json() for c in self.connections.values()]
        data.update(reply=self.reply if "reply" in self.service.mode.fields else None, file=self.file, protocol=self.protocol)
        return data


class TcpClient(Endpoint):
    kind = "tcp-client"
    CONNECT_TIMEOUT = 5.0

    def __init__(self, ctx: Context, ep_id: str, spec: EndpointSpec) -> None:
        super().__init__(ctx, ep_id, spec)
        host, port = spec.host, spec.port
        family, sockaddr = ctx.targets.check(host, port, socket.SOCK_STREAM)
        self.remote = sockaddr
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(self.CONNECT_TIMEOUT)
        began = time.time()  # the event's time: connect() began before the server's accept() returned
        try:
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            raise self.fail(exc, "connect to", host, port, "connect", peer=sockaddr) from None
        sock.settimeout(None)
        self.local = address(sock.getsockname())
        self.state = "connected"
        self.conn: Connection[Handler] = Connection(self, sock, None, sockaddr, Handler)  # shows each restored message
        self.publish("connect", peer=sockaddr,
                     detail=f"connect({where(*sockaddr)}) succeeded; the client did not bind: "
                            f"the OS picked its local port {self.local[1]}",
                     call="connect", args={"address": list(sockaddr)}, ts=began)

    def start(self) -> None:
        self.conn.start()

    def on_closed(self, conn: Connection[Any]) -> None:
        self.state = "closed"
        self.publish_state()

    def send(self, data: bytes, conn: str | None = None, to: Address | None = None) -> int:
        return self.conn.handler.send_message(data)

    def close(self) -> None:
        self.stop_tasks()
        self.conn.close("dashboard")
        self.state = "closed"

    def to_json(self, snapshot: bool = False) -> dict[str, Any]:
        data = super().to_json(snapshot)
        data["connection"] = self.conn.to_json(tcp_info=not snapshot)
        return data
