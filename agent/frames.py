"""The pipe from a process that records (an agent's lab, a traced program) to its courier: frames of
`marshal`ed records, each after its length in 4 bytes, big-endian."""

from __future__ import annotations

from typing import BinaryIO, Iterator

MAX_FRAME = 64 << 20


def frames(stream: BinaryIO) -> Iterator[bytes]:
    """Each whole frame, until the pipe ends or a length says what no writer sends (nothing after it can be
    trusted to start a frame)."""
    while True:
        head = stream.read(4)
        size = int.from_bytes(head, "big") if len(head) == 4 else 0
        if not 0 < size <= MAX_FRAME:
            return
        frame = stream.read(size)
        if len(frame) < size:
            return
        yield frame
