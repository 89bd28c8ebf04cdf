"""The kernel's receive ring for a packet socket (PACKET_RX_RING, TPACKET_V3), read without a copy
per frame through the socket.

Why not recv() per frame: a frame queued on a socket keeps its whole buffer (a loopback segment is
up to 64 KiB) however little the filter kept, so a socket buffer of a few MB holds a few hundred
frames and a busy download overflows it; and each recv() is a system call and a turn of the GIL.
In the ring the kernel copies only the kept bytes (the snaplen) with their real length and time, into
blocks it hands over whole: 8 MiB hold about 25,000 frames, and one wake-up reads a block of them.
A block is handed over when full or after RETIRE_MS, so a quiet connection's packets still show at once.
"""

from __future__ import annotations

import mmap
import select
import socket
import struct
from typing import Iterator

SOL_PACKET, PACKET_VERSION, PACKET_RX_RING, TPACKET_V3 = 263, 10, 5, 2
TP_STATUS_KERNEL, TP_STATUS_USER = 0, 1
BLOCK_SIZE = 1 << 20
BLOCKS = 8
FRAME_SIZE = 2048  # (V3 packs frames of any size into blocks; the kernel only checks the arithmetic)
RETIRE_MS = 10

_BLOCK = struct.Struct("=IIIIII")  # version, offset_to_priv, block_status, num_pkts, offset_to_first_pkt, blk_len
_FRAME = struct.Struct("=IIIIIIHH")  # next_offset, sec, nsec, snaplen, len, status, mac, net

Frame = tuple[bytes, int, float]  # the kept bytes, the length on the wire, the kernel's time


class RxRing:
    """Set up on an unbound packet socket (before bind, so no frame is missed); closed with it."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING, struct.pack(
            "=IIIIIII", BLOCK_SIZE, BLOCKS, FRAME_SIZE, BLOCK_SIZE * BLOCKS // FRAME_SIZE, RETIRE_MS, 0, 0))
        self._map = mmap.mmap(sock.fileno(), BLOCK_SIZE * BLOCKS, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self._poll = select.poll()
        self._poll.register(sock.fileno(), select.POLLIN | select.POLLERR)
        self._next = 0  # the kernel fills blocks in order: the next one to read

    def frames(self, timeout: float) -> Iterator[Frame]:
        """Every frame of the blocks ready now (waiting up to `timeout` seconds for the first);
        each block goes back to the kernel once its frames were taken."""
        if not self._ready():
            self._poll.poll(int(timeout * 1000))
        while self._ready():
            start = self._next * BLOCK_SIZE
            _, _, _, count, first, _ = _BLOCK.unpack_from(self._map, start)
            at = start + first
            for _ in range(count):
                next_offset, sec, nsec, snaplen, length, _, mac, _ = _FRAME.unpack_from(self._map, at)
                yield self._map[at + mac:at + mac + snaplen], length, sec + nsec / 1e9
                at += next_offset
            struct.pack_into("=I", self._map, start + 8, TP_STATUS_KERNEL)
            self._next = (self._next + 1) % BLOCKS

    def _ready(self) -> bool:
        (status,) = struct.unpack_from("=I", self._map, self._next * BLOCK_SIZE + 8)
        return bool(status & TP_STATUS_USER)

    def close(self) -> None:
        self._map.close()
