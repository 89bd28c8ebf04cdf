"""The capture: the lab's own segments off the loopback, as `packet` events and pcap frames.

One AF_PACKET socket on `lo` of the lab's network namespace (the sandbox's, or the host's when the
lab runs as root), with a BPF filter on the lab's ports (lab/wire/bpf.py) that the lab refreshes
as endpoints come and go. Reading, parsing (frames.py) and TCP analysis (analysis.py) happen in a
process of their own (tap.py: why there); this side keeps the socket to re-attach its filter, and
one thread that takes the tap's batches, finds each packet's lab socket (directory.py), keeps its
frame in a bounded ring for the pcap, and records its `packet` event through the lab's EventBus,
rate-limited like any data kind (so a flood costs a bounded buffer, and what did not fit is counted).

Times are the kernel's (the realtime clock of time.time()), so sorted by time a handshake falls
between the connect() that began it and the accept() that returned after it.
"""

from __future__ import annotations

import logging
import marshal
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter, OrderedDict
from pathlib import Path
from typing import IO, Any, Callable

from ..events.bus import EventBus
from .bpf import attach, program
from .directory import Directory, Expected, Owner
from .pcap import Frame, FrameRing

SNAPLEN = 256  # Ethernet + IPv6 + TCP with every option fit in 134: the rest would be payload
RING_FRAMES = 20_000  # about 5 MB of frames for the pcap
EXPECT_SECONDS = 10.0
READY_SECONDS = 10.0  # the tap's start (a fresh interpreter; 30-60 ms on a quiet machine)
# A packet whose owner is not final rebuilds the directory when the lab published something since
# (an accept, a connect) and REFRESH_AFTER has passed, or anyway after STALE_AFTER: a flood of such
# packets (SYNs to a listener, a closed port) costs at most one rebuild a millisecond.
REFRESH_AFTER = 0.001
STALE_AFTER = 0.05
ETH_P_ALL = 0x0003
SOL_PACKET, PACKET_STATISTICS = 263, 6
# frames read; of them, packet events recorded, suppressed by the events-per-second limit, and on a
# lab port but of no lab socket; frames the kernel dropped because the tap fell behind; filters attached
COUNTS = ("frames", "packets", "suppressed", "unmatched", "kernel_drops", "filters")
FlowKey = tuple[str, tuple[str, int], tuple[str, int]]  # proto, source, destination
_LENGTH = struct.Struct("<I")
log = logging.getLogger("lab.wire")
# The tap runs as `wire.tap` from lab/ on its path, not as `lab.wire.tap`: importing the `lab`
# package would load the whole lab (0.12 s) into a process that needs four small modules.
_TAP = "import sys; sys.path.insert(0, sys.argv.pop(1)); from wire.tap import main; sys.exit(main(sys.argv[1:]))"
_LAB_DIR = str(Path(__file__).resolve().parents[1])


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


class TapFailed(OSError):
    """The tap process could not start or set up its ring; the lab runs without capture."""


