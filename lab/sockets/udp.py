"""UDP server and client: datagrams with recvfrom/sendto, no connection, no handshake.

Each endpoint has one socket and one receive thread. shutdown() on a UDP socket fails with
ENOTCONN on Linux but still wakes a blocked recvfrom(), which is how close() stops the thread.
"""

from __future__ import annotations

import functools
import itertools
import os
import socket
import threading
import time
from typing import Any, Callable

from . import handlers
from .endpoint import Context, Endpoint, address, bind_socket, errno_name, join, os_fields, spawn
from ..errors import LabError, Refused, TooLarge, os_problem, where
from ..events.bus import Address
from .impair import DelayLine, Impairer
from ..spec import EndpointSpec

RECV_SIZE = 65535
RECV_ARGS: dict[str, Any] = {"bufsize": RECV_SIZE}  # shared by every recvfrom event: never mutated
HOLD_LIMIT = 2.0  # seconds a reordered datagram waits for a later one to overtake it


def kernel_drops(sock: socket.socket | None) -> int | None:
    """Datagrams the kernel dropped for this socket because its receive buffer was full (Linux's
    /proc/net/udp `drops` column): the loss UDP itself never reports."""
    if sock is None or sock.fileno() < 0:
        return None
    try:
        inode = str(os.fstat(sock.fileno()).st_ino)
        for table in ("/proc/net/udp", "/proc/net/udp6"):
            with open(table) as f:
                for line in f:
                    fields = line.split()
                    if len(fields) > 12 and fields[9] == inode:
                        return int(fields[12])
    except (OSError, ValueError):
        return None
    return None


