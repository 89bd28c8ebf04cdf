"""The framers, sans-I/O: tables fed whole, one byte at a time, at random splits, with trailing data."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from lab.protocols.framing import LengthFramer, LineFramer, RawFramer, make_framer
from lab.protocols.sansio import Parser, ProtocolError

from .parsing import check_every_cut, cuts, run

Make = Callable[[], Parser[Any]]
CUT = ("error", "line-cut-by-eof")

TABLE: list[tuple[str, Make, bytes, bool, list[Any]]] = [
    # (name, framer, bytes, then EOF?, messages then how it ended)
    ("lines", LineFramer, b"a\nb\n", True, [b"a", b"b", "END"]),
    ("empty lines", LineFramer, b"\n\n", True, [b"", b"", "END"]),
    ("cr is data", LineFramer, b"a\r\nb\n", True, [b"a\r", b"b", "END"]),
    ("trailing part of a line", LineFramer, b"one\ntwo\nthr", False, [b"one", b"two", "NEED_DATA"]),
    ("eof inside a line", LineFramer, b"a\r\nb", True, [b"a\r", CUT]),
    ("no delimiter at all", LineFramer, b"no newline", True, [CUT]),
    ("crlf delimiter", lambda: LineFramer(b"\r\n"), b"GET / HTTP/1.0\r\nHost: x\r\n", True,
     [b"GET / HTTP/1.0", b"Host: x", "END"]),
    ("crlf with a lone lf inside", lambda: LineFramer(b"\r\n"), b"a\nb\r\n\r", False, [b"a\nb", "NEED_DATA"]),
    # a line is too long once max_length bytes came without the delimiter, however they were cut
    ("longest line", lambda: LineFramer(max_length=4), b"abcd\n", True, [b"abcd", "END"]),
    ("longest line, crlf", lambda: LineFramer(b"\r\n", max_length=4), b"abcd\r\n", True, [b"abcd", "END"]),
    ("too long with its delimiter", lambda: LineFramer(max_length=4), b"ok\nabcde\nmore\n", True,
     [b"ok", ("error", "line-too-long")]),
    ("too long before eof", lambda: LineFramer(max_length=4), b"abcde", True, [("error", "line-too-long")]),
    ("too long, crlf", lambda: LineFramer(b"\r\n", max_length=4), b"abcde\r\n", False, [("error", "line-too-long")]),
    ("length", LengthFramer, b"\x00\x00\x00\x03abc\x00\x00\x00\x00", True, [b"abc", b"", "END"]),
    ("length, trailing header part", LengthFramer, b"\x00\x00\x00\x02hi\x00\x00", False, [b"hi", "NEED_DATA"]),
    ("length, eof in the body", LengthFramer, b"\x00\x00\x00\x05abc", True, [("error", "message-cut-by-eof")]),
    ("length, eof in the header", LengthFramer, b"\x00\x00\x00\x01a\x00", True, [b"a", ("error", "message-cut-by-eof")]),
    ("length over the limit", lambda: LengthFramer(max_length=10), b"\x00\x00\x00\x02hi\x00\x00\x01\x00xx", True,
     [b"hi", ("error", "message-too-long")]),
    ("length at the limit", lambda: LengthFramer(max_length=3), b"\x00\x00\x00\x03abc", True, [b"abc", "END"]),
]


@pytest.mark.parametrize(("make", "data", "eof", "expected"), [case[1:] for case in TABLE], ids=[c[0] for c in TABLE])
def test_framer_table_however_the_bytes_are_cut(make: Make, data: bytes, eof: bool, expected: list[Any]) -> None:
    check_every_cut(make, data, expected, eof=eof)


@pytest.mark.parametrize("data", [b"hello", b"a\nb\n", bytes(range(256))])
def test_raw_gives_each_receive_as_it_came(data: bytes) -> None:
    for how, pieces in cuts(data):
        assert run(RawFramer(), pieces) == [*pieces, "END"], how


@pytest.mark.parametrize(("name", "delimiter"), [("raw", b"\n"), ("line", b"\n"), ("line", b"--"), ("length", b"\n")])
def test_encode_then_receive_round_trips(name: str, delimiter: bytes) -> None:
    messages = [b"hello", b"", b"two words"] if name != "raw" else [b"hello"]
    framer = make_framer(name, delimiter)
    wire = b"".join(framer.encode(m) for m in messages)
    assert make_framer(name, delimiter).feed(wire) == [m for m in messages if m or name != "raw"]


def test_the_error_is_a_sentence_with_a_code_and_values() -> None:
    with pytest.raises(ProtocolError) as caught:
        LineFramer(max_length=4).feed(b"abcde")
    assert caught.value.code == "line-too-long" and caught.value.params == {"limit": 4}
    assert str(caught.value) == "a line longer than 4 bytes arrived without a delimiter"
