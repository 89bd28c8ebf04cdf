"""Frames in, packets out: a small sans-I/O parser of the headers the lab's wire needs.

Own parser, not dpkt: the lab only ever reads Ethernet (the loopback's all-zero header), IPv4,
IPv6 and the TCP and UDP headers, which are a few `struct.unpack_from` calls at fixed offsets;
dpkt would build an object per layer for every frame (slower on the capture thread, which must
keep up with a 1 GiB download), and bring a dependency whose error handling (an exception per
layer) we would wrap anyway. Like h11, this holds no socket: the capture thread hands it one
frame at a time, and tests feed it byte tables of real captured frames, whole and cut.

A frame is one datagram of an AF_PACKET socket, never a piece of a stream, so the shape is one
call per frame: `parse(frame, wire_len)` returns a `Packet`, or None for a frame it skips; a
skipped frame is counted by reason, never fatal. `wire_len` is the frame's length on the wire:
the kernel may hand over only its first bytes (the capture's snaplen), which is enough.
"""

from __future__ import annotations

import struct
from socket import AF_INET, AF_INET6, inet_ntop
from collections import Counter
from typing import NamedTuple

ETH_HEADER = 14
ETH_P_IP, ETH_P_IPV6 = 0x0800, 0x86DD
IPPROTO_TCP, IPPROTO_UDP = 6, 17

# TCP flag bits, in the order Wireshark lists them ("SYN, ACK", "FIN, PSH, ACK", "RST, ACK")
FLAG_NAMES: tuple[tuple[int, str], ...] = (
    (0x01, "FIN"), (0x02, "SYN"), (0x04, "RST"), (0x08, "PSH"), (0x10, "ACK"), (0x20, "URG"),
    (0x40, "ECE"), (0x80, "CWR"))
SYN, FIN, RST, ACK = 0x02, 0x01, 0x04, 0x10

_ETH = struct.Struct("!12xH")
_IPV4 = struct.Struct("!BxHxxHxB2x4s4s")  # version+ihl, total length, flags+fragment, protocol, src, dst
_IPV6 = struct.Struct("!4xHBx16s16s")  # payload length, next header, src, dst
_TCP = struct.Struct("!HHIIBBH")  # ports, seq, ack, data offset, flags, window
_UDP = struct.Struct("!HHH")  # ports, length


class Packet(NamedTuple):
    """One TCP segment or UDP datagram, as the headers say (sequence numbers absolute here)."""

    proto: str  # "tcp" | "udp"
    src: tuple[str, int]
    dst: tuple[str, int]
    length: int  # payload bytes (the TCP segment's data, the UDP datagram's)
    flags: int = 0  # TCP flag bits
    seq: int = 0
    ack: int = 0
    window: int = 0  # as sent, before any window scaling
    wscale: int | None = None  # the window scale option of a SYN, if it has one


def flag_names(flags: int) -> str:
    """"SYN,ACK", "PSH,ACK", "FIN,ACK", "RST": the way Wireshark's Info column lists them."""
    return ",".join(name for bit, name in FLAG_NAMES if flags & bit) or "none"


def _window_scale(options: bytes) -> int | None:
    i = 0
    while i < len(options):
        kind = options[i]
        if kind == 0:  # end of options
            return None
        if kind == 1:  # no-op padding
            i += 1
            continue
        if i + 1 >= len(options) or options[i + 1] < 2:
            return None  # a malformed option list: no scale rather than a wrong one
        if kind == 3 and options[i + 1] == 3 and i + 2 < len(options):
            return min(options[i + 2], 14)  # RFC 7323: larger shifts are taken as 14
        i += options[i + 1]
    return None


# The fast path: an IPv4 header without options and a TCP header, at their fixed offsets, in one
# unpack (nearly every frame of a download); anything else goes the whole way below.
_V4_TCP = struct.Struct("!12xHBxHxxHxB2x4s4sHHIIBBH")
_V4_TCP_END = ETH_HEADER + 20 + 20
MAX_NAMES = 1024  # addresses kept worded (a flood of sources costs a bounded dict)


