"""The captured frames, kept in a bounded ring and written as a classic pcap file.

pcap, not pcapng: every version of Wireshark and tshark reads it, and it is 24 bytes of file
header plus 16 bytes per frame. Frames are kept as the kernel handed them (at most the capture's
snaplen) with their length on the wire, so the file says honestly that they were cut.
"""

from __future__ import annotations

import struct
from collections import deque
from typing import Iterable, NamedTuple

LINKTYPE_ETHERNET = 1
_FILE_HEADER = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")


class Frame(NamedTuple):
    ts: float
    data: bytes  # the first `snaplen` bytes
    wire_len: int
    endpoints: frozenset[str]  # the lab endpoints at either end


def pcap_bytes(frames: Iterable[Frame], snaplen: int) -> bytes:
    out = [_FILE_HEADER.pack(0xA1B23C4D, 2, 4, 0, 0, snaplen, LINKTYPE_ETHERNET)]  # nanosecond magic
    for frame in frames:
        seconds = int(frame.ts)
        out.append(_RECORD.pack(seconds, min(999_999_999, int((frame.ts - seconds) * 1e9)),
                                len(frame.data), frame.wire_len))
        out.append(frame.data)
    return b"".join(out)


class FrameRing:
    """The last `capacity` frames; older ones leave and are counted."""

    def __init__(self, capacity: int) -> None:
        self._frames: deque[Frame] = deque(maxlen=capacity)
        self.dropped = 0

    def add(self, frame: Frame) -> None:
        """From one thread only (the capture's): a deque's append is atomic, and frames() copies
        the deque in one step, so no lock is taken per frame."""
        if len(self._frames) == self._frames.maxlen:
            self.dropped += 1
        self._frames.append(frame)

    def __len__(self) -> int:
        return len(self._frames)

    def frames(self, endpoint: str | None = None) -> list[Frame]:
        """Oldest first; only those of one endpoint when it is named."""
        frames = list(self._frames)  # (atomic under the GIL, like the append)
        return frames if endpoint is None else [f for f in frames if endpoint in f.endpoints]
