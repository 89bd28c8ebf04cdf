"""Sans-I/O framers: how a TCP byte stream is cut back into messages.

A recv() may return part of a send, or several sends at once: TCP keeps bytes in order but not
the boundaries between them. That is why framing exists. Each framer speaks the lab's one
sans-I/O shape (lab/protocols/sansio.py): `receive_data(data)` (`b""` means EOF), then `next_event()` gives
each whole message (bytes) until NEED_DATA, or END after a clean EOF; `encode(message)` returns
the bytes to send. No framer touches a socket.
"""

from __future__ import annotations

import struct

from .sansio import END, NEED_DATA, Parser, ProtocolError, Sentinel

FramingError = ProtocolError  # the name callers knew; one error type for every parser


class RawFramer(Parser[bytes]):
    """No framing: every recv() is a message, exactly as the OS returned it."""

    name = "raw"

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []

    def _receive(self, data: bytes | bytearray | memoryview) -> None:
        self._chunks.append(bytes(data))

    def _next(self) -> bytes | Sentinel:
        if self._chunks:
            return self._chunks.pop(0)
        return END if self.eof else NEED_DATA

    def encode(self, message: bytes) -> bytes:
        return message


class LineFramer(Parser[bytes]):
    """Messages end with a delimiter (default newline); the delimiter is not part of the message.

    A line is too long when `max_length` bytes have arrived without its delimiter: decided on that
    prefix, so feeding the same bytes whole or one at a time gives the same messages and errors.
    """

    name = "line"

    def __init__(self, delimiter: bytes = b"\n", max_length: int = 65536) -> None:
        super().__init__()
        if not delimiter:
            raise ValueError("the delimiter must not be empty")
        self.delimiter = delimiter
        self.max_length = max_length
        self._buffer = bytearray()
        self._start = 0  # where the next message begins: consumed bytes are dropped once per receive

    def _receive(self, data: bytes | bytearray | memoryview) -> None:
        del self._buffer[:self._start]
        self._start = 0
        self._buffer += data

    def _next(self) -> bytes | Sentinel:
        end = self._buffer.find(self.delimiter, self._start, self._start + self.max_length + len(self.delimiter))
        if end >= 0:
            message = bytes(self._buffer[self._start:end])
            self._start = end + len(self.delimiter)
            return message
        left = len(self._buffer) - self._start
        if left > self.max_length + len(self.delimiter) - 1:
            raise ProtocolError("line-too-long", limit=self.max_length)
        if not self.eof:
            return NEED_DATA
        if left:
            raise ProtocolError("line-cut-by-eof", size=left)
        return END

    def encode(self, message: bytes) -> bytes:
        return message + self.delimiter


class LengthFramer(Parser[bytes]):
    """Each message is preceded by its length as a 4-byte big-endian unsigned integer."""

    name = "length"
    HEADER = struct.Struct("!I")

    def __init__(self, max_length: int = 16 * 1024 * 1024) -> None:
        super().__init__()
        self.max_length = max_length
        self._buffer = bytearray()
        self._start = 0

    def _receive(self, data: bytes | bytearray | memoryview) -> None:
        del self._buffer[:self._start]
        self._start = 0
        self._buffer += data

    def _next(self) -> bytes | Sentinel:
        left = len(self._buffer) - self._start
        size = self.HEADER.size
        if left >= size:
            (length,) = self.HEADER.unpack_from(self._buffer, self._start)
            if length > self.max_length:
                raise ProtocolError("message-too-long", size=length, limit=self.max_length)
            if left - size >= length:
                begin = self._start + size
                self._start = begin + length
                return bytes(self._buffer[begin:self._start])
        if not self.eof:
            return NEED_DATA
        if left:
            raise ProtocolError("message-cut-by-eof", size=left)
        return END

    def encode(self, message: bytes) -> bytes:
        return self.HEADER.pack(len(message)) + message


Framer = RawFramer | LineFramer | LengthFramer
FRAMERS: dict[str, type[Framer]] = {"raw": RawFramer, "line": LineFramer, "length": LengthFramer}


def make_framer(name: str, delimiter: bytes = b"\n") -> Framer:
    if name == "line":
        return LineFramer(delimiter)
    return FRAMERS[name]()
