"""A classic BPF program that keeps only the lab's own segments, and attaching it to a socket.

The kernel runs it on every frame of the interface before anything is copied to the capture
socket, so unrelated traffic (as root on the host's loopback, everything else on it) never leaves
the kernel, and a kept frame is cut to `snaplen` bytes there: headers are all the lab reads.

It keeps a frame when all hold: it was received (on loopback each packet passes twice, once going
out and once coming in; only the incoming copy is kept, so each segment is seen once), it is IPv4
or IPv6 carrying TCP or UDP (not a later IPv4 fragment, which has no ports), and its source or
destination port is one of the lab's. The two families meet in one port check: X holds the IP
header's length (IPv4's IHL, IPv6's fixed 40), so the ports are at [X+14] and [X+16] in both.
Conditional jumps reach at most 255 instructions ahead, so each port's test is followed by its own
`ret`: every jump stays short, whatever the number of ports.
"""

from __future__ import annotations

import ctypes
import socket
import struct
from typing import Iterable, NamedTuple

SO_ATTACH_FILTER = 26
SKF_AD_PKTTYPE = 0xFFFFF000 + 4  # SKF_AD_OFF + SKF_AD_PKTTYPE: the ancillary "packet type" load
PACKET_OUTGOING = 4
MAX_PORTS = 1000  # 4 instructions a port; the kernel takes at most 4096 (BPF_MAXINSNS)

# opcodes (linux/bpf_common.h)
LD_W_ABS, LD_H_ABS, LD_B_ABS, LD_H_IND = 0x20, 0x28, 0x30, 0x48
LDX_B_MSH, LDX_IMM = 0xB1, 0x01
JA, JEQ, JSET = 0x05, 0x15, 0x45
RET = 0x06


class Insn(NamedTuple):
    code: int
    jt: int
    jf: int
    k: int


Label = str | int  # a jump target: a label name, or 0 for "the next instruction"
Step = tuple[int | str, Label, Label, int | str]  # an opcode, or a label name marking where it stands


def program(ports: Iterable[int], snaplen: int) -> list[Insn]:
    """The filter for these ports (empty: keep nothing; more than MAX_PORTS: every TCP/UDP frame,
    which the capture then sorts itself)."""
    wanted = sorted(set(ports))
    if not wanted:
        return [Insn(RET, 0, 0, 0)]
    code: list[Step] = [
        (LD_W_ABS, 0, 0, SKF_AD_PKTTYPE),
        (JEQ, "reject", 0, PACKET_OUTGOING),
        (LD_H_ABS, 0, 0, 12),
        (JEQ, "v4", 0, 0x0800),
        (JEQ, "v6", "reject", 0x86DD),
        ("v4", 0, 0, 0),
        (LD_B_ABS, 0, 0, 23),
        (JEQ, "v4ok", 0, 6),
        (JEQ, "v4ok", "reject", 17),
        ("v4ok", 0, 0, 0),
        (LD_H_ABS, 0, 0, 20),
        (JSET, "reject", 0, 0x1FFF),
        (LDX_B_MSH, 0, 0, 14),
        (JA, 0, 0, "ports"),
        ("v6", 0, 0, 0),
        (LD_B_ABS, 0, 0, 20),
        (JEQ, "v6ok", 0, 6),
        (JEQ, "v6ok", "reject", 17),
        ("v6ok", 0, 0, 0),
        (LDX_IMM, 0, 0, 40),
        (JA, 0, 0, "ports"),
        ("reject", 0, 0, 0),  # here, not at the end: the jumps to it must stay short
        (RET, 0, 0, 0),
        ("ports", 0, 0, 0),
    ]
    if len(wanted) > MAX_PORTS:
        code.append((RET, 0, 0, snaplen))
    else:
        for offset in (14, 16):  # source port, then destination port
            code.append((LD_H_IND, 0, 0, offset))
            for port in wanted:
                code += [(JEQ, 0, 1, port), (RET, 0, 0, snaplen)]
    code.append((RET, 0, 0, 0))  # no port of the lab's
    return _assemble(code)


def _assemble(code: list[Step]) -> list[Insn]:
    """Turn labels into relative jump offsets (conditional ones must fit in a byte)."""
    where: dict[str, int] = {}
    body: list[tuple[int, Label, Label, int | str]] = []
    for op, jt, jf, k in code:
        if isinstance(op, str):
            where[op] = len(body)
        else:
            body.append((op, jt, jf, k))
    out = []
    for i, (op, jt, jf, k) in enumerate(body):
        jt_, jf_, k_ = (where[x] - (i + 1) if isinstance(x, str) else int(x) for x in (jt, jf, k))
        assert 0 <= jt_ <= 255 and 0 <= jf_ <= 255, (i, op, jt_, jf_)
        out.append(Insn(op, jt_, jf_, k_))
    return out


def attach(sock: socket.socket, insns: list[Insn]) -> None:
    """SO_ATTACH_FILTER: replaces the socket's filter at once (frames already queued stay)."""
    raw = b"".join(struct.pack("HBBI", *insn) for insn in insns)
    buf = ctypes.create_string_buffer(raw, len(raw))
    fprog = struct.pack("HL", len(insns), ctypes.addressof(buf))  # struct sock_fprog (native alignment)
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
