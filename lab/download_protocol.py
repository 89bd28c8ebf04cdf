"""The file download protocol, sans-I/O (after h11: bytes in, events out, no socket here).

Client to server, optional:  `<file name>\\n`
Server to client, `raw`:      the file's bytes, then close.
Server to client, `framed`:   `OK <size> <sha256-hex>\\n` then the bytes then close,
                              or `ERR <reason>\\n` and close.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_REQUEST_LINE = 1024
MAX_HEADER_LINE = 1024
_OK = re.compile(rb"OK (\d{1,20}) ([0-9a-f]{64})")


def encode_request(name: str) -> bytes:
    return name.encode("utf-8") + b"\n"


def encode_ok(size: int, sha256: str) -> bytes:
    return f"OK {size} {sha256}\n".encode("ascii")


def encode_err(reason: str) -> bytes:
    return b"ERR " + reason.replace("\n", " ").encode("utf-8") + b"\n"


class RequestReader:
    """Server side: collects the one request line. `feed` returns the raw name bytes once complete.

    Raises ValueError when the line grows past MAX_REQUEST_LINE or the peer closes before a newline.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.done = False

    def feed(self, data: bytes) -> bytes | None:
        if self.done:
            return None
        if not data:
            raise ValueError("the client closed the connection before sending a file name")
        self._buffer += data
        end = self._buffer.find(b"\n")
        if end < 0:
            if len(self._buffer) > MAX_REQUEST_LINE:
                raise ValueError(f"the request line is longer than {MAX_REQUEST_LINE} bytes")
            return None
        if end > MAX_REQUEST_LINE:
            raise ValueError(f"the request line is longer than {MAX_REQUEST_LINE} bytes")
        self.done = True
        return bytes(self._buffer[:end]).rstrip(b"\r")


@dataclass(frozen=True, slots=True)
class Header:
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Body:
    data: memoryview


@dataclass(frozen=True, slots=True)
class End:
    """The stream ended well: for framed, exactly `size` bytes arrived."""


@dataclass(frozen=True, slots=True)
class Failed:
    reason: str


DownloadEvent = Header | Body | End | Failed


class DownloadReceiver:
    """Client side: turns the bytes of a download into Header/Body/End/Failed events.

    Body events carry memoryviews of the data fed in (no copies): use them before the next feed.
    """

    def __init__(self, framed: bool) -> None:
        self.framed = framed
        self.header: Header | None = None
        self.received = 0
        self.finished = False
        self._line = bytearray()

    def feed(self, data: bytes | memoryview) -> list[DownloadEvent]:
        if self.finished:
            return []
        view = memoryview(data)
        if not view:
            return [self._eof()]
        events: list[DownloadEvent] = []
        if self.framed and self.header is None:
            end = bytes(view[:MAX_HEADER_LINE + 1]).find(b"\n")
            if end < 0:
                self._line += view
                if len(self._line) > MAX_HEADER_LINE:
                    return [self._fail("the server's header line is too long: is it really a framed file server?")]
                return []
            self._line += view[:end]
            view = view[end + 1:]
            header = self._parse_header(bytes(self._line))
            if isinstance(header, Failed):
                return [header]
            self.header = header
            events.append(header)
        if self.header is not None and self.received + len(view) > self.header.size:
            allowed = self.header.size - self.received
            if allowed:
                self.received += allowed
                events.append(Body(view[:allowed]))
            return events + [self._fail(f"the server sent more than the {self.header.size} bytes it announced")]
        if view:
            self.received += len(view)
            events.append(Body(view))
        return events

    def _parse_header(self, line: bytes) -> Header | Failed:
        line = line.rstrip(b"\r")
        if line.startswith(b"ERR"):
            return self._fail("the server refused: " + line[3:].strip().decode("utf-8", "replace"))
        match = _OK.fullmatch(line)
        if not match:
            shown = line[:60].decode("utf-8", "replace")
            return self._fail(f"the server did not answer with an 'OK <size> <sha256>' header (it sent '{shown}')")
        return Header(int(match.group(1)), match.group(2).decode("ascii"))

    def _eof(self) -> DownloadEvent:
        if not self.framed:
            self.finished = True
            return End()
        if self.header is None:
            return self._fail("the server closed the connection before sending a header")
        if self.received < self.header.size:
            return self._fail(f"the connection closed after {self.received} of {self.header.size} bytes")
        self.finished = True
        return End()

    def _fail(self, reason: str) -> Failed:
        self.finished = True
        return Failed(reason)
