"""The pcap writer and the bounded ring of frames behind GET /api/capture.pcap."""

from __future__ import annotations

import struct

from lab.wire.pcap import Frame, FrameRing, pcap_bytes

from .frames_data import FRAMES


def test_a_pcap_is_the_nanosecond_header_then_one_record_per_frame_as_cut() -> None:
    frames = [Frame(1_700_000_000.25 + i, bytes.fromhex(h)[:60], n, frozenset({"e1"})) for i, (h, n, _) in enumerate(FRAMES[:3])]
    data = pcap_bytes(frames, 60)
    magic, major, minor, _, _, snaplen, linktype = struct.unpack_from("<IHHiIII", data)
    assert (magic, major, minor, snaplen, linktype) == (0xA1B23C4D, 2, 4, 60, 1)
    at, seen = 24, []
    while at < len(data):
        sec, nsec, incl, orig = struct.unpack_from("<IIII", data, at)
        seen.append((sec, nsec, incl, orig, data[at + 16:at + 16 + incl]))
        at += 16 + incl
    assert [(s, n, i, o) for s, n, i, o, _ in seen] == [
        (1_700_000_000 + k, 250_000_000, 60, FRAMES[k][1]) for k in range(3)]
    assert [b for *_, b in seen] == [f.data for f in frames]


def test_the_ring_keeps_the_newest_counts_the_rest_and_filters_by_endpoint() -> None:
    ring = FrameRing(3)
    for i in range(5):
        ring.add(Frame(float(i), b"x", 1, frozenset({"e1", "e2"} if i % 2 else {"e1"})))
    assert len(ring) == 3 and ring.dropped == 2
    assert [f.ts for f in ring.frames()] == [2.0, 3.0, 4.0]
    assert [f.ts for f in ring.frames("e2")] == [3.0] and ring.frames("e9") == []