class UdpEndpoint(Endpoint):
    """The shared part: one datagram socket, a receive loop, sendto with events."""

    proto = "udp"

    def __init__(self, ctx: Context, ep_id: str, spec: EndpointSpec) -> None:
        super().__init__(ctx, ep_id, spec)
        self.last_peer: Address | None = None
        self.datagrams_in = 0
        self.datagrams_out = 0
        self.datagrams_lost = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._impairer = Impairer(spec.impair) if spec.impair else None
        self.service = handlers.service(self, spec.mode) if spec.mode else None
        self._delay_line: DelayLine | None = None
        self._numbered = itertools.count(1)  # datagrams offered for sending, for impairment notes
        self._held: list[tuple[bytes, Address, int]] = []
        self._send_lock = threading.Lock()

    def start(self) -> None:
        if self.kind == "udp-server":  # (a client starts receiving at its first sendto(), as the OS binds it then)
            self._start_receiving()

    def _start_receiving(self) -> None:
        self._thread = spawn(f"udp-{self.id}", self._recv_loop, self.crashed)

    def _recv_loop(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._stopping:
            try:
                data, peer_addr = sock.recvfrom(RECV_SIZE)
            except OSError as exc:
                if not self._stopping:
                    err, code, params = os_fields(exc, "receive from", *(self.local or ("", 0)))
                    self.publish("error", detail=f"recvfrom() failed: {exc.strerror or exc}", call="recvfrom",
                                 errno=err, code=code, params=params)
                    continue
                return
            if peer_addr is None:  # woken by shutdown() in close()
                return
            peer = address(peer_addr)
            self.last_peer = peer
            self.bytes_in += len(data)
            self.datagrams_in += 1
            n = len(data)
            # every field in order, as a TCP connection's recv does: this runs for every datagram
            self.ctx.bus.record(time.time(), self.id, None, self.proto, "recv", self.local, peer, n, data,
                                f"recvfrom({RECV_SIZE}) returned a {n}-byte datagram from {where(*peer)}", "recvfrom",
                                RECV_ARGS, n, None, None, None, None, None, None, None)
            try:
                self.on_datagram(data, peer)
            except LabError:
                if self._stopping:
                    return  # closed while answering: there is nobody left to answer for
                # the answer could not be sent (its error event says why); the socket keeps receiving

    def on_datagram(self, data: bytes, peer: Address) -> None:
        if self.service is not None:  # a client has no mode: it only shows what arrives
            self.service.on_datagram(data, peer)

    def target(self, to: Address) -> Address:
        """An explicit destination, checked against the target policy (never an open relay)."""
        return self.ctx.targets.check(to[0], to[1], socket.SOCK_DGRAM)[1]

    def sendto(self, data: bytes, peer: Address) -> int:
        """Send one datagram, through the impairment when the endpoint has one."""
        if len(data) > self.ctx.limits.datagram_bytes:
            raise TooLarge("datagram-too-large", limit=self.ctx.limits.datagram_bytes, size=len(data))
        if self._sock is None or self.state in ("stopped", "closed"):
            raise Refused("udp-socket-closed")
        number = next(self._numbered)
        if self._impairer is None:
            return self._transmit(data, peer)
        fate = self._impairer.fate()
        if fate.copies == 0:
            self.datagrams_lost += 1
            self.publish("lost", peer=peer, size=len(data), payload=data,
                         detail=f"datagram {number} lost by impairment (loss {self._impairer.spec.loss:.0%}): it never reached the network",
                         code="impair-loss", params={"datagram": number, "loss": self._impairer.spec.loss})
            return len(data)
        notes = [f"datagram {number}"] + (["delayed"] if fate.delay else [])
        for copy in range(fate.copies):
            note = ", ".join(notes + (["duplicate copy"] if copy else []))
            impaired = {"datagram": number, "impair": (["delayed"] if fate.delay else []) + (["duplicate"] if copy else [])}
            if fate.held:
                with self._send_lock:
                    self._held.append((data, peer, number))
                # If no later datagram overtakes it, it goes anyway after HOLD_LIMIT (only this one:
                # the timer must not release datagrams held after it, or the outcome would depend
                # on timing).
                if not self._later(HOLD_LIMIT, functools.partial(self._release_held, number), len(data)):
                    with self._send_lock:
                        self._held = [h for h in self._held if h[2] != number]
                    self._overflowed(data, peer, note, number)
            elif fate.delay:
                if not self._later(fate.delay, functools.partial(self._transmit_quietly, data, peer, note, impaired), len(data)):
                    self._overflowed(data, peer, note, number)
            else:
                self._transmit(data, peer, note, impaired)
        if not fate.held:
            self._release_held()
        return len(data)

    def _later(self, delay: float, callback: Callable[[], None], size: int) -> bool:
        """Run `callback` after `delay` seconds; False when the delay line is full (nothing kept)."""
        with self._send_lock:
            if self._delay_line is None:
                limits = self.ctx.limits
                self._delay_line = DelayLine(f"impair-{self.id}", limits.delay_datagrams, limits.delay_bytes)
        return self._delay_line.put(delay, callback, size)

    def _overflowed(self, data: bytes, peer: Address, note: str, number: int) -> None:
        """A datagram the full delay line could not hold: dropped, counted, and said so."""
        line = self._delay_line
        assert line is not None
        self.publish("lost", peer=peer, size=len(data), payload=data,
                     detail=f"{note} dropped: the delay line already holds {line.held} datagrams ({line.held_bytes} bytes), "
                            f"the lab's limit (SOCKETLAB_MAX_DELAY_DATAGRAMS, SOCKETLAB_MAX_DELAY_BYTES); "
                            f"{line.dropped} dropped so far",
                     code="delay-line-full", params={"datagram": number, "held": line.held, "held_bytes": line.held_bytes,
                                                     "dropped": line.dropped})

    @property
    def delay_dropped(self) -> int:
        return self._delay_line.dropped if self._delay_line is not None else 0

    def _release_held(self, only: int | None = None) -> None:
        with self._send_lock:
            held = [h for h in self._held if only is None or h[2] == only]
            self._held = [h for h in self._held if h not in held]
        for data, peer, number in held:
            self._transmit_quietly(data, peer, f"datagram {number}, held back and sent after a later one: reordered",
                                   {"datagram": number, "impair": ["reordered"]})

    def _transmit_quietly(self, data: bytes, peer: Address, note: str, impaired: dict[str, Any] | None = None) -> None:
        try:
            self._transmit(data, peer, note, impaired)
        except LabError:
            return  # the error event is already published; a delayed send has nobody to tell

    def _transmit(self, data: bytes, peer: Address, note: str = "", impaired: dict[str, Any] | None = None) -> int:
        """sendto() with its events; `impaired` ({"datagram": n, "impair": [...]}) joins the send's args."""
        sock = self._sock
        if sock is None or self._stopping:
            raise Refused("udp-socket-closed")
        detail = f"sendto({where(*peer)}) of one {len(data)}-byte datagram" + (f" ({note})" if note else "")
        # Published just before the call, so the log shows it before the peer's recvfrom(); except
        # the very first sendto() of a client, which is what binds it: its local port is known after.
        bound = self.local is not None
        args = {"bytes": len(data), "address": list(peer)}
        if impaired:
            args.update(impaired)
        if bound:  # (every field in order: this runs for every datagram sent)
            self.ctx.bus.record(time.time(), self.id, None, self.proto, "send", self.local, peer, len(data), data, detail,
                                "sendto", args, len(data), None, None, None, None, None, None, None)
        began = time.time()
        try:
            sent = sock.sendto(data, peer)
        except OSError as exc:
            problem = os_problem(exc, "send to", *peer)
            self.publish("error", peer=peer, detail=problem.sentence, call="sendto", errno=errno_name(exc),
                         code=problem.code, params=problem.params)
            raise Refused.of(problem) from None
        if not bound:
            self.local = address(sock.getsockname())
            self.publish("send", peer=peer, size=sent, payload=data, detail=detail + "; the OS bound the socket to a free port",
                         call="sendto", args=args, result=sent, ts=began)
        self.count_out(sent)
        self.datagrams_out += 1
        return sent

    def close(self) -> None:
        self.stop_tasks()
        self._stopping = True
        if self._delay_line is not None:
            self._delay_line.close()
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # ENOTCONN is expected for UDP; the blocked recvfrom() wakes anyway
            join(self._thread)
            sock.close()
        self.state = "stopped" if self.kind == "udp-server" else "closed"
        self.publish("close", detail="close() on the UDP socket", call="close", closed_by="local", code="stopped")

    def to_json(self, snapshot: bool = False) -> dict[str, Any]:
        data = super().to_json(snapshot)
        data.update(datagrams_in=self.datagrams_in, datagrams_out=self.datagrams_out, datagrams_lost=self.datagrams_lost,
                    kernel_drops=kernel_drops(self._sock), delay_dropped=self.delay_dropped,
                    last_peer=list(self.last_peer) if self.last_peer else None)
        return data


class UdpServer(UdpEndpoint):
    kind = "udp-server"

    def __init__(self, ctx: Context, ep_id: str, spec: EndpointSpec) -> None:
        super().__init__(ctx, ep_id, spec)
        host, port = spec.host, spec.port
        try:
            sock = bind_socket(ctx, host, port, socket.SOCK_DGRAM)
        except OSError as exc:
            raise self.fail(exc, "bind", host, port, "bind") from None
        self._sock = sock
        self.local = address(sock.getsockname())
        self.state = "bound"
        self.publish("listen", detail=f"socket(SOCK_DGRAM) + bind({where(*self.local)}): waiting for datagrams "
                                      "(UDP has no listen() and no accept())", call="bind", args={"address": list(self.local)})

    def send(self, data: bytes, conn: str | None = None, to: Address | None = None) -> int:
        peer = self.target(to) if to else self.last_peer
        if peer is None:
            raise Refused("no-peer-yet")
        return self.sendto(data, peer)

    def to_json(self, snapshot: bool = False) -> dict[str, Any]:
        data = super().to_json(snapshot)
        data["reply"] = self.spec.reply if self.service and "reply" in self.service.mode.fields else None
        return data


class UdpClient(UdpEndpoint):
    """A UDP client does not bind: the OS gives it a local port at its first sendto()."""

    kind = "udp-client"

    def __init__(self, ctx: Context, ep_id: str, spec: EndpointSpec) -> None:
        super().__init__(ctx, ep_id, spec)
        family, self.remote = ctx.targets.check(spec.host, spec.port, socket.SOCK_DGRAM)
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        if spec.broadcast:  # without SO_BROADCAST the kernel refuses to send to a broadcast address
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        self.state = "ready"

    def send(self, data: bytes, conn: str | None = None, to: Address | None = None) -> int:
        assert self.remote is not None
        sent = self.sendto(data, self.target(to) if to else self.remote)
        with self._lock:  # receive once the OS has bound the socket (a lost first datagram binds nothing)
            if self._thread is None and not self._stopping and self.local is not None:
                self._start_receiving()
        return sent
