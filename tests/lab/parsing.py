"""Driving a sans-I/O parser (lab/protocols/sansio.py) the way the socket loops do, with the bytes cut anywhere.

Every parser table feeds each case whole, one byte at a time, and at seeded random split points,
and must see the same events and the same ending each time: recv() may cut the bytes anywhere.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Iterator

from lab.protocols.sansio import NEED_DATA, Parser, ProtocolError, Sentinel

SEEDS = range(5)


def cuts(data: bytes) -> Iterator[tuple[str, list[bytes]]]:
    """(how, pieces): whole, one byte at a time, and a few seeded random splits."""
    yield "whole", [data]
    yield "bytewise", [data[i:i + 1] for i in range(len(data))]
    for seed in SEEDS:
        rng = random.Random(seed)
        points = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, 6)))) if len(data) > 1 else []
        yield f"split{seed}", [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def run(parser: Parser[Any], pieces: list[bytes], *, eof: bool = True,
        show: Callable[[Any], Any] = lambda event: event) -> list[Any]:
    """Every event `show`n, then how it ended: the last sentinel's name, or ("error", code)."""
    seen: list[Any] = []
    ending: Any = NEED_DATA
    try:
        for piece in [*pieces, *([b""] if eof else [])]:
            parser.receive_data(piece)
            while not isinstance(event := parser.next_event(), Sentinel):
                seen.append(show(event))
            ending = event
    except ProtocolError as exc:
        with_error = ("error", exc.code)
        try:  # a broken parser stays broken, with the same error
            parser.next_event()
        except ProtocolError as again:
            assert again.code == exc.code
        else:
            raise AssertionError("next_event() after a ProtocolError did not raise it again") from None
        return [*seen, with_error]
    return [*seen, repr(ending)]


def check_every_cut(make: Callable[[], Parser[Any]], data: bytes, expected: list[Any], *, eof: bool = True,
                    show: Callable[[Any], Any] = lambda event: event,
                    merge: Callable[[list[Any]], list[Any]] = lambda seen: seen) -> None:
    """The same events and ending, however the bytes are cut."""
    for how, pieces in cuts(data):
        assert merge(run(make(), pieces, eof=eof, show=show)) == expected, how
