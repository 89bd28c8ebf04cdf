"""The capture's own process: the kernel's receive ring read, every frame parsed and analysed, and
the packets handed to the lab in batches (`python -m lab.wire.tap`, started by capture.py).

Why a process: parsing and TCP analysis cost 4-7 us a frame in Python. In the lab's process
that time is taken under the GIL from the very socket threads whose traffic it records: a 1 GiB
lab download with capture on ran at 0.48-0.70x of the same download with capture off (bench 14).
Here it runs on the other core; the lab only reads ready-made rows and records them.

The packet socket is the lab's: made and filtered there, handed over as an inherited file
descriptor, so the lab re-attaches its BPF filter itself, at once, when a port comes (no frame of
a new listener's first handshake waits on a message to this process). This process sets up the
ring and then binds the socket (in that order, so nothing is missed), then says "ready".

Out, on stdout: messages of a 4-byte length and a `marshal`led tuple (the lab trusts only its own
child, which it started): ("ready",), ("error", code), ("batch", rows, counts). A row is
(ts, data, wire_len, proto, src, dst, new_syn, length, args, detail): what the lab needs to find the
packet's owner, keep its frame for the pcap and record its `packet` event. In, on stdin: nothing;
its end (the lab closed it, or the lab died) ends this process.
"""

from __future__ import annotations

import marshal
import os
import signal
import socket
import struct
import sys
import threading
from typing import Any

from .analysis import TcpFlows
from .frames import ACK, SYN, FrameParser, flag_names
from .ring import RxRing

BATCH = 256  # rows a message: about 60 KB; the lab records them in one go
ETH_P_ALL = 0x0003
_LENGTH = struct.Struct("<I")
_FLAGS: dict[int, str] = {}  # flag bits -> "PSH,ACK": worded once per combination


class Tap:
    def __init__(self, sock: socket.socket, interface: str, out: Any) -> None:
        self._out, self._lock = out, threading.Lock()
        self.parser, self.flows = FrameParser(), TcpFlows()
        self.frames = 0
        self.ring = RxRing(sock)
        sock.bind((interface, ETH_P_ALL))

    def send(self, message: tuple[Any, ...]) -> None:
        with self._lock:
            self._out.write(_pack(message))
            self._out.flush()

    def run(self) -> None:
        rows: list[tuple[Any, ...]] = []
        while True:
            for data, wire_len, ts in self.ring.frames(timeout=1.0):
                self.frames += 1
                row = self.row(data, wire_len, ts)
                if row is not None:
                    rows.append(row)
                    if len(rows) >= BATCH:
                        self.flush(rows)
                        rows = []
            self.flush(rows)
            rows = []

    def flush(self, rows: list[tuple[Any, ...]]) -> None:
        """A batch with the counts so far (sent even when empty if frames were read, so the lab's
        stats see frames that were all skipped)."""
        if rows or self.frames:
            self.send(("batch", rows, (self.frames, dict(self.parser.skipped), len(self.flows))))

    def row(self, data: bytes, wire_len: int, ts: float) -> tuple[Any, ...] | None:
        packet = self.parser.parse(data, wire_len)
        if packet is None:
            return None
        src, dst = packet.src, packet.dst
        if packet.proto == "tcp":
            marked = self.flows.mark(packet)
            flags = _FLAGS.get(packet.flags) or _FLAGS.setdefault(packet.flags, flag_names(packet.flags))
            args: dict[str, Any] = {"flags": flags, "seq": marked.seq, "ack": marked.ack, "win": marked.win,
                                    "len": packet.length, "src": list(src), "dst": list(dst),
                                    "analysis": marked.analysis}
            detail = (f"{src[1]} -> {dst[1]} {flags} seq={marked.seq} ack={marked.ack} win={marked.win} "
                      f"len={packet.length}" + (f" [{marked.analysis}]" if marked.analysis else ""))
            new_syn = packet.flags & (SYN | ACK) == SYN
        else:
            args = {"flags": None, "seq": None, "ack": None, "win": None, "len": packet.length,
                    "src": list(src), "dst": list(dst), "analysis": None}
            detail = f"{src[1]} -> {dst[1]} UDP datagram len={packet.length}"
            new_syn = False
        return ts, data, wire_len, packet.proto, src, dst, new_syn, packet.length, args, detail


def _until_the_lab_is_gone() -> None:
    """stdin's end: the lab closed it or died. Nothing is left to do for anyone: leave at once."""
    try:
        while os.read(0, 4096):
            pass
    finally:
        os._exit(0)


def main(argv: list[str]) -> int:
    """argv: the inherited packet socket's file descriptor, the interface."""
    # Ctrl-C in the terminal of `make run` reaches the whole process group: the lab stops on it and
    # closes this process's stdin; its own KeyboardInterrupt would only print a traceback meanwhile.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd, interface = int(argv[0]), argv[1]
    out = sys.stdout.buffer
    sock = socket.socket(fileno=fd)
    try:
        tap = Tap(sock, interface, out)
    except OSError as exc:
        out.write(_pack(("error", f"{type(exc).__name__}: {exc}")))
        out.flush()
        return 1
    threading.Thread(target=_until_the_lab_is_gone, name="stdin", daemon=True).start()
    tap.send(("ready",))
    try:
        tap.run()
    except (BrokenPipeError, OSError):  # the lab is gone
        pass
    return 0


def _pack(message: tuple[Any, ...]) -> bytes:
    data = marshal.dumps(message, 4)
    return _LENGTH.pack(len(data)) + data


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
