"""The kernel's own view of a TCP connection: getsockopt(TCP_INFO) on Linux.

It makes the hidden machinery visible: the state machine, the measured round-trip time, the
congestion window, retransmissions (超时重传), and how many bytes the peer has acknowledged
(发送应答). Elsewhere, or on a closed socket, it is None.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

# struct tcp_info from linux/tcp.h, up to tcpi_segs_in: 8 u8, 24 u32, 4 u64, 2 u32.
_LAYOUT = struct.Struct("=8B24I4Q2I")
STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT",
          7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING"}


def read(sock: socket.socket) -> dict[str, Any] | None:
    option = getattr(socket, "TCP_INFO", None)
    if option is None:
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, option, _LAYOUT.size)
    except OSError:
        return None
    if len(raw) < _LAYOUT.size:
        return None
    v = _LAYOUT.unpack(raw)
    u8, u32, u64 = v[0:8], v[8:32], v[32:36]
    return {
        "state": STATES.get(u8[0], str(u8[0])),
        "rtt_us": u32[15],
        "rttvar_us": u32[16],
        "snd_cwnd": u32[18],
        "retransmits": u8[2],
        "total_retrans": u32[23],
        "bytes_acked": u64[2],
        "bytes_received": u64[3],
        "rto_us": u32[0],
        "snd_mss": u32[2],
        "unacked": u32[4],
        "lost": u32[6],
        "pmtu": u32[13],
        "rcv_space": u32[22],
        "segs_out": v[36],
        "segs_in": v[37],
    }


def summary(info: dict[str, Any]) -> str:
    return (f"TCP_INFO: {info['state']}, rtt {info['rtt_us']} µs (±{info['rttvar_us']}), cwnd {info['snd_cwnd']} segments, "
            f"{info['unacked']} unacked, retransmits {info['total_retrans']}, "
            f"{info['bytes_acked']} bytes acked, {info['bytes_received']} bytes received")
