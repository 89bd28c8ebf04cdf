"""The courier's side of a record (tracer.py): the lab's own event, in the courier's EventBus.

The program's side kept only facts (the time, the thread, the socket, the call, the sizes, the
first bytes); the sentences and argument objects the lab's events carry are made here, in the
courier's process, where they cost the program nothing. Sequence numbers come from the bus, in
the order the program's threads appended their records.
"""

from __future__ import annotations

from typing import Any, List, Optional, Protocol, Tuple

from .labfacts import FIELDS

Address = Tuple[str, int]


class Bus(Protocol):
    """Where events are recorded: the courier's EventBus (lab/events/bus.py), or the one-file tracer's
    own (onefile.py). `record` takes an event's fields after `seq`, in their order."""

    def record(self, *fields: Any) -> Any: ...

# data call -> (kind, how `detail` words it, the name of its one argument)
_DATA = {
    "send": ("send", "send() of {n} bytes", "bytes"),
    "sendall": ("send", "sendall() of {n} bytes", "bytes"),
    "sendto": ("send", "sendto() of {n} bytes", "bytes"),
    "recv": ("recv", "recv({arg}) returned {n} bytes", "bufsize"),
    "recv_into": ("recv", "recv_into() returned {n} bytes", "bufsize"),
    "recvfrom": ("recv", "recvfrom({arg}) returned {n} bytes", "bufsize"),
}
DATA_FIELDS = 8  # (ts, thread, where, call, arg, n, head, to): `to` the address as the program gave or got it


def address(value: Any) -> Optional[Address]:
    """(host, port) of a socket address (IPv4, or IPv6's first two fields); None for any other."""
    return (str(value[0]), int(value[1])) if isinstance(value, tuple) and len(value) >= 2 else None

# any other record: the thread's name, then an event's fields after `seq`, up to `detail` at least
FULL_FIELDS = range(1 + FIELDS.index("detail"), len(FIELDS) + 1)
_ARGS = FIELDS.index("args") - 1  # (among the fields after `seq`)


def unpack(bus: Bus, records: List[Tuple[Any, ...]]) -> int:
    """Record each of `records` on `bus`, in order; returns how many were not records (skipped).

    The records come from this tracer's own program over a pipe, but a program can write to any fd
    it inherits, so each is checked for its shape rather than trusted."""
    skipped = 0
    for record in records:
        try:
            if len(record) == DATA_FIELDS:
                _data(bus, record)
            elif len(record) in FULL_FIELDS:
                fields = [*record[1:], *(None,) * (len(FIELDS) - len(record))]  # (those not given: None, their default)
                args = fields[_ARGS]
                fields[_ARGS] = {**(args if isinstance(args, dict) else {}), "thread": record[0]}
                bus.record(*fields)
            else:
                skipped += 1
        except (TypeError, ValueError, KeyError):
            skipped += 1
    return skipped


def _data(bus: Bus, record: Tuple[Any, ...]) -> None:
    ts, thread, (endpoint, proto, local, peer), call, arg, n, head, given = record
    to = address(given)
    kind, words, name = _DATA[call]
    args: dict[str, Any] = {name: arg, "thread": thread}
    if call == "sendto":
        args["address"] = list(to) if to else None
    bus.record(ts, endpoint, None, proto, kind, local, to or peer, n, head, words.format(n=n, arg=arg), call, args, n)


def dropped(bus: Bus, ts: float, count: int) -> None:
    """The program made `count` calls faster than they could be shipped, and they were let go: one
    `agent` event says so (never silently)."""
    bus.record(ts, "", None, "", "agent", None, None, 0, None,
               f"{count} socket calls were not recorded: the program made them faster than they could be shipped",
               None, {"event": "dropped", "count": count})
