"""The file download protocol, sans-I/O (after h11: bytes in, events out, no socket here).

Both sides speak the lab's one parser shape (lab/protocols/sansio.py): `receive_data(data)` (`b""` = EOF),
then `next_event()` until a sentinel; a broken stream raises ProtocolError.

Client to server, optional:  `<file name>\\n`
Server to client, `raw`:      the file's bytes, then close.
Server to client, `framed`:   `OK <size> <sha256-hex>\\n` then the bytes then close,
                              or `ERR <reason>\\n` and close.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .sansio import END, NEED_DATA, PAUSED, Parser, ProtocolError, Sentinel

MAX_REQUEST_LINE = 1024
MAX_HEADER_LINE = 1024
_OK = re.compile(rb"OK (\d{1,20}) ([0-9a-f]{64})")


def encode_request(name: str) -> bytes:
    return name.encode("utf-8") + b"\n"


def encode_ok(size: int, sha256: str) -> bytes:
    return f"OK {size} {sha256}\n".encode("ascii")


def encode_err(reason: str) -> bytes:
    return b"ERR " + reason.replace("\n", " ").encode("utf-8") + b"\n"


@dataclass(frozen=True, slots=True)
class FileRequest:
    """The one request line, without its line end: the raw bytes of a file name."""

    name: bytes


class RequestReader(Parser[FileRequest]):
    """Server side: collects the one request line, gives one FileRequest, then PAUSED for good
    (what the client sends after the line is read and ignored)."""

    def __init__(self) -> None:
        super().__init__()
        self._buffer = bytearray()
        self.done = False

    def _receive(self, data: bytes | bytearray | memoryview) -> None:
        if not self.done:
            self._buffer += data[:MAX_REQUEST_LINE + 2]  # the line end, if any, is within these

    def _next(self) -> FileRequest | Sentinel:
        if self.done:
            return PAUSED
        end = self._buffer.find(b"\n", 0, MAX_REQUEST_LINE + 1)
        if end >= 0:
            self.done = True
            name = bytes(self._buffer[:end]).removesuffix(b"\r")
            self._buffer.clear()
            return FileRequest(name)
        if len(self._buffer) > MAX_REQUEST_LINE:
            raise ProtocolError("request-line-too-long", limit=MAX_REQUEST_LINE)
        if self.eof:
            raise ProtocolError("request-missing")
        return NEED_DATA


@dataclass(frozen=True, slots=True)
class Header:
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Body:
    data: memoryview


DownloadEvent = Header | Body


class DownloadReceiver(Parser[DownloadEvent]):
    """Client side: turns the bytes of a download into Header and Body events, then END.

    Body events carry memoryviews of the data received (no copies): use each before the next
    receive_data(). A framed stream ends well only after exactly the announced size.
    """

    def __init__(self, framed: bool) -> None:
        super().__init__()
        self.framed = framed
        self.header: Header | None = None
        self.received = 0
        self._line = bytearray()
        self._pending = memoryview(b"")

    @property
    def finished(self) -> bool:
        return self.eof and not self._pending

    def _receive(self, data: bytes | bytearray | memoryview) -> None:
        if self._pending:  # a programmer's mistake: the events of the last data were not all taken
            raise RuntimeError("receive_data() before next_event() returned NEED_DATA")
        self._pending = memoryview(data)

    def _next(self) -> DownloadEvent | Sentinel:
        if self.framed and self.header is None:
            return self._next_header()
        view = self._pending
        if view:
            if self.header is not None:
                allowed = self.header.size - self.received
                if allowed <= 0:
                    raise ProtocolError("body-too-long", size=self.header.size)
                view = view[:allowed]
            self._pending = self._pending[len(view):]
            self.received += len(view)
            return Body(view)
        if not self.eof:
            return NEED_DATA
        if self.header is not None and self.received < self.header.size:
            raise ProtocolError("body-cut-by-eof", received=self.received, size=self.header.size)
        return END

    def _next_header(self) -> Header | Sentinel:
        view = self._pending
        room = MAX_HEADER_LINE + 1 - len(self._line)  # the line and its "\n" fit in MAX_HEADER_LINE + 1
        end = bytes(view[:room]).find(b"\n")
        if end < 0:
            self._line += view[:room]
            self._pending = view[len(view):]
            if len(self._line) > MAX_HEADER_LINE:
                raise ProtocolError("header-too-long")
            if self.eof:
                raise ProtocolError("header-missing")
            return NEED_DATA
        self._line += view[:end]
        self._pending = view[end + 1:]
        self.header = _parse_header(bytes(self._line))
        return self.header


def _parse_header(line: bytes) -> Header:
    line = line.rstrip(b"\r")
    if line.startswith(b"ERR"):
        raise ProtocolError("server-refused", reason=line[3:].strip().decode("utf-8", "replace"))
    match = _OK.fullmatch(line)
    if not match:
        raise ProtocolError("header-invalid", sent=line[:60].decode("utf-8", "replace"))
    return Header(int(match.group(1)), match.group(2).decode("ascii"))
