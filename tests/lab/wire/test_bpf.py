"""The BPF program, run by a small classic-BPF interpreter over the real frames (the kernel runs
it in tests/lab/wire/test_capture.py): the lab's ports are kept and cut to the snaplen, everything
else and every outgoing copy is dropped, whatever the number of ports."""

from __future__ import annotations

import struct

import pytest

from lab.wire import bpf
from lab.wire.bpf import Insn, program

from .frames_data import FRAMES

HOST, OUTGOING = 0, 4


def run(insns: list[Insn], frame: bytes, pkttype: int = HOST) -> int:
    """What the kernel would keep of `frame` (0: drop it): only the opcodes the builder emits."""
    a = x = pc = 0
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        if code == bpf.RET:
            return min(k, len(frame))
        if code == bpf.JA:
            pc += k
        elif code in (bpf.JEQ, bpf.JSET):
            pc += jt if (a == k if code == bpf.JEQ else a & k) else jf
        elif code in (bpf.LDX_B_MSH, bpf.LDX_IMM):
            x = (frame[k] & 0x0F) * 4 if code == bpf.LDX_B_MSH else k
        else:
            loaded = load(code, k, x, frame, pkttype)
            if loaded is None:
                return 0  # the kernel drops a frame a load runs past
            a = loaded


def load(code: int, k: int, x: int, frame: bytes, pkttype: int) -> int | None:
    if code == bpf.LD_W_ABS:
        return pkttype if k == bpf.SKF_AD_PKTTYPE else int(struct.unpack_from("!I", frame, k)[0])
    if code == bpf.LD_H_ABS:
        return int(struct.unpack_from("!H", frame, k)[0])
    if code == bpf.LD_B_ABS:
        return frame[k]
    if code == bpf.LD_H_IND:
        return None if x + k + 2 > len(frame) else int(struct.unpack_from("!H", frame, x + k)[0])
    raise AssertionError(f"opcode {code:#x} the builder does not emit")


FRAMES_B = [(bytes.fromhex(h), p) for h, _, p in FRAMES]


def test_frames_of_the_lab_ports_are_kept_and_cut_to_the_snaplen() -> None:
    insns = program({34627}, 60)  # the IPv4 server's port
    kept = [run(insns, f) for f, _ in FRAMES_B]
    assert kept == [60 if 34627 in (p.src[1], p.dst[1]) else 0 for _, p in FRAMES_B]
    assert kept.count(60) == 10


def test_ipv6_and_udp_ports_are_matched_the_same_way() -> None:
    insns = program({42253, 40085}, 256)
    kept = [run(insns, f) > 0 for f, _ in FRAMES_B]
    assert kept == [bool({42253, 40085} & {p.src[1], p.dst[1]}) for _, p in FRAMES_B] and sum(kept) == 5


def test_the_outgoing_copy_of_a_loopback_frame_is_dropped() -> None:
    insns = program({34627}, 256)
    assert run(insns, FRAMES_B[0][0], HOST) > 0 and run(insns, FRAMES_B[0][0], OUTGOING) == 0


def test_later_ipv4_fragments_are_dropped() -> None:
    frame = bytearray(FRAMES_B[0][0])
    frame[21] = 0x10  # fragment offset 16 * 8 bytes: no TCP header here
    assert run(program({34627}, 256), bytes(frame)) == 0


def test_no_port_keeps_nothing() -> None:
    assert program([], 256) == [Insn(bpf.RET, 0, 0, 0)]


@pytest.mark.parametrize("count", [1, 255, 256, 999])  # (+1: the port of frame 0)
def test_every_jump_fits_in_a_byte_and_the_kernel_limit_holds(count: int) -> None:
    ports = set(range(20000, 20000 + count)) | {34627}
    insns = program(ports, 256)
    assert len(insns) <= 4096 and all(i.jt <= 255 and i.jf <= 255 for i in insns)
    assert run(insns, FRAMES_B[0][0]) > 0 and run(insns, FRAMES_B[12][0]) == 0  # UDP 34058/40085


def test_past_the_port_limit_every_tcp_and_udp_frame_is_kept_for_the_capture_to_sort() -> None:
    insns = program(range(1, bpf.MAX_PORTS + 2), 256)
    assert len(insns) < 40 and all(run(insns, f) > 0 for f, _ in FRAMES_B)
