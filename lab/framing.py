"""Sans-I/O framers: how a TCP byte stream is cut back into messages.

A recv() may return part of a send, or several sends at once: TCP keeps bytes in order but not
the boundaries between them. That is why framing exists. Each framer is pure: `feed(data)`
returns the whole messages completed so far (`b""` means EOF), `encode(message)` returns the
bytes to send. No framer touches a socket.
"""

from __future__ import annotations

import struct


class FramingError(ValueError):
    """The stream broke the framing rules (a message too long, EOF inside a message)."""


class RawFramer:
    """No framing: every recv() is a message, exactly as the OS returned it."""

    name = "raw"

    def feed(self, data: bytes) -> list[bytes]:
        return [data] if data else []

    def encode(self, message: bytes) -> bytes:
        return message


class LineFramer:
    """Messages end with a delimiter (default newline); the delimiter is not part of the message."""

    name = "line"

    def __init__(self, delimiter: bytes = b"\n", max_length: int = 65536) -> None:
        if not delimiter:
            raise ValueError("the delimiter must not be empty")
        self.delimiter = delimiter
        self.max_length = max_length
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        if not data:
            if self._buffer:
                rest, self._buffer = bytes(self._buffer), bytearray()
                raise FramingError(f"the peer closed the connection in the middle of a line ({len(rest)} bytes without a delimiter)")
            return []
        self._buffer += data
        messages: list[bytes] = []
        start = 0
        while True:
            end = self._buffer.find(self.delimiter, start)
            if end < 0:
                break
            messages.append(bytes(self._buffer[start:end]))
            start = end + len(self.delimiter)
        del self._buffer[:start]
        if len(self._buffer) > self.max_length:
            self._buffer.clear()
            raise FramingError(f"a line longer than {self.max_length} bytes arrived without a delimiter")
        return messages

    def encode(self, message: bytes) -> bytes:
        return message + self.delimiter


class LengthFramer:
    """Each message is preceded by its length as a 4-byte big-endian unsigned integer."""

    name = "length"
    HEADER = struct.Struct("!I")

    def __init__(self, max_length: int = 16 * 1024 * 1024) -> None:
        self.max_length = max_length
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        if not data:
            if self._buffer:
                size = len(self._buffer)
                self._buffer.clear()
                raise FramingError(f"the peer closed the connection in the middle of a message ({size} bytes left over)")
            return []
        self._buffer += data
        messages: list[bytes] = []
        start = 0
        size = self.HEADER.size
        while len(self._buffer) - start >= size:
            (length,) = self.HEADER.unpack_from(self._buffer, start)
            if length > self.max_length:
                self._buffer.clear()
                raise FramingError(f"a message announced {length} bytes, more than the limit of {self.max_length}")
            if len(self._buffer) - start - size < length:
                break
            messages.append(bytes(self._buffer[start + size:start + size + length]))
            start += size + length
        del self._buffer[:start]
        return messages

    def encode(self, message: bytes) -> bytes:
        return self.HEADER.pack(len(message)) + message


Framer = RawFramer | LineFramer | LengthFramer


def make_framer(name: str, delimiter: bytes = b"\n") -> Framer:
    if name == "line":
        return LineFramer(delimiter)
    if name == "length":
        return LengthFramer()
    return RawFramer()
