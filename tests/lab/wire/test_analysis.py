"""TCP analysis on the real frames, against the relative numbers and windows tshark showed for them,
and on segments built from them for what a lesson must show: retransmission, dup ACK, zero window."""

from __future__ import annotations

from lab.wire.analysis import TcpFlows
from lab.wire.frames import FrameParser, Packet

from .frames_data import FRAMES

PACKETS: list[Packet] = [p for _, _, p in FRAMES]
TCP_V4 = PACKETS[:10]  # handshake, 5 bytes each way, close


def marks(packets: list[Packet], flows: TcpFlows | None = None) -> list[tuple[int, int, int, str | None]]:
    flows = flows or TcpFlows()
    return [(m.seq, m.ack, m.win, m.analysis) for m in map(flows.mark, packets)]


def test_relative_numbers_and_scaled_windows_match_tshark() -> None:
    # (tshark: Seq, Ack, Win of each frame; the window is scaled once both SYNs offered WS=10)
    assert marks(TCP_V4) == [
        (0, 0, 65495, None), (0, 1, 65483, None), (1, 1, 65536, None), (1, 1, 65536, None), (1, 6, 65536, None),
        (1, 6, 65536, None), (6, 6, 65536, None), (6, 6, 65536, None), (6, 7, 65536, None), (7, 7, 65536, None)]


def test_a_connection_seen_mid_stream_counts_from_one_as_wireshark_does() -> None:
    assert marks(PACKETS[10:12]) == [(0, 0, 65495, None), (1, 1, 0, None)]  # SYN, then RST,ACK (win 0: no mark)
    assert marks(TCP_V4[3:5]) == [(1, 1, 64, None), (1, 6, 64, None)]  # no SYN seen: no scaling known


def test_a_segment_sent_again_is_a_retransmission() -> None:
    data = TCP_V4[3]
    got = marks(TCP_V4[:4] + [data])
    assert got[-1] == (1, 1, 65536, "retransmission")
    assert marks([TCP_V4[0], TCP_V4[0]])[-1][3] == "retransmission"  # a SYN sent again


def test_the_same_ack_again_is_a_dup_ack_and_a_new_one_is_not() -> None:
    ack = TCP_V4[4]
    assert [m[3] for m in marks(TCP_V4[:5] + [ack, ack])][-2:] == ["dup-ack", "dup-ack"]
    window_update = ack._replace(window=ack.window + 1)
    assert marks(TCP_V4[:5] + [window_update])[-1][3] is None


def test_a_full_receiver_is_a_zero_window() -> None:
    full = TCP_V4[4]._replace(window=0)
    assert marks(TCP_V4[:4] + [full])[-1] == (1, 6, 0, "zero-window")


def test_a_keep_alive_probe_is_marked_not_retransmitted() -> None:
    probe = TCP_V4[6]._replace(seq=TCP_V4[6].seq - 1)  # one below what the client has sent, no data
    assert marks(TCP_V4[:7] + [probe])[-1][3] == "keep-alive"


def test_a_new_syn_on_an_old_four_tuple_starts_afresh() -> None:
    flows = TcpFlows()
    marks(TCP_V4, flows)
    again = TCP_V4[0]._replace(seq=TCP_V4[0].seq + 1_000_000)
    assert marks([again], flows) == [(0, 0, 65495, None)]


def test_the_flow_table_is_bounded_and_counts_what_left() -> None:
    flows = TcpFlows(max_flows=10)
    syn = TCP_V4[0]
    for port in range(1000, 1100):
        flows.mark(syn._replace(src=("127.0.0.1", port)))
    assert len(flows) == 10 and flows.evicted == 90


def test_sequence_numbers_wrap_around() -> None:
    syn = TCP_V4[0]._replace(seq=0xFFFFFFFE)
    data = TCP_V4[3]._replace(seq=0xFFFFFFFF, ack=TCP_V4[3].ack)
    later = data._replace(seq=(0xFFFFFFFF + 5) & 0xFFFFFFFF)
    got = marks([syn, TCP_V4[1]._replace(ack=0xFFFFFFFF), data, later])
    assert [g[0] for g in got] == [0, 0, 1, 6] and got[-1][3] is None


def test_parsed_frames_flow_straight_into_the_analysis() -> None:
    parser, flows = FrameParser(), TcpFlows()
    got = [flows.mark(p) for h, n, _ in FRAMES if (p := parser.parse(bytes.fromhex(h), n)) and p.proto == "tcp"]
    assert [m.analysis for m in got] == [None] * len(got)  # a clean capture: nothing to mark
