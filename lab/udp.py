"""UDP server and client: datagrams with recvfrom/sendto, no connection, no handshake.

Each endpoint has one socket and one receive thread. shutdown() on a UDP socket fails with
ENOTCONN on Linux but still wakes a blocked recvfrom(), which is how close() stops the thread.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from .endpoint import Context, Endpoint, address, bind_socket, join, spawn
from .errors import Refused, TooLarge, explain_os_error, where
from .events import Address

RECV_SIZE = 65535


class UdpEndpoint(Endpoint):
    """The shared part: one datagram socket, a receive loop, sendto with events."""

    proto = "udp"

    def __init__(self, ctx: Context, ep_id: str) -> None:
        super().__init__(ctx, ep_id)
        self.last_peer: Address | None = None
        self.datagrams_in = 0
        self.datagrams_out = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

    def _start_receiving(self) -> None:
        self._thread = spawn(f"udp-{self.id}", self._recv_loop)

    def _recv_loop(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._stopping:
            try:
                data, peer_addr = sock.recvfrom(RECV_SIZE)
            except OSError as exc:
                if not self._stopping:
                    self.publish("error", detail=f"recvfrom() failed: {exc.strerror or exc}")
                    continue
                return
            if peer_addr is None:  # woken by shutdown() in close()
                return
            peer = address(peer_addr)
            self.last_peer = peer
            self.bytes_in += len(data)
            self.datagrams_in += 1
            self.publish("recv", peer=peer, size=len(data), payload=data,
                         detail=f"recvfrom({RECV_SIZE}) returned a {len(data)}-byte datagram from {where(*peer)}")
            self.on_datagram(data, peer)

    def on_datagram(self, data: bytes, peer: Address) -> None:
        return None

    def target(self, to: Address) -> Address:
        """An explicit destination, checked against the target policy (never an open relay)."""
        return self.ctx.targets.check(to[0], to[1], socket.SOCK_DGRAM)[1]

    def sendto(self, data: bytes, peer: Address) -> int:
        if len(data) > self.ctx.limits.datagram_bytes:
            raise TooLarge(f"A datagram may carry at most {self.ctx.limits.datagram_bytes} bytes; this one has {len(data)}.")
        sock = self._sock
        if sock is None or self.state in ("stopped", "closed"):
            raise Refused("This UDP socket is closed; nothing can be sent on it.")
        try:
            sent = sock.sendto(data, peer)
        except OSError as exc:
            sentence = explain_os_error(exc, "send to", *peer)
            self.publish("error", peer=peer, detail=sentence)
            raise Refused(sentence) from None
        if self.local is None:  # the OS bound the socket during this first sendto()
            self.local = address(sock.getsockname())
        self.bytes_out += sent
        self.datagrams_out += 1
        self.publish("send", peer=peer, size=sent, payload=data,
                     detail=f"sendto({where(*peer)}) sent one {sent}-byte datagram")
        return sent

    def close(self) -> None:
        self._stopping = True
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # ENOTCONN is expected for UDP; the blocked recvfrom() wakes anyway
            join(self._thread)
            sock.close()
        self.state = "stopped" if self.kind == "udp-server" else "closed"
        self.publish("close", detail="close() on the UDP socket")

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data.update(datagrams_in=self.datagrams_in, datagrams_out=self.datagrams_out,
                    last_peer=list(self.last_peer) if self.last_peer else None)
        return data


class UdpServer(UdpEndpoint):
    kind = "udp-server"

    def __init__(self, ctx: Context, ep_id: str, host: str, port: int, mode: str = "echo", reply: str = "OK") -> None:
        super().__init__(ctx, ep_id)
        self.mode, self.reply = mode, reply
        try:
            sock = bind_socket(ctx, host, port, socket.SOCK_DGRAM)
        except OSError as exc:
            raise self.fail(exc, "bind", host, port) from None
        self._sock = sock
        self.local = address(sock.getsockname())
        self.state = "bound"
        self.publish("listen", detail=f"socket(SOCK_DGRAM) + bind({where(*self.local)}): waiting for datagrams "
                                      "(UDP has no listen() and no accept())")
        self._start_receiving()

    def on_datagram(self, data: bytes, peer: Address) -> None:
        if self.mode == "echo":
            self.sendto(data, peer)
        elif self.mode == "reply":
            self.sendto(self.reply.encode("utf-8"), peer)

    def send(self, data: bytes, conn: str | None = None, to: Address | None = None) -> int:
        peer = self.target(to) if to else self.last_peer
        if peer is None:
            raise Refused("No datagram has arrived yet, so there is no peer to answer; give a 'to' address.")
        return self.sendto(data, peer)

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data["reply"] = self.reply if self.mode == "reply" else None
        return data


class UdpClient(UdpEndpoint):
    """A UDP client does not bind: the OS gives it a local port at its first sendto()."""

    kind = "udp-client"

    def __init__(self, ctx: Context, ep_id: str, host: str, port: int) -> None:
        super().__init__(ctx, ep_id)
        family, self.remote = ctx.targets.check(host, port, socket.SOCK_DGRAM)
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self.state = "ready"

    def send(self, data: bytes, conn: str | None = None, to: Address | None = None) -> int:
        assert self.remote is not None
        sent = self.sendto(data, self.target(to) if to else self.remote)
        with self._lock:
            if self._thread is None and not self._stopping:
                self._start_receiving()
        return sent