class FrameParser:
    """Parses frames one at a time; `skipped` counts what it could not read, by reason."""

    def __init__(self) -> None:
        self.parsed = 0
        self.skipped: Counter[str] = Counter()
        self._names: dict[bytes, str] = {}  # an IPv4 address's 4 bytes -> "127.0.0.1"

    def _name(self, raw: bytes) -> str:
        name = self._names.get(raw)
        if name is None:
            if len(self._names) >= MAX_NAMES:
                self._names.clear()
            name = self._names[raw] = inet_ntop(AF_INET, raw)
        return name

    def parse(self, frame: bytes | memoryview, wire_len: int | None = None) -> Packet | None:
        frame = bytes(frame)
        wire_len = len(frame) if wire_len is None else wire_len
        if len(frame) >= _V4_TCP_END:
            (ethertype, vihl, total, frag, proto, src, dst, sport, dport, seq, ack, offset, flags,
             window) = _V4_TCP.unpack_from(frame)
            header = (offset >> 4) * 4
            if (ethertype == ETH_P_IP and vihl == 0x45 and proto == IPPROTO_TCP and not frag & 0x3FFF
                    and 20 <= total and wire_len >= ETH_HEADER + total and 20 <= header <= total - 20
                    and not (flags & SYN and header > 20)):  # (a SYN's options are read the whole way)
                self.parsed += 1
                return Packet("tcp", (self._name(src), sport), (self._name(dst), dport), total - 20 - header,
                              flags, seq, ack, window)
        packet, why = _parse(frame, wire_len)
        if packet is None:
            self.skipped[why] += 1
        else:
            self.parsed += 1
        return packet


def _parse(frame: bytes, wire_len: int) -> tuple[Packet | None, str]:
    """(packet, "") or (None, reason). `frame` may be cut short of `wire_len` (a snaplen), but the
    headers must be whole: a frame cut inside them is "truncated"."""
    if len(frame) < ETH_HEADER:
        return None, "truncated"
    (ethertype,) = _ETH.unpack_from(frame)
    if ethertype == ETH_P_IP:
        ip = _ipv4(frame, wire_len)
    elif ethertype == ETH_P_IPV6:
        ip = _ipv6(frame, wire_len)
    else:
        return None, "not-ip"
    if isinstance(ip, str):
        return None, ip
    return _transport(frame, *ip)


IpHeader = tuple[int, str, str, int, int]  # protocol, source, destination, where its payload starts, payload bytes


def _ipv4(frame: bytes, wire_len: int) -> IpHeader | str:
    at = ETH_HEADER
    if len(frame) < at + 20:
        return "truncated"
    vihl, total, frag, proto, src, dst = _IPV4.unpack_from(frame, at)
    ihl = (vihl & 0x0F) * 4
    if vihl >> 4 != 4 or ihl < 20 or total < ihl:
        return "malformed"
    if frag & 0x3FFF:  # a fragment (or more to come): its ports are not all here
        return "fragment"
    if wire_len < at + total:
        return "malformed"  # the IP header claims more bytes than the frame held
    return proto, inet_ntop(AF_INET, src), inet_ntop(AF_INET, dst), at + ihl, total - ihl


def _ipv6(frame: bytes, wire_len: int) -> IpHeader | str:
    at = ETH_HEADER
    if len(frame) < at + 40:
        return "truncated"
    payload, proto, src, dst = _IPV6.unpack_from(frame, at)
    if frame[at] >> 4 != 6 or wire_len < at + 40 + payload:
        return "malformed"
    # (extension headers: the lab's own sockets send none; such a frame is "not-tcp-udp")
    return proto, inet_ntop(AF_INET6, src), inet_ntop(AF_INET6, dst), at + 40, payload


def _transport(frame: bytes, proto: int, src: str, dst: str, at: int, payload: int) -> tuple[Packet | None, str]:
    if proto == IPPROTO_TCP:
        if len(frame) < at + 20:
            return None, "truncated"
        sport, dport, seq, ack, offset, flags, window = _TCP.unpack_from(frame, at)
        header = (offset >> 4) * 4
        if header < 20 or header > payload:
            return None, "malformed"
        wscale = None
        if flags & SYN and header > 20:
            if len(frame) < at + header:
                return None, "truncated"
            wscale = _window_scale(frame[at + 20:at + header])
        return Packet("tcp", (src, sport), (dst, dport), payload - header, flags, seq, ack, window, wscale), ""
    if proto == IPPROTO_UDP:
        if len(frame) < at + 8:
            return None, "truncated"
        sport, dport, length = _UDP.unpack_from(frame, at)
        if length < 8 or length > payload:
            return None, "malformed"
        return Packet("udp", (src, sport), (dst, dport), length - 8), ""
    return None, "not-tcp-udp"
