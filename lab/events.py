"""The one event type of the lab, and the bounded buffer that holds and hands them out.

Data flows one way: a socket thread publishes an `Event` to the `EventBus`; readers (the REST
API, the Socket.IO relay) take them back by sequence number. The buffer is bounded: when it is
full the oldest events leave, and a reader that asks for them learns how many it missed.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from typing import Any, Callable, NamedTuple

from .kinds import LIFECYCLE_KINDS

Address = tuple[str, int]

__all__ = ["LIFECYCLE_KINDS", "Event", "EventBus", "PREVIEW_BYTES", "Recorded", "Relayed"]

#: Bytes of payload kept in an event. Previews are cut *before* formatting, so a 1 MB recv
#: costs the same to record as a 64-byte one.
PREVIEW_BYTES = 64

#: Lifecycle kinds (lab/kinds.py) tell the story of a socket's life: always recorded, whatever the
#: rate. Every other kind (send, recv, lost, message, progress, tcp_info, ...) can come by the
#: thousand per second from one peer, so it counts against the per-second limit; errors have a small
#: budget of their own so that a flood of failures cannot push the lifecycle out of the buffer either.
ERRORS_PER_SECOND = 200


class Event(NamedTuple):
    """One thing that happened on a socket, from the socket thread to the browser unchanged.

    A named tuple: immutable, and made in a fraction of the time of a frozen dataclass (which sets
    each field through object.__setattr__); two are made per echoed message, on the socket thread.
    """

    seq: int
    ts: float
    endpoint: str
    conn: str | None
    proto: str
    kind: str
    local: Address | None
    peer: Address | None
    size: int
    head: bytes | None  # the first PREVIEW_BYTES of the payload; formatted only at the edge
    detail: str  # English, for people reading the JSON; pages word events from the fields below
    # What happened, as data (CONTRACT "Structured events"); None where it does not apply.
    # Dicts here (args, params, state) are shared and never mutated after publishing.
    call: str | None = None  # the socket call: "recv", "sendall", "accept", ...
    args: dict[str, Any] | None = None  # the call's arguments, or what the event is about
    result: Any = None  # the call's return value: a byte count, or the peer address for accept
    closed_by: str | None = None  # "peer" | "local" | "reset", on a connection's close
    errno: str | None = None  # errno name, e.g. "ECONNREFUSED"
    code: str | None = None  # stable code of a problem, or of why the lab closed something
    params: dict[str, Any] | None = None  # values for the sentence of `code`
    message: int | None = None  # 1-based index of a framed message
    framing: str | None = None  # "line" | "length" for framed messages and sends
    state: dict[str, Any] | None = None  # kind "state": the endpoint's or download's snapshot

    @property
    def data(self) -> str | None:
        """Text preview: UTF-8, with invalid bytes shown as U+FFFD rather than failing."""
        return None if self.head is None else self.head.decode("utf-8", errors="replace")

    @property
    def hex(self) -> str | None:
        return None if self.head is None else self.head.hex(" ")

    def to_json(self) -> dict[str, Any]:
        # (called for every event streamed: one unpacking, no property calls)
        (seq, ts, endpoint, conn, proto, kind, local, peer, size, head, detail,
         call, args, result, closed_by, errno, code, params, message, framing, state) = self
        return {
            "seq": seq,
            "ts": ts,
            "endpoint": endpoint,
            "conn": conn,
            "proto": proto,
            "kind": kind,
            "local": list(local) if local else None,
            "peer": list(peer) if peer else None,
            "size": size,
            "data": None if head is None else head.decode("utf-8", errors="replace"),
            "hex": None if head is None else head.hex(" "),
            "detail": detail,
            "call": call,
            "args": args,
            "result": list(result) if type(result) is tuple else result,
            "closed_by": closed_by,
            "errno": errno,
            "code": code,
            "params": params,
            "message": message,
            "framing": framing,
            "state": state,
        }


class Relayed(NamedTuple):
    """An event another lab recorded (a lab agent, over Redis), kept as its JSON and renumbered
    into this bus: `body["seq"]` is this bus's seq, `body["agent_seq"]` the agent's own."""

    seq: int
    kind: str
    body: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return self.body  # (made once, when relayed in, and never changed after)


Recorded = Event | Relayed


class EventBus:
    """A bounded, thread-safe ring of events numbered from 1, with a condition to wait on.

    Invariant: the ring holds consecutive seqs `first_seq .. last_seq`. Older events were dropped
    and are only counted, except lifecycle events: the last `pinned` of those are also kept aside, so
    a flood of data events cannot make a late joiner lose the listen/accept/close that explain it.
    Readers get them back in seq order, the gaps counted as dropped.
    """

    def __init__(self, capacity: int = 10_000, max_per_second: int = 0, pinned: int = 2_000) -> None:
        self._events: deque[Recorded] = deque(maxlen=capacity)
        self._pinned: deque[Recorded] = deque(maxlen=pinned)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._waiting = 0  # threads in wait()
        self._seq = 0
        self._max_per_second = max_per_second
        self._window_start = 0.0
        self._window_count = 0
        self._window_errors = 0
        self.suppressed = 0  # events not recorded because of the per-second limit

    @property
    def last_seq(self) -> int:
        return self._seq

    def publish(
        self,
        endpoint: str,
        kind: str,
        *,
        proto: str = "tcp",
        conn: str | None = None,
        local: Address | None = None,
        peer: Address | None = None,
        size: int = 0,
        payload: bytes | None = None,
        detail: str = "",
        call: str | None = None,
        args: dict[str, Any] | None = None,
        result: Any = None,
        closed_by: str | None = None,
        errno: str | None = None,
        code: str | None = None,
        params: dict[str, Any] | None = None,
        message: int | None = None,
        framing: str | None = None,
        state: dict[str, Any] | None = None,
        ts: float | None = None,
    ) -> Event | None:
        """Record one event; returns it, or None when the per-second limit suppressed it."""
        return self.record(endpoint, kind, proto, conn, local, peer, size, payload, detail,
                           call, args, result, closed_by, errno, code, params, message, framing, state, ts)

    def record(
        self,
        endpoint: str,
        kind: str,
        proto: str,
        conn: str | None,
        local: Address | None,
        peer: Address | None,
        size: int,
        payload: bytes | None,
        detail: str,
        call: str | None = None,
        args: dict[str, Any] | None = None,
        result: Any = None,
        closed_by: str | None = None,
        errno: str | None = None,
        code: str | None = None,
        params: dict[str, Any] | None = None,
        message: int | None = None,
        framing: str | None = None,
        state: dict[str, Any] | None = None,
        ts: float | None = None,
    ) -> Event | None:
        """publish() with every field given in order: the socket threads' hot path.

        `ts` is when the call began, for a call this side starts and reports only after it returns
        (connect, a client's first sendto, sendfile, a close the lab asked for): sorted by (ts, seq),
        a cause then comes before its effects, though its seq may come after them. Calls that wait
        for the peer (accept, recv) are stamped when they return, which is after the cause began.
        """
        head = None if payload is None else payload[:PREVIEW_BYTES]  # cut before any formatting
        now = time.time()
        with self._lock:
            if self._max_per_second and not self._admit(now, kind):
                self.suppressed += 1
                return None
            self._seq += 1
            event = Event(self._seq, now if ts is None else ts, endpoint, conn, proto, kind, local, peer, size, head, detail,
                          call, args, result, closed_by, errno, code, params, message, framing, state)
            self._events.append(event)
            if kind in LIFECYCLE_KINDS:
                self._pinned.append(event)
            if self._waiting:  # (a notify costs several Python calls; usually nobody is waiting)
                self._cond.notify_all()
        return event

    def record_observed(self, rows: list[tuple[Any, ...]]) -> int:
        """Record several events of one data kind that were observed, not called (the capture's
        `packet`s), under one lock: each row is an Event's fields after `seq` up to `args`
        (ts, endpoint, conn, proto, kind, local, peer, size, head, detail, call, args). Each is
        admitted or suppressed as record() would; returns how many were recorded."""
        recorded = 0
        now = time.time()
        with self._lock:
            for row in rows:
                if self._max_per_second and not self._admit(now, row[4]):
                    self.suppressed += 1
                    continue
                self._seq += 1
                self._events.append(Event(self._seq, *row))
                recorded += 1
            if recorded and self._waiting:
                self._cond.notify_all()
        return recorded

    def _admit(self, now: float, kind: str) -> bool:
        if now - self._window_start >= 1.0:
            self._window_start, self._window_count, self._window_errors = now, 0, 0
        if kind in LIFECYCLE_KINDS:
            return True
        if kind == "error":
            self._window_errors += 1
            return self._window_errors <= ERRORS_PER_SECOND
        self._window_count += 1
        return self._window_count <= self._max_per_second

    def relay_in(self, body: dict[str, Any]) -> Relayed:
        """Add an event another lab recorded (a checked JSON object with a `kind`): it keeps its own
        seq as `agent_seq` and gets this bus's next one. Never rate-limited here: its lab did that."""
        with self._lock:
            self._seq += 1
            body["agent_seq"], body["seq"] = body.get("seq"), self._seq
            event = Relayed(self._seq, str(body["kind"]), body)
            self._events.append(event)
            if event.kind in LIFECYCLE_KINDS:
                self._pinned.append(event)
            if self._waiting:
                self._cond.notify_all()
        return event

    def since(self, after: int, limit: int = 1000) -> tuple[list[Recorded], int]:
        """Events with seq > after (oldest first, at most `limit`), and how many of them were dropped."""
        limit = max(0, limit)
        with self._cond:
            first = self._events[0].seq if self._events else self._seq + 1
            older = [e for e in self._pinned if after < e.seq < first] if after + 1 < first else []
            if len(older) >= limit:
                found = older[:limit]
                return found, (found[-1].seq - after - len(found)) if found else 0
            dropped = max(0, first - after - 1) - len(older)
            size = len(self._events)
            start = max(0, after + 1 - first)
            end = min(size, start + limit - len(older))
            if start >= end:
                newer = []
            elif start <= size - end:
                newer = list(itertools.islice(self._events, start, end))
            else:  # near the newest end, where readers keeping up ask: walk from there. islice from the
                # left walks every older event first (a deque has no O(1) middle): with 10,000-50,000 held
                # that was a third of a lab agent's time in its shipper, and the relay's too (py-spy)
                newer = list(itertools.islice(reversed(self._events), size - end, size - start))
                newer.reverse()
            return older + newer, dropped

    def wait(self, after: int, timeout: float, cancelled: Callable[[], bool] = lambda: False) -> bool:
        """Block until an event newer than `after` exists, `cancelled()` (checked on wake()), or the timeout."""
        with self._cond:
            self._waiting += 1
            try:
                return self._cond.wait_for(lambda: self._seq > after or cancelled(), timeout) and self._seq > after
            finally:
                self._waiting -= 1

    def wake(self) -> None:
        """Wake every waiter (used when shutting down)."""
        with self._cond:
            self._cond.notify_all()
