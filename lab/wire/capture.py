"""The capture thread: the lab's own segments off the loopback, as `packet` events and pcap frames.

One AF_PACKET socket on `lo` of the lab's network namespace (the sandbox's, or the host's when the
lab runs as root), with a BPF filter on the lab's ports (lab/wire/bpf.py) that the lab refreshes
as endpoints come and go. The thread only moves frames: parsing (frames.py), TCP analysis
(analysis.py) and ownership (directory.py) are pure and tested on their own. Each frame becomes one
`packet` event through the lab's EventBus, rate-limited like any data kind (so a flood costs a
bounded buffer, and what did not fit is counted), and one frame in a bounded ring for the pcap.

Frames come through the kernel's receive ring (ring.py). Times are the kernel's (the realtime clock
of time.time()), so sorted by time a handshake falls between the connect() that began it and the
accept() that returned after it.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections import Counter, OrderedDict
from typing import Any, Callable

from ..events import EventBus
from .analysis import TcpFlows
from .bpf import attach, program
from .directory import Directory, Expected, Owner
from .frames import ACK, SYN, FrameParser, flag_names
from .pcap import Frame, FrameRing
from .ring import RxRing

SNAPLEN = 256  # Ethernet + IPv6 + TCP with every option fit in 134: the rest would be payload
RING_FRAMES = 20_000  # about 5 MB of frames for the pcap
EXPECT_SECONDS = 10.0
# A packet whose owner is not final rebuilds the directory when the lab published something since
# (an accept, a connect) and REFRESH_AFTER has passed, or anyway after STALE_AFTER: a flood of such
# packets (SYNs to a listener, a closed port) costs at most one rebuild a millisecond.
REFRESH_AFTER = 0.001
STALE_AFTER = 0.05
# A full ring is parsed frame after frame without a system call, so this thread would keep the GIL
# for the whole switch interval (5 ms) while the socket threads whose traffic it records wait for it
# after each recv(): it lets go every few frames instead (and records the packets of those frames
# in one go). Bench 14 (1 GiB, capture on vs off), at 10 us a frame: never 0.39x twice; every 16
# frames 0.46x; every 8 0.49x; every 4 or every frame, the ring overflowed (3,710 and 25,762 frames
# dropped by the kernel): this thread then waits too long for the GIL back. At 7.4 us a frame: every
# 16 frames 0.48-0.70x, every 8 0.48-0.56x, every 4 0.50-0.57x with 1,000-3,800 frames dropped.
YIELD_EVERY = 16
ETH_P_ALL = 0x0003
SOL_PACKET, PACKET_STATISTICS = 263, 6
# frames read; of them, packet events recorded, suppressed by the events-per-second limit, and on a
# lab port but of no lab socket; frames the kernel dropped because this thread fell behind; filters attached
COUNTS = ("frames", "packets", "suppressed", "unmatched", "kernel_drops", "filters")
FlowKey = tuple[str, tuple[str, int], tuple[str, int]]  # proto, source, destination
_FLAGS: dict[int, str] = {}  # flag bits -> "PSH,ACK": worded once per combination


def why_not() -> str | None:
    """None when this process may capture on its loopback; else the code of the reason."""
    family = getattr(socket, "AF_PACKET", None)
    if family is None:
        return "capture-unsupported"
    try:
        probe = socket.socket(family, socket.SOCK_RAW, 0)  # protocol 0: receives nothing
    except PermissionError:
        return "capture-not-permitted"
    except OSError:
        return "capture-unsupported"
    probe.close()
    return None


Snapshot = Callable[[list[Expected]], Directory]


class Capture:
    """Started by the lab when capture is possible; `close()` stops the thread and the socket."""

    def __init__(self, bus: EventBus, snapshot: Snapshot, interface: str = "lo") -> None:
        self.bus = bus
        self._snapshot = snapshot
        self._lock = threading.Lock()  # the directory, the expected list and the attached filter
        self._expected: list[Expected] = []
        self._directory = snapshot([])
        self._built, self._built_seq = time.monotonic(), bus.last_seq
        self._ports: frozenset[int] | None = None
        # owners known for good, with the endpoints at either end (a flow's pcap): the hot path of a download
        self._owners: OrderedDict[FlowKey, tuple[Owner, frozenset[str]]] = OrderedDict()
        self.parser = FrameParser()
        self.flows = TcpFlows()
        self.ring = FrameRing(RING_FRAMES)
        self.counts: Counter[str] = Counter()
        self._rows: list[tuple[Any, ...]] = []  # packet events of the frames read since the last flush
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            # the filter and the ring first, then bind with a protocol: no frame comes before both hold
            self._attach(self._directory.ports)
            self._ring = RxRing(self._sock)
            self._sock.bind((interface, ETH_P_ALL))
        except BaseException:
            self._sock.close()
            raise
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()

    # -- what the lab tells it ------------------------------------------------------------------

    def expect(self, owner: str, proto: str, port: int) -> None:
        """A lab client or download is about to connect to `port`: its first packets are its own."""
        now = time.monotonic()
        with self._lock:
            self._expected = [e for e in self._expected if now - e.since < EXPECT_SECONDS] + [
                Expected(owner, proto, port, now)]
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the directory and re-attach the filter when the lab's ports changed."""
        with self._lock:
            now = time.monotonic()
            self._expected = [e for e in self._expected if now - e.since < EXPECT_SECONDS]
            self._built_seq = self.bus.last_seq  # (before the snapshot: what it may miss is newer)
            self._directory = self._snapshot(self._expected)
            self._built = now
            if frozenset(self._directory.ports) != self._ports and not self._stop.is_set():
                self._attach(self._directory.ports)

    def _attach(self, ports: set[int]) -> None:
        attach(self._sock, program(ports, SNAPLEN))
        self._ports = frozenset(ports)
        self.counts["filters"] += 1

    # -- what the lab asks of it -----------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        self._read_kernel_drops()
        counts = {name: self.counts[name] for name in COUNTS}
        return {**counts, "skipped": dict(self.parser.skipped), "flows": len(self.flows),
                "ring": len(self.ring), "ring_dropped": self.ring.dropped}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        with self._lock:
            self._ring.close()
            self._sock.close()

    # -- the thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        frames = 0
        while not self._stop.is_set():
            for data, wire_len, ts in self._ring.frames(timeout=0.2):  # (0.2 s: to see close() soon)
                self.counts["frames"] += 1
                self._frame(data, wire_len, ts)
                frames += 1
                if frames % YIELD_EVERY == 0:
                    self._flush()
                    time.sleep(0)  # let the socket threads have the GIL (see YIELD_EVERY)
            self._flush()

    def _flush(self) -> None:
        """Record the packets of the last few frames, in one go (one lock, one clock read)."""
        rows = self._rows
        if rows:
            recorded = self.bus.record_observed(rows)
            self.counts["packets"] += recorded
            self.counts["suppressed"] += len(rows) - recorded
            self._rows = []

    def _frame(self, data: bytes, wire_len: int, ts: float) -> None:
        packet = self.parser.parse(data, wire_len)
        if packet is None:
            return
        key: FlowKey = (packet.proto, packet.src, packet.dst)
        if packet.proto == "tcp" and packet.flags & (SYN | ACK) == SYN:
            self._owners.pop(key, None)  # a new connection on this 4-tuple: find its owner afresh
        found = self._owners.get(key) or self._find_owner(key)
        if found is None:
            self.counts["unmatched"] += 1  # another program's traffic on a port the lab uses
            return
        owner, ends = found
        self.ring.add(Frame(ts, data, wire_len, ends))
        if packet.proto == "tcp":
            marked = self.flows.mark(packet)
            flags = _FLAGS.get(packet.flags) or _FLAGS.setdefault(packet.flags, flag_names(packet.flags))
            args: dict[str, Any] = {"flags": flags, "seq": marked.seq, "ack": marked.ack, "win": marked.win,
                                    "len": packet.length, "src": list(packet.src), "dst": list(packet.dst),
                                    "analysis": marked.analysis}
            detail = (f"{flags} seq={marked.seq} ack={marked.ack} win={marked.win} len={packet.length}"
                      + (f" [{marked.analysis}]" if marked.analysis else ""))
        else:
            args = {"flags": None, "seq": None, "ack": None, "win": None, "len": packet.length,
                    "src": list(packet.src), "dst": list(packet.dst), "analysis": None}
            detail = f"UDP datagram len={packet.length}"
        self._rows.append((ts, owner.endpoint, owner.conn, packet.proto, "packet", owner.local, owner.peer,
                           packet.length, None, f"{packet.src[1]} -> {packet.dst[1]} {detail}", None, args))

    def _find_owner(self, key: FlowKey) -> tuple[Owner, frozenset[str]] | None:
        owner = self._directory.owner(*key)
        age = time.monotonic() - self._built
        if (owner is None or not owner.exact) and (
                age > STALE_AFTER or age > REFRESH_AFTER and self.bus.last_seq != self._built_seq):
            self.refresh()
            owner = self._directory.owner(*key)
        if owner is None:
            return None
        found = owner, self._directory.endpoints_of(*key) | {owner.endpoint}
        if owner.exact:
            self._owners[key] = found
            while len(self._owners) > 4096:
                self._owners.popitem(last=False)
        return found

    def _read_kernel_drops(self) -> None:
        """Frames the kernel dropped because this thread fell behind (reading resets its counters)."""
        with self._lock:
            if self._sock.fileno() < 0:
                return
            raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 12)  # struct tpacket_stats_v3
        _seen, drops, _frozen = struct.unpack("III", raw)
        self.counts["kernel_drops"] += drops
