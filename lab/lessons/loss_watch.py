"""When lesson 14's run is over, judged from the data, never from a clock: one `settled` event.

Under real loss TCP may still be retransmitting long after the last send (its RTO doubles after each
loss of the same segment: 0.2 s, 0.4 s, 0.8 s, ...), so a panel that settles a fixed time after the
last send calls "lost" a message that arrives later. The run is over when:

- every TCP message came back (the client's line framer restored `count` echoes), or
- nothing is left for TCP to do: every message was sent, the kernel holds no unacknowledged
  segment on either side (TCP_INFO `unacked` 0), no unsent or unread byte (SIOCOUTQ, SIOCINQ: a
  first version without them settled with 26 echoes still to come), the echo server has sent back
  all it read, and no byte moved for longer than either side's retransmission timeout (TCP_INFO
  `rto`): a retransmission, had one been due, would have come;
- or, in any case, after DEADLINE (a safety net, so the panel always settles: reason "deadline").

UDP has no retransmission: its side is over when every datagram was sent and no byte moved for
UDP_QUIET (an echo on loopback takes well under a millisecond; a datagram not back by then was dropped).

The step runs in the lab's one scheduler (lab/sockets/scheduler.py), owned by the run's TCP client: removing
that endpoint (a new run, a new stage) cancels it, and it publishes nothing.
"""

from __future__ import annotations

import fcntl
import struct
import termios
import time
from typing import TYPE_CHECKING, Any

from ..sockets.tcp import TcpClient, TcpServer
from ..sockets.udp import UdpClient

if TYPE_CHECKING:
    from ..sockets.connection import Connection
    from ..core import Lab
    from ..sockets.handlers import Handler

POLL = 0.05  # seconds between two looks: the panel's times are this precise
UDP_QUIET = 0.2
DEADLINE = 180.0  # TCP gives up a connection after ~15 retransmissions (minutes): the lesson does not wait that long
WATCH_SLOTS = 2  # the watch and the run's own periodic send, on the TCP client


class LossWatch:
    """Watch one run of lesson 14 (its ids as lab/lesson_wire.loss_run made them)."""

    def __init__(self, lab: Lab, ids: dict[str, str], count: int, started: float) -> None:
        self.lab, self.ids, self.count, self.started = lab, ids, count, started
        self._begun = time.monotonic()
        self._moved: dict[str, tuple[int, float]] = {}  # side -> (bytes moved, monotonic time they last changed)
        self._tcp_done: float | None = None  # wall time of the last TCP echo (the panel's "took")
        self._udp_done: float | None = None
        self._tcp_seen = 0
        self._udp_in = 0

    def start(self) -> None:
        limits = self.lab.ctx.limits
        self.lab.ctx.scheduler.every(self.ids["tcpClient"], POLL, self.step,
                                     per_owner=limits.periodic_per_endpoint, total=limits.periodic_total)

    def step(self) -> bool:
        """One look; False (the scheduler drops the task) once `settled` is published or the run is gone."""
        tcp, udp = self.lab.endpoints.get(self.ids["tcpClient"]), self.lab.endpoints.get(self.ids["udpClient"])
        server = self.lab.endpoints.get(self.ids["tcpServer"])
        if not isinstance(tcp, TcpClient) or not isinstance(udp, UdpClient) or not isinstance(server, TcpServer):
            return False  # removed from its card: nothing to report
        now, wall = time.monotonic(), time.time()
        conn = tcp.conn
        if conn.handler.messages > self._tcp_seen:
            self._tcp_seen, self._tcp_done = conn.handler.messages, wall
        tcp_idle = self._idle("tcp", conn.bytes_in + conn.bytes_out, now)
        udp_idle = self._idle("udp", udp.bytes_in + udp.bytes_out, now)
        if udp.bytes_in > self._udp_in:
            self._udp_in, self._udp_done = udp.bytes_in, wall
        sending = self.lab.ctx.scheduler.count(udp.id) > 0 or conn.messages_sent < self.count
        udp_over = not sending and udp_idle >= UDP_QUIET
        peer = next((c for c in list(server.connections.values()) if tuple(c.peer) == tuple(tcp.local or ())), None)
        reason = None
        if conn.handler.messages >= self.count and udp_over:
            reason = "echoed"
        elif udp_over and self._tcp_quiet(conn, peer, tcp_idle):
            reason = "idle"
        elif now - self._begun >= DEADLINE:
            reason = "deadline"
        if reason is None:
            return True
        self._publish(reason, tcp, conn, peer)
        return False

    def _idle(self, which: str, moved: int, now: float) -> float:
        """Seconds since `moved` last changed (0.0 on the look that sees it change)."""
        last, since = self._moved.get(which, (-1, now))
        if moved != last:
            self._moved[which] = (moved, now)
            return 0.0
        return now - since

    def _tcp_quiet(self, conn: Connection[Handler], peer: Connection[Handler] | None, idle: float) -> bool:
        """Every message sent, nothing left anywhere (no byte unacknowledged, unsent or unread in either
        kernel, the echo server has sent back all it read), and idle for longer than either side's RTO."""
        if conn.messages_sent < self.count or peer is None:
            return False
        infos = [conn.tcp_info(), peer.tcp_info()]
        if any(info is None for info in infos):
            return False  # no TCP_INFO (closed, or not Linux): only the echoes or the deadline tell
        if any(info["unacked"] for info in infos if info) or peer.bytes_in != peer.bytes_out:
            return False  # in flight (a retransmission is coming), or the echo server is still at work
        if any(_queued(c) for c in (conn, peer)):
            return False  # unsent (cwnd, Nagle) or unread bytes: TCP_INFO's unacked does not count them
        return idle * 1e6 > max(int(info["rto_us"]) for info in infos if info)

    def _publish(self, reason: str, tcp: TcpClient, conn: Connection[Handler], peer: Connection[Handler] | None) -> None:
        retrans = sum(info["total_retrans"] for info in (conn.tcp_info(), peer.tcp_info() if peer else None) if info)

        def seconds(at: float | None) -> float | None:
            return None if at is None else round(max(0.0, at - self.started), 3)

        args: dict[str, Any] = {
            "reason": reason, "count": self.count,
            "tcp": {"received": conn.handler.messages, "retransmits": retrans, "seconds": seconds(self._tcp_done),
                    "dropped": self.lab.link.dropped(self.ids["tcpServer"])},
            "udp": {"seconds": seconds(self._udp_done),
                    "dropped": self.lab.link.dropped(self.ids["udpServer"])},
        }
        tcp.publish("settled", detail=(f"run settled ({reason}): TCP {conn.handler.messages}/{self.count} echoed with "
                                       f"{retrans} retransmitted segments in {args['tcp']['seconds']} s; UDP took "
                                       f"{args['udp']['seconds']} s"), args=args)


def _queued(conn: Connection[Handler]) -> int:
    """Bytes in the socket's queues: sent but unacknowledged or not yet sent (SIOCOUTQ), and received
    but not yet read by the program (SIOCINQ); 0 when the socket is gone."""
    try:
        out = fcntl.ioctl(conn.sock.fileno(), termios.TIOCOUTQ, b"\0" * 4)
        into = fcntl.ioctl(conn.sock.fileno(), termios.FIONREAD, b"\0" * 4)
    except (OSError, ValueError):
        return 0
    return int(struct.unpack("i", out)[0]) + int(struct.unpack("i", into)[0])