class Capture:
    """Started by the lab when capture is possible; `close()` stops the tap, the thread and the socket."""

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
        self.ring = FrameRing(RING_FRAMES)
        self.counts: Counter[str] = Counter()
        self.skipped: dict[str, int] = {}  # the tap's parser's, by reason
        self.flows = 0  # connections the tap's analysis follows
        self._closing = False
        self.stopped: str | None = None  # why the tap ended while the lab still ran
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            self._attach(self._directory.ports)  # the filter first: the tap binds, no frame comes before it
            self._tap = self._start_tap(interface)
        except BaseException:
            self._sock.close()
            raise
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()

    def _start_tap(self, interface: str) -> subprocess.Popen[bytes]:
        fd = self._sock.fileno()
        tap = subprocess.Popen([sys.executable, "-I", "-c", _TAP, _LAB_DIR, str(fd), interface],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=(fd,))
        assert tap.stdout is not None
        message = _read(tap.stdout, READY_SECONDS)
        if not message or message[0] != "ready":
            _end(tap)
            tap.stdout.close()
            raise TapFailed(f"the capture process did not start: {message!r}")
        return tap

    # -- what the lab tells it ------------------------------------------------------------------

    def expect(self, owner: str, proto: str, port: int) -> None:
        """A lab client or download is about to connect to `port`: its first packets are its own."""
        now = time.monotonic()
        with self._lock:
            self._expected = [e for e in self._expected if now - e.since < EXPECT_SECONDS] + [
                Expected(owner, proto, port, now)]
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the directory and re-attach the filter when the lab's ports changed (on the
        lab's own handle of the socket: in force when this returns)."""
        with self._lock:
            now = time.monotonic()
            self._expected = [e for e in self._expected if now - e.since < EXPECT_SECONDS]
            self._built_seq = self.bus.last_seq  # (before the snapshot: what it may miss is newer)
            self._directory = self._snapshot(self._expected)
            self._built = now
            if frozenset(self._directory.ports) != self._ports and not self._closing:
                self._attach(self._directory.ports)

    def _attach(self, ports: set[int]) -> None:
        attach(self._sock, program(ports, SNAPLEN))
        self._ports = frozenset(ports)
        self.counts["filters"] += 1

    # -- what the lab asks of it -----------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        self._read_kernel_drops()
        counts = {name: self.counts[name] for name in COUNTS}
        return {**counts, "skipped": dict(self.skipped), "flows": self.flows,
                "ring": len(self.ring), "ring_dropped": self.ring.dropped}

    def close(self) -> None:
        with self._lock:
            self._closing = True
        _end(self._tap)  # its stdout ends: the thread's read returns
        self._thread.join(5)
        if self._tap.stdout is not None:
            self._tap.stdout.close()
        with self._lock:
            self._sock.close()

    # -- the thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        stdout = self._tap.stdout
        assert stdout is not None
        while (message := _read(stdout)) is not None:
            if message[0] == "batch":
                _, rows, (frames, skipped, flows) = message
                self.counts["frames"], self.skipped, self.flows = frames, skipped, flows
                self._record(rows)
        if not self._closing:  # killed, or out of memory: the lab goes on without packets, and says so
            self.stopped = f"exit status {self._tap.wait()}"
            log.warning("the capture process ended (%s): no more packets are recorded", self.stopped)
            self.bus.publish("", "error", proto="", code="capture-stopped", params={"status": self._tap.returncode},
                             detail=f"packet capture stopped: its process ended ({self.stopped})")

    def _record(self, rows: list[tuple[Any, ...]]) -> None:
        """Each packet's owner, frame and event; the events recorded in one go (one lock, one clock read)."""
        owners, find, add = self._owners, self._find_owner, self.ring.add
        events = []
        unmatched = 0
        for ts, data, wire_len, proto, src, dst, new_syn, length, args, detail in rows:
            key = (proto, src, dst)
            if new_syn:
                owners.pop(key, None)  # a new connection on this 4-tuple: find its owner afresh
            found = owners.get(key) or find(key)
            if found is None:
                unmatched += 1  # another program's traffic on a port the lab uses
                continue
            owner, ends = found
            add(Frame(ts, data, wire_len, ends))
            events.append((ts, owner.endpoint, owner.conn, proto, "packet", owner.local, owner.peer, length, None,
                           detail, None, args))
        self.counts["unmatched"] += unmatched
        if events:
            recorded = self.bus.record_observed(events)
            self.counts["packets"] += recorded
            self.counts["suppressed"] += len(events) - recorded

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
        """Frames the kernel dropped because the tap fell behind (reading resets its counters)."""
        with self._lock:
            if self._sock.fileno() < 0:
                return
            raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 12)  # struct tpacket_stats_v3
        _seen, drops, _frozen = struct.unpack("III", raw)
        self.counts["kernel_drops"] += drops


def _read(stream: IO[bytes], timeout: float | None = None) -> tuple[Any, ...] | None:
    """One message of the tap, or None when it ended (or said nothing for `timeout` seconds)."""
    if timeout is not None and not select.select([stream], [], [], timeout)[0]:
        return None
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        return None
    try:
        message = marshal.loads(data)
    except (EOFError, ValueError, TypeError):  # (never from our own tap; if ever, capture stops and says so)
        return None
    return message if isinstance(message, tuple) and message else None


def _end(tap: subprocess.Popen[bytes]) -> None:
    """Close its stdin (it leaves at once), then wait for it; killed if it does not go."""
    if tap.stdin is not None:
        tap.stdin.close()
    try:
        tap.wait(5)
    except subprocess.TimeoutExpired:
        tap.kill()
        tap.wait(5)
