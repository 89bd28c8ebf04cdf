"""What a traced program did, as raw records on the program's side: one append per call, nothing more.

The tracer never changes what the program sees: it records around the real call (tsocket.py) and
the call's result or exception goes back unchanged. Recording is the cheapest thing that keeps
the facts: a tuple appended to a deque (atomic under the GIL, no lock), with the time, the
thread's name and the first PREVIEW_BYTES of the payload. Everything else (sequence numbers,
sentences, argument objects, JSON, Redis or HTTP) happens in the courier, a process of its own
(courier.py), so it neither holds this interpreter's lock nor slows the program's sockets:
profiled, encoding and shipping in-process cost more than the calls being traced (bench 13).

Two record shapes travel to the courier (unpack.py turns them into the lab's events):
- a data call (send/recv and their kin, the hot path): `(ts, thread, where, call, arg, n, head, to)`,
  `where` being the socket's `(endpoint, proto, local, peer)`, cached on the socket;
- anything else: the thread's name, then the event's own fields after `seq` in their order
  (lab/events/bus.py FIELDS: ts, endpoint, conn, proto, kind, ..., detail, and as many after it as given),
  as EventBus.record takes them.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Set, Tuple

from .labfacts import FIELDS

if TYPE_CHECKING:  # (for type checkers only: the one-file tracer has no lab to import)
    from lab.events.bus import takes_event_fields
else:
    def takes_event_fields(record):
        return record

#: Records held for the courier; a program faster than the courier loses the oldest beyond this
#: (its last calls, the ones that explain how it ended, stay), counted, and the courier ships the
#: count as an `agent` event "dropped" (never silently).
CAPACITY = 50_000

Record = Tuple[Any, ...]
_POSITION: Dict[str, int] = {name: i for i, name in enumerate(FIELDS[1:])}  # (of each field after `seq`)


class Tracer:
    def __init__(self, name: str, capacity: int = CAPACITY) -> None:
        self.name = name
        self.on = True  # False in a fork's child: its records would be taken for the parent's
        # threads of the tracer's own (the one-file tracer's poster, onefile.py): their sockets are not the program's
        self.untraced: Set[int] = set()
        self.records: deque[Record] = deque(maxlen=capacity)
        self.capacity = capacity
        self.idle = False  # the outbox's writer is asleep: the next record wakes it (outbox.py)
        self.wakeup = threading.Event()
        self._drops = itertools.count()  # next() is atomic: each record let go takes one number
        self._drops_read = 0
        self._ids = itertools.count(1)
        # endpoint id -> (weak reference, proto) of every traced socket not yet closed:
        # what is left when the program ends, or when the garbage collector takes one, was never closed
        self._open: dict[str, tuple[weakref.ref[Any], str]] = {}
        self.output: Optional[Output] = None  # what the program prints, once watched (watch_output)

    # -- the records ---------------------------------------------------------------------------

    def put(self, record: Record) -> None:
        """Keep one record for the courier (any thread; never blocks, never raises into the program)."""
        records = self.records
        if len(records) == self.capacity:  # full: append() lets the oldest go (a race with the writer's
            next(self._drops)              # popleft may count one that stayed: never one that went uncounted)
        records.append(record)
        if self.idle:
            self.idle = False
            self.wakeup.set()

    def dropped(self) -> int:
        """Records let go so far (the outbox's writer alone asks)."""
        taken = next(self._drops) - self._drops_read  # (that next() is the read's own: not a drop)
        self._drops_read += 1
        return taken

    # -- sockets ---------------------------------------------------------------------------------

    def new_socket(self, sock: Any, proto: str) -> str:
        endpoint = f"s{next(self._ids)}@{self.name}"

        def collected(_ref: weakref.ref[Any]) -> None:
            self._collected(endpoint)

        self._open[endpoint] = (weakref.ref(sock, collected), proto)
        return endpoint

    def closed(self, endpoint: str) -> None:
        self._open.pop(endpoint, None)

    def _collected(self, endpoint: str) -> None:
        # The program dropped its last reference without close(): CPython closes the fd now (with a
        # ResourceWarning). The program still made the mistake, so the hint is recorded here.
        entry = self._open.pop(endpoint, None)
        if entry is not None and self.on:
            self.never_closed(endpoint, entry[1], "collected")

    def watch_output(self) -> None:
        """Record what the program writes to sys.stdout as `output` events; the terminal gets it unchanged."""
        if self.output is None:
            self.output = Output(self, sys.stdout)
            sys.stdout = self.output  # (it passes every call on to the real stream)

    def finish(self) -> None:
        """The program has ended: what it printed last is recorded, and every traced socket still open
        was never closed."""
        if self.output is not None:
            self.output.emit(time.time(), final=True)
        for endpoint, (_ref, proto) in list(self._open.items()):
            self.never_closed(endpoint, proto, "exit")
        self._open.clear()

    def never_closed(self, endpoint: str, proto: str, when: str) -> None:
        self.record(time.time(), endpoint, None, proto, "error", None, None, 0, None,
                    f"socket {endpoint} was never closed ({when})", "close", {"when": when},
                    code="socket-never-closed", params={"socket": endpoint})

    @takes_event_fields
    def record(self, *fields: Any, **named: Any) -> None:
        """Any call but the data calls: an event's fields after `seq`, as the courier's bus records
        them (a preview of at most PREVIEW_BYTES; the courier puts the thread's name into `args`)."""
        if named:  # (every field after `detail` defaults to None: lab/events/bus.py Event)
            bound = [*fields, *(None,) * (len(FIELDS) - 1 - len(fields))]
            for key, value in named.items():
                bound[_POSITION[key]] = value
            fields = tuple(bound)
        self.put((threading.current_thread().name, *fields))


class Output:
    """The program's stdout, watched: every write goes to the real stream first, unchanged (its result
    and its exceptions are the program's), then its text becomes `output` events, args {"text", "stream"}.

    Text is cut into events at line ends, PIECE characters at most each, and at most PER_SECOND events a
    second: a program that prints faster has its text held (HELD characters at most; what goes beyond is
    let go and counted as `dropped` in the next event's args, never silently). The events' texts, joined, are what
    the program printed, so a reader can judge its lines however the writes cut them."""

    PIECE = 4096
    PER_SECOND = 50
    HELD = 64 << 10

    def __init__(self, tracer: Tracer, stream: Any, name: str = "stdout") -> None:
        self._tracer, self._stream, self._name = tracer, stream, name
        self._lock = threading.Lock()
        self._pending: List[str] = []
        self._held = 0  # characters in _pending
        self._dropped = 0  # characters let go since the last event
        self._window, self._sent = 0.0, 0  # the current second's start, and the events sent in it

    def write(self, text: Any) -> Any:
        written = self._stream.write(text)
        if type(text) is str and self._tracer.on:  # (the hot path: an append; a lock only when an event may go)
            room = self.HELD - self._held
            if len(text) > room:  # the hold is full: what does not fit is let go, counted
                self._dropped += len(text) - max(room, 0)
                text = text[:max(room, 0)]
            if text:
                self._pending.append(text)  # (atomic: threads may print at once)
                self._held += len(text)
            if (not text or "\n" in text or self._held >= self.PIECE) and (
                    self._sent < self.PER_SECOND or time.time() - self._window >= 1.0):
                try:
                    self.emit(time.time())
                except Exception:  # noqa: BLE001  (nothing recorded may raise into the program)
                    pass
        return written

    def flush(self) -> Any:
        return self._stream.flush()

    def __getattr__(self, name: str) -> Any:  # (encoding, buffer, isatty, fileno, ...: the real stream's)
        return getattr(self._stream, name)

    def emit(self, now: float, final: bool = False) -> None:
        """Record what is held (at the program's end, `final`, whatever this second's count)."""
        with self._lock:
            self._emit(now, final)

    def _emit(self, now: float, final: bool = False) -> None:
        if now - self._window >= 1.0:
            self._window, self._sent = now, 0
        taken, self._pending = self._pending, []  # (first: what threads append meanwhile goes to the new list)
        held = "".join(taken)
        while (held or self._dropped) and (final or self._sent < self.PER_SECOND):
            piece, held = held[:self.PIECE], held[self.PIECE:]
            args: Dict[str, Any] = {"text": piece, "stream": self._name}
            if self._dropped:
                args["dropped"] = self._dropped
                self._dropped = 0
            self._tracer.record(now, "", None, "", "output", None, None, len(piece.encode("utf-8", "replace")), None,
                                f"printed {len(piece)} characters", None, args)
            self._sent += 1
        if held:
            self._pending[:0] = [held]  # (still the oldest: it goes first when events may go again)
        self._held = sum(map(len, self._pending))
