"""Per-connection TCP state, as Wireshark keeps it: relative numbers and what a segment means.

Pure: packets in (in capture order), `Marked` out. Sequence numbers count from each side's first
(the SYN's is 0, so the first data byte is 1), acks from the other side's; a side first seen
mid-stream counts as if its SYN had come just before (the first seq seen is 1), as Wireshark does. The marks follow Wireshark's TCP
analysis, simplified to the ones a lesson needs:

- "retransmission": a segment that carries data (or SYN/FIN) the sender already sent;
- "dup-ack": a pure ACK repeating the previous ack and window of its side;
- "zero-window": the receiver says its buffer is full (window 0);
- "keep-alive": one byte (or none) just below what was sent, to probe a silent peer.

The table is bounded (least recently seen flows leave first): a flood of new 4-tuples costs a
fixed amount of memory; a flow that returns after eviction is simply seen mid-stream again.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

from .frames import ACK, FIN, RST, SYN, Packet

MASK = 0xFFFFFFFF
MAX_FLOWS = 4096

Address = tuple[str, int]


class Side:
    """What one direction of a connection has sent so far (absolute numbers)."""

    __slots__ = ("isn", "next_rel", "last_ack", "last_win", "wscale", "syn")

    def __init__(self, isn: int) -> None:
        self.isn = isn
        self.next_rel = 0  # relative seq after the highest byte (SYN and FIN count one) sent so far
        self.last_ack: int | None = None
        self.last_win: int | None = None
        self.wscale: int | None = None
        self.syn = False

    def rel(self, seq: int) -> int:
        return (seq - self.isn) & MASK


class Marked(NamedTuple):
    packet: Packet
    seq: int  # relative
    ack: int  # relative (0 when the ACK flag is off)
    win: int  # in bytes, scaled when both SYNs agreed on window scaling
    analysis: str | None


class TcpFlows:
    def __init__(self, max_flows: int = MAX_FLOWS) -> None:
        self.max_flows = max_flows
        self._flows: OrderedDict[tuple[Address, Address], dict[Address, Side]] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._flows)

    def mark(self, p: Packet) -> Marked:
        # (the capture thread's hot path, once per frame: fields read once into locals)
        src, dst, flags, length = p.src, p.dst, p.flags, p.length
        key = (src, dst) if src <= dst else (dst, src)
        flows = self._flows
        sides = flows.get(key)
        if sides is None or (flags & (SYN | ACK) == SYN and _finished(sides, src, p.seq)):
            sides = flows[key] = {}  # a new connection (or a new one on the same 4-tuple)
            while len(flows) > self.max_flows:
                flows.popitem(last=False)
                self.evicted += 1
        else:
            flows.move_to_end(key)
        me = sides.get(src)
        if me is None:  # a side first seen mid-stream: its first byte here is byte 1, as after a SYN
            me = sides[src] = Side(p.seq if flags & SYN else (p.seq - 1) & MASK)
        peer = sides.get(dst)
        acks = flags & ACK
        if acks and peer is None:
            peer = sides[dst] = Side((p.ack - 1) & MASK)  # the other side's sends not seen yet: this ack is 1
        seq = (p.seq - me.isn) & MASK
        ack = (p.ack - peer.isn) & MASK if acks and peer is not None else 0
        win = p.window
        if flags & SYN:
            me.syn, me.wscale = True, p.wscale
        elif me.syn and peer is not None and peer.syn and me.wscale is not None and peer.wscale is not None:
            win <<= me.wscale  # scaled when both SYNs agreed on window scaling
        analysis = self._analyse(p, me, seq, ack, win)
        end = (seq + length + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)) & MASK
        if _after(end, me.next_rel) or (me.next_rel == 0 and end):
            me.next_rel = end
        if acks and not flags & RST:
            me.last_ack, me.last_win = ack, win
        return Marked(p, seq, ack, win, analysis)

    @staticmethod
    def _analyse(p: Packet, me: Side, seq: int, ack: int, win: int) -> str | None:
        if p.flags & RST:
            return None
        carries = p.length + (1 if p.flags & (SYN | FIN) else 0)
        if p.length <= 1 and not p.flags & (SYN | FIN) and me.next_rel and seq == (me.next_rel - 1) & MASK:
            return "keep-alive"
        if carries and me.next_rel and not _after((seq + carries) & MASK, me.next_rel):
            return "retransmission"
        if win == 0 and not p.flags & (SYN | FIN):
            return "zero-window"
        if (not carries and p.flags & ACK and me.last_ack == ack and me.last_win == win):
            return "dup-ack"
        return None


def _after(a: int, b: int) -> bool:
    """a comes after b in sequence space (RFC 1982 serial arithmetic, 32 bits)."""
    return a != b and ((a - b) & MASK) < 0x80000000


def _finished(sides: dict[Address, Side], src: Address, seq: int) -> bool:
    """A SYN on a 4-tuple seen before starts a new connection unless it repeats the first one's SYN
    (a retransmitted SYN): then it is analysed as part of the same flow."""
    me = sides.get(src)
    return me is None or not me.syn or me.next_rel > 1 or seq != me.isn
