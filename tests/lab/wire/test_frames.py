"""The frame parser on real captured frames (tests/lab/wire/frames_data.py), read by tshark too:
whole, cut at every byte, corrupted, and random. A frame it cannot read is counted, never fatal."""

from __future__ import annotations

import random

import pytest

from lab.wire.frames import FrameParser, Packet, flag_names

from .frames_data import FRAMES

CASES = [(bytes.fromhex(h), n, p) for h, n, p in FRAMES]


@pytest.mark.parametrize(("frame", "wire_len", "expected"), CASES, ids=[f"frame{i}" for i in range(len(CASES))])
def test_each_real_frame_reads_as_tshark_read_it(frame: bytes, wire_len: int, expected: Packet) -> None:
    parser = FrameParser()
    assert parser.parse(frame, wire_len) == expected
    assert parser.parsed == 1 and not parser.skipped


def test_flags_are_worded_as_wireshark_lists_them() -> None:
    words = [flag_names(p.flags) for _, _, p in FRAMES if p.proto == "tcp"]
    assert words[:12] == ["SYN", "SYN,ACK", "ACK", "PSH,ACK", "ACK", "PSH,ACK", "ACK", "FIN,ACK", "FIN,ACK", "ACK",
                          "SYN", "RST,ACK"]
    assert flag_names(0) == "none" and flag_names(0x19) == "FIN,PSH,ACK"


def test_a_frame_cut_anywhere_is_counted_and_skipped_or_read_from_its_whole_headers() -> None:
    parser = FrameParser()
    for frame, wire_len, expected in CASES:
        for cut in range(len(frame)):
            got = parser.parse(frame[:cut], wire_len)
            assert got is None or got == expected, (cut, got)  # a snaplen past the headers loses nothing
    assert parser.skipped["truncated"] > 0 and set(parser.skipped) == {"truncated"}


def test_a_frame_cut_and_claiming_its_cut_length_is_malformed_not_misread() -> None:
    parser = FrameParser()
    frame, _, _ = CASES[3]  # 5 bytes of data: the IP header says so
    assert parser.parse(frame[:-2]) is None and parser.skipped == {"malformed": 1}


def corrupt(frame: bytes, at: int, value: int) -> bytes:
    return frame[:at] + bytes([value]) + frame[at + 1:]


@pytest.mark.parametrize(("at", "value", "why"), [
    (13, 0x06, "not-ip"),  # ethertype 0x0806 (ARP)
    (14, 0x65, "malformed"),  # IPv4 version 6 in an IPv4 header
    (14, 0x44, "malformed"),  # IHL 16 bytes
    (20, 0x20, "fragment"),  # more fragments
    (23, 1, "not-tcp-udp"),  # ICMP
    (46, 0x40, "malformed"),  # TCP data offset 16 bytes
    (46, 0xF0, "malformed"),  # TCP data offset 60 bytes, past the segment
])
def test_corrupt_headers_are_counted_by_reason(at: int, value: int, why: str) -> None:
    parser = FrameParser()
    assert parser.parse(corrupt(CASES[0][0], at, value), CASES[0][1]) is None
    assert parser.skipped == {why: 1}


def test_a_bad_window_scale_option_gives_no_scale_rather_than_a_wrong_one() -> None:
    frame, wire_len, expected = CASES[0]  # options: MSS, SACK_PERM, TS, NOP, WS=10 at its end
    broken = frame[:-2] + b"\x00\x00"  # WS's length byte says 0
    assert FrameParser().parse(broken, wire_len) == expected._replace(wscale=None)


def test_random_bytes_never_raise() -> None:
    rng = random.Random(14)
    parser = FrameParser()
    for _ in range(5000):
        base = bytearray(rng.choice(CASES)[0])
        for _ in range(rng.randrange(1, 6)):
            base[rng.randrange(len(base))] = rng.randrange(256)
        parser.parse(bytes(base[:rng.randrange(len(base) + 1)]), rng.randrange(2000))
    assert parser.parsed + sum(parser.skipped.values()) == 5000
