"""The one shape of every sans-I/O parser in the lab, after h11.

A parser holds no socket. The socket loop hands it bytes with `receive_data(data)` (`b""` means
the peer closed: EOF), then calls `next_event()` until it returns a sentinel: `NEED_DATA` (feed
more bytes), `PAUSED` (the parser has said all it will say on this stream; later bytes are kept
and ignored) or `END` (the stream ended well). A stream that breaks the protocol raises
`ProtocolError`, a stable code with the values of its sentence; the parser then stays broken and
raises the same error again.

Invariant every parser keeps: its events depend only on the bytes, never on how recv() cut them,
so each decision is taken on the shortest prefix that settles it.
"""

from __future__ import annotations

from typing import Final, Generic, TypeVar

from ..errors import LabError

Event = TypeVar("Event")


class Sentinel:
    """A parser's state, not an event: compared with `is`."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NEED_DATA: Final = Sentinel("NEED_DATA")
PAUSED: Final = Sentinel("PAUSED")
END: Final = Sentinel("END")


class ProtocolError(LabError):
    """The bytes broke the protocol: `code` (lab/messages.py) and `params` are the data, str() the sentence."""


class Parser(Generic[Event]):
    """What every parser shares: the EOF flag, the stored error, and `feed`, the whole loop in one call."""

    def __init__(self) -> None:
        self.eof = False
        self._error: ProtocolError | None = None

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        if self.eof and data:
            raise RuntimeError("receive_data() after EOF")  # a programmer's mistake, not the peer's
        if not data:
            self.eof = True
        else:
            self._receive(data)

    def next_event(self) -> Event | Sentinel:
        if self._error is not None:
            raise self._error
        try:
            return self._next()
        except ProtocolError as exc:
            self._error = exc
            raise

    def feed(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """receive_data(data), then every event up to the next sentinel (for the socket loops and tables)."""
        self.receive_data(data)
        events: list[Event] = []
        while not isinstance(event := self.next_event(), Sentinel):
            events.append(event)
        return events

    def _receive(self, data: bytes | bytearray | memoryview) -> None:
        raise NotImplementedError

    def _next(self) -> Event | Sentinel:
        raise NotImplementedError
