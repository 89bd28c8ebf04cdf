"""The one event type of the lab, and the bounded buffer that holds and hands them out.

Data flows one way: a socket thread publishes an `Event` to the `EventBus`; readers (the REST
API, the Socket.IO relay) take them back by sequence number. The buffer is bounded, in events and
in bytes: when it is full the oldest events leave, and a reader that asks for them learns how many
it missed.

The class `Event` is the one definition of an event's fields: their names, order, types and defaults.
Everything else is derived from it: the recorder's arguments (EventBus.record takes the fields after
`seq`, in that order), the JSON form (`JSON_FIELDS`, `Event.to_json`), what a lab agent ships and a
traced program's courier posts (that JSON form), a traced program's records (agent/trace/tracer.py) and
the page's export columns (GET /api/session "event_fields").
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from typing import Any, Callable, Concatenate, NamedTuple, ParamSpec, Protocol, TypeVar

from .kinds import LIFECYCLE_KINDS

Address = tuple[str, int]

__all__ = ["FIELDS", "JSON_FIELDS", "LIFECYCLE_KINDS", "Event", "EventBus", "Form", "PREVIEW_BYTES", "Recorded", "Relayed"]

#: Bytes of payload kept in an event. Previews are cut *before* formatting, so a 1 MB recv
#: costs the same to record as a 64-byte one.
PREVIEW_BYTES = 64

#: Lifecycle kinds (lab/events/kinds.py) tell the story of a socket's life: always recorded, whatever the
#: rate. Every other kind (send, recv, lost, message, progress, tcp_info, ...) can come by the
#: thousand per second from one peer, so it counts against the per-second limit; errors have a small
#: budget of their own so that a flood of failures cannot push the lifecycle out of the buffer either.
ERRORS_PER_SECOND = 200

#: Byte budgets (of each event's size as JSON). A count alone does not bound memory: one stage
#: snapshot with 500 long names is 60 KB, a recv event 400 bytes.
RING_BYTES = 32 << 20  # the ring (a few minutes of a busy lab; 50,000 light events over lab agents)
PINNED_BYTES = 6 << 20  # the lifecycle events kept aside for late joiners
EVENT_BYTES = 256 << 10  # one event: the lab's own are far smaller (a stage with 500 names is ~60 KB)
#: What one reader takes in one go (GET /api/events, a Socket.IO batch): a late joiner pages through
#: the history in answers of this size instead of one answer as large as the whole buffer.
READ_BYTES = 2 << 20
#: A light event: no params, no state, a detail of at most LIGHT_DETAIL characters (its 22 keys ~330
#: bytes as JSON, a preview of up to 64 bytes as text and hex, a few args). The hot path makes only
#: light events, so it does not measure them: each counts LIGHT_BYTES, a typical size (the largest
#: is under twice that). Every other event is measured once, when it comes in.
LIGHT_BYTES = 600
LIGHT_DETAIL = 160
FIXED_BYTES = 330  # an Event's JSON without its variable parts
ARG_BYTES = 32  # per key of `args` (small flat dicts)


class Event(NamedTuple):
    """One thing that happened on a socket, from the socket thread to the browser unchanged.

    The one definition of an event's fields (see the module's docstring): a field is added here, and
    where its JSON form differs from what is held, in SHOWN_AS. A named tuple: immutable, and made
    positionally in a fraction of the time of a frozen dataclass (which sets each field through
    object.__setattr__); two are made per echoed message, on the socket thread.
    """

    seq: int  # numbered by the bus that holds it, from 1
    ts: float  # unix seconds
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
        """This event's JSON form: JSON_FIELDS, in that order."""
        return _json_form(self)


#: The fields in the order an Event holds them. The recorder takes them in this order after `seq`.
FIELDS: tuple[str, ...] = Event._fields

#: How a field is shown in the JSON form where it is not shown as held: its keys, each with the
#: expression of its value (Python, over the field's name). The preview is held as bytes and shown
#: twice, as text and as hex; addresses and a tuple result are shown as lists.
SHOWN_AS: dict[str, dict[str, str]] = {
    "local": {"local": "list(local) if local else None"},
    "peer": {"peer": "list(peer) if peer else None"},
    "head": {"data": "None if head is None else head.decode('utf-8', errors='replace')",
             "hex": "None if head is None else head.hex(' ')"},
    "result": {"result": "list(result) if type(result) is tuple else result"},
}
_SHOWN = {field: SHOWN_AS.get(field, {field: field}) for field in FIELDS}

#: The keys of an event's JSON form, in order: what GET /api/events and Socket.IO carry, what agents
#: ship (with "agent"), and the page's export columns (GET /api/session hands it to the page).
JSON_FIELDS: tuple[str, ...] = tuple(key for shown in _SHOWN.values() for key in shown)


def _write_json_form() -> Callable[[Event], dict[str, Any]]:
    """Event -> its JSON form, written out from FIELDS and SHOWN_AS once, at import (as namedtuple
    writes its own __new__): one unpacking, a copy of a dict that already holds every key in order,
    and one store per key. It runs for every event streamed. A copy of a full template is
    preallocated at its final size and each store only replaces a value, where a dict display of the
    22 keys grows its table three times on the way (measured: 1.4 against 2.0 us an event here; a
    dict built with zip() from the same tables 3.4). The keys keep the template's order: JSON_FIELDS."""
    stores = "".join(f"    form[{key!r}] = {value}\n" for keys in _SHOWN.values() for key, value in keys.items())
    source = f"def to_json(event):\n    {', '.join(FIELDS)}, = event\n    form = _template.copy()\n{stores}    return form\n"
    namespace: dict[str, Any] = {"_template": dict.fromkeys(JSON_FIELDS)}
    exec(source, namespace)  # (made above from the field names and SHOWN_AS alone)
    form: Callable[[Event], dict[str, Any]] = namespace["to_json"]
    return form


_json_form = _write_json_form()

#: Where a field sits among the recorder's arguments (the fields after `seq`)
_TS, _KIND, _HEAD, _DETAIL, _ARGS, _PARAMS, _STATE = (
    FIELDS.index(name) - 1 for name in ("ts", "kind", "head", "detail", "args", "params", "state"))
_RECORDED = len(FIELDS) - 1
_tuple_new = tuple.__new__
_POSITION = {name: i for i, name in enumerate(FIELDS[1:])}  # (of each field after `seq`)
_NO_DEFAULT = object()
_DEFAULTS = tuple(Event._field_defaults.get(name, _NO_DEFAULT) for name in FIELDS[1:])
_REQUIRED = _DEFAULTS.index(None)  # (the fields after `seq` up to `detail` have no default)


def _bound(given: tuple[Any, ...], named: dict[str, Any]) -> tuple[Any, ...]:
    """Every field after `seq`, from those `given` in order and those `named`, the rest their defaults:
    Event()'s own binding of its arguments, in a fraction of its time."""
    count = len(given)
    if count > _RECORDED:
        raise TypeError(f"an event has {_RECORDED} fields after seq, not {count}")
    fields = [*given, *_DEFAULTS[count:]]
    for name, value in named.items():
        at = _POSITION.get(name, -1)
        if at < count:
            raise TypeError(f"{name!r} is not a field of an event" if at < 0 else f"{name!r} given twice")
        fields[at] = value
    if count < _REQUIRED and _NO_DEFAULT in fields[:_REQUIRED]:
        raise TypeError(f"missing fields of an event: {', '.join(FIELDS[1:_REQUIRED + 1])} have no default")
    return tuple(fields)


P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")


def _fields_after_seq(event: Callable[Concatenate[int, P], Event]) -> Callable[
        [Callable[Concatenate[S, ...], R]], Callable[Concatenate[S, P], R]]:
    def typed(record: Callable[Concatenate[S, ...], R]) -> Callable[Concatenate[S, P], R]:
        return record
    return typed


#: A recorder's signature, for type checkers: a method taking `*fields` takes an Event's fields
#: after `seq`, in order, with their types and defaults (EventBus.record, a traced program's Tracer.record).
takes_event_fields = _fields_after_seq(Event)


class Relayed(NamedTuple):
    """An event another lab recorded (a lab agent over Redis, a traced program's courier), kept as
    the JSON form its Event.to_json made there, and renumbered into this bus: `body["seq"]` is this
    bus's seq, `body["agent_seq"]` the agent's own."""

    seq: int
    kind: str
    body: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return self.body  # (made once, when relayed in, and never changed after)


Recorded = Event | Relayed
T = TypeVar("T")


def _slice(items: deque[T], start: int, end: int) -> list[T]:
    """items[start:end] of a deque, walked from the nearer end. islice from the left walks every
    older item first (a deque has no O(1) middle): readers keeping up ask near the newest end, and
    with 10,000-50,000 held that was a third of a lab agent's time in its shipper (py-spy)."""
    size = len(items)
    if start <= size - end:
        return list(itertools.islice(items, start, end))
    found = list(itertools.islice(reversed(items), size - end, size - start))
    found.reverse()
    return found


def _json_bytes(value: Any) -> int:
    """The size of `value` as JSON (for the rare, possibly large dicts: a stage, a state snapshot)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str))


def _measured(fields: tuple[Any, ...]) -> int:
    """The measured size of an event with params, state or a long detail (0 for a light one)."""
    detail, params, state = fields[_DETAIL], fields[_PARAMS], fields[_STATE]
    if params is None and state is None and len(detail) <= LIGHT_DETAIL:
        return 0
    head = fields[_HEAD]
    return event_bytes(detail, None if head is None else head[:PREVIEW_BYTES], fields[_ARGS], params, state)


def event_bytes(detail: str, head: bytes | None, args: dict[str, Any] | None, params: dict[str, Any] | None,
                state: dict[str, Any] | None) -> int:
    """An Event's size as JSON, estimated: exact enough to budget by, cheap where events are many.
    A preview is shown twice (text, and hex at three characters a byte); `args` of the hot path are
    small flat dicts, counted per key; `params` and `state` are measured (they come rarely)."""
    size = FIXED_BYTES + len(detail)
    if head is not None:
        size += 4 * len(head)
    if args:
        size += ARG_BYTES * len(args)
    if params:
        size += _json_bytes(params)
    if state:
        size += _json_bytes(state)
    return size


#: Recorded events queued before the recording thread makes them itself, in one batch (when no reader
#: took them meanwhile). Each holds at most a preview of its payload, so the queue stays small.
PENDING = 4096


class Form(Protocol):
    """How a hot path's raw values become an event's fields (EventBus.record_call): made only for
    events that are kept. `kind` is known before, for the per-second limit; values[0] is `ts`."""

    kind: str

    def fields(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        """Every field after `seq`, in the order of FIELDS."""
        ...


class EventBus:
    """A bounded, thread-safe ring of events numbered from 1, with a condition to wait on.

    Invariant: the ring holds consecutive seqs `first_seq .. last_seq`. Older events were dropped
    and are only counted, except lifecycle events: the last `pinned` of those are also kept aside, so
    a flood of data events cannot make a late joiner lose the listen/accept/close that explain it.
    Readers get them back in seq order, the gaps counted as dropped.

    Recording is a tuple into a queue (record(), record_call()): the socket threads neither take the
    lock nor make the event. The queue is numbered, admitted against the per-second limit and made
    into Events in the order recorded, in batches, by whoever reads next (since(), wait(), last_seq,
    publish(), ...), or by a recording thread when a reader waits or PENDING are queued. So seqs, the
    limit and the counts are what recording them one by one would give, and an event over the limit
    is counted without being made.

    Bounds: the ring holds at most `capacity` events and `max_bytes` bytes, the pinned ones at most
    `pinned` and `pinned_bytes`; whichever is reached first makes the oldest leave (so the ring stays
    consecutive: it is only ever cut at its old end). Sizes are each event's JSON, estimated once
    when it comes in (`event_bytes`, or the length of a relayed event's JSON). An event over
    `max_event_bytes` is refused whole and counted (`too_large`, and in `suppressed`): the lab's own
    events are far below it by construction, so one above it is broken or hostile, and a cut one
    would be a half-truth (a stage without its names) that every reader would have to learn to spot.
    """

    def __init__(self, capacity: int = 10_000, max_per_second: int = 0, pinned: int = 2_000,
                 max_bytes: int = RING_BYTES, pinned_bytes: int = PINNED_BYTES,
                 max_event_bytes: int = EVENT_BYTES) -> None:
        self._pinned_capacity = pinned
        # light events alone stay within the bytes too: the count is cut to what max_bytes holds of them
        capacity = max(1, min(capacity, max_bytes // LIGHT_BYTES))
        self._capacity = capacity
        self._events: deque[Recorded] = deque(maxlen=capacity)
        # seq -> bytes beyond LIGHT_BYTES, for the ring's measured events that hold more (a few)
        self._extra: dict[int, int] = {}
        self.extra_bytes = 0
        self._pinned: deque[Recorded] = deque(maxlen=pinned)
        self._pinned_sizes: deque[int] = deque(maxlen=pinned)  # (each pinned event's bytes, in order)
        self.pinned_bytes = 0
        self.max_bytes, self.max_pinned_bytes, self.max_event_bytes = max_bytes, pinned_bytes, max_event_bytes
        self.too_large = 0  # events refused for their size alone
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._waiting = 0  # threads in wait()
        self._seq = 0
        self._max_per_second = max_per_second
        self._window_start = 0.0
        self._window_count = 0
        self._window_errors = 0
        self._suppressed = 0
        # what record() and record_call() queued, not yet numbered: (form or None, values) in the order
        # recorded; made into events under the lock by _build() (readers build before they read)
        self._pending: deque[tuple[Form | None, tuple[Any, ...]]] = deque()

    @property
    def capacity(self) -> int:
        """The most events the ring holds (a lab agent's courier holds as many: agent/courier.py)."""
        return self._capacity

    @property
    def last_seq(self) -> int:
        if self._pending:
            with self._lock:
                self._build()
        return self._seq

    @property
    def suppressed(self) -> int:
        """Events not recorded because of the per-second limit (or their size: `too_large`)."""
        if self._pending:
            with self._lock:
                self._build()
        return self._suppressed

    def publish(self, endpoint: str, kind: str, *, proto: str = "tcp", conn: str | None = None,
                local: Address | None = None, peer: Address | None = None, size: int = 0, payload: bytes | None = None,
                detail: str = "", ts: float | None = None, pin: bool = True, **named: Any) -> Event | None:
        """record() by name, for the lab's less frequent events, at once: the fields up to `detail` have
        the defaults above (`payload` stands for `head`, `ts` is now), the rest their Event defaults (None).
        Returns the event, or None when it was not recorded (the per-second limit, or over the size of one
        event). `pin` False: a lifecycle event that matters to pages live but not to a late joiner, who
        gets the same from elsewhere (a name change: GET /api/stage).

        `ts` is when the call began, for a call this side starts and reports only after it returns
        (connect, a client's first sendto, sendfile, a close the lab asked for): sorted by (ts, seq),
        a cause then comes before its effects, though its seq may come after them. Calls that wait
        for the peer (accept, recv) are stamped when they return, which is after the cause began.
        """
        fields = _bound((time.time() if ts is None else ts, endpoint, conn, proto, kind, local, peer, size, payload,
                         detail), named)
        nbytes = _measured(fields)  # (outside the lock)
        with self._lock:
            self._build()  # (what was recorded before it comes before it)
            event = self._keep_fields(fields, nbytes, pin)
            if event is not None and self._waiting:
                self._cond.notify_all()
        return event

    def _record(self, *fields: Any) -> None:
        """Record one event, its fields after `seq` given positionally in the order of FIELDS (those
        left out take their defaults; by name, and at once: publish()): the socket threads' path
        (`record`, below, for type checkers). A tuple into a bounded queue and nothing more: the event
        is numbered, admitted or counted against the per-second limit, and made an Event in order, in
        batches, by the next reader (or by this thread once PENDING are waiting). `head` may be the
        whole payload: only its first PREVIEW_BYTES are held.
        """
        head = fields[_HEAD] if len(fields) > _HEAD else None
        if head is not None and len(head) > PREVIEW_BYTES:  # (a payload is held only as its preview)
            fields = (*fields[:_HEAD], head[:PREVIEW_BYTES], *fields[_HEAD + 1:])
        pending = self._pending
        pending.append((None, fields))
        if self._waiting or len(pending) >= PENDING:
            self._hand_over()

    #: record() takes an Event's fields after `seq`, in order, with their types and defaults; positionally
    #: only (a keyword is a TypeError: the hot path makes no dict of them), publish() takes them by name
    record = takes_event_fields(_record)

    def record_call(self, form: Form, *values: Any) -> None:
        """Record one event of a socket thread's hot path as raw values, `ts` first: `form` makes its
        fields from them, only if it is kept (an event over the per-second limit is counted and never
        made). A tuple into the same queue as record()'s; payloads come already cut to PREVIEW_BYTES."""
        pending = self._pending
        pending.append((form, values))
        if self._waiting or len(pending) >= PENDING:
            self._hand_over()

    def _hand_over(self) -> None:
        """Make what is queued, in one batch under one lock: a reader waits for it (woken only when an
        event was kept: a flood over the per-second limit wakes nobody), or PENDING are queued and
        nobody read them meanwhile. A reader that is busy (the relay between two batches) makes them
        itself when it reads, off the recording threads."""
        with self._lock:
            seq = self._seq
            self._build()
            if self._waiting and self._seq != seq:
                self._cond.notify_all()

    def _build(self) -> None:
        """Number, admit and make every event recorded so far, in the order recorded. Called with the
        lock held. Concurrent record()s append behind; popleft takes only what is there."""
        pending = self._pending
        popleft = pending.popleft
        limited = self._max_per_second
        while pending:
            form, fields = popleft()
            if form is None:
                kind = fields[_KIND]
                if limited and not self._admit(fields[_TS], kind):
                    self._suppressed += 1
                    continue
                if len(fields) != _RECORDED:  # (some left to their defaults)
                    fields = _bound(fields, {})
                if fields[_PARAMS] is not None or fields[_STATE] is not None or len(fields[_DETAIL]) > LIGHT_DETAIL:
                    self._keep_fields(fields, _measured(fields), True, admitted=True)
                    continue
            else:
                kind = form.kind
                if limited and not self._admit(fields[0], kind):
                    self._suppressed += 1
                    continue
                fields = form.fields(fields)  # (a form's events are light: not measured)
            # _keep_fields() of a light event, inline: this is the hot path
            self._seq += 1
            event = _tuple_new(Event, (self._seq, *fields))  # (Event(), less its arguments' binding: all are here)
            events = self._events
            if self._extra and len(events) == self._capacity:  # (the deque's maxlen drops the oldest in C)
                self.extra_bytes -= self._extra.pop(events[0].seq, 0)
            events.append(event)
            if kind in LIFECYCLE_KINDS:
                self._pin(event, LIGHT_BYTES)

    def _keep_fields(self, fields: tuple[Any, ...], nbytes: int, pin: bool, admitted: bool = False) -> Event | None:
        """Admit, number and keep one event from all its fields after `seq` (`nbytes`: its measured
        size, 0 for a light event). Called with the lock held."""
        kind = fields[_KIND]
        if self._max_per_second and not admitted and not self._admit(fields[_TS], kind):
            self._suppressed += 1
            return None
        if nbytes and nbytes > self.max_event_bytes:
            self.too_large += 1
            self._suppressed += 1
            return None
        head = fields[_HEAD]
        if head is not None and len(head) > PREVIEW_BYTES:  # cut before any formatting (only what is kept)
            fields = (*fields[:_HEAD], head[:PREVIEW_BYTES], *fields[_HEAD + 1:])
        self._seq += 1
        event = _tuple_new(Event, (self._seq, *fields))
        events = self._events
        if self._extra and len(events) == self._capacity:
            self.extra_bytes -= self._extra.pop(events[0].seq, 0)
        events.append(event)
        if nbytes:
            self._weigh(event, nbytes)
        if kind in LIFECYCLE_KINDS and pin:
            self._pin(event, nbytes or LIGHT_BYTES)
        return event

    def record_observed(self, rows: list[tuple[Any, ...]]) -> int:
        """Record several events of one data kind that were observed, not called (the capture's
        `packet`s), under one lock: each row is what record() takes (at least up to `detail`, and no
        payload over PREVIEW_BYTES). Each is admitted or suppressed as record() would; returns how
        many were recorded."""
        recorded = 0
        now = time.time()
        with self._lock:
            self._build()
            for row in rows:
                if self._max_per_second and not self._admit(now, row[_KIND]):
                    self._suppressed += 1
                    continue
                self._seq += 1
                event = Event(self._seq, *row)
                self._keep(event, LIGHT_BYTES if len(event.detail) <= LIGHT_DETAIL
                           else event_bytes(event.detail, event.head, event.args, None, None))
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

    def relay_in(self, body: dict[str, Any], nbytes: int | None = None) -> Relayed | None:
        """Add an event another lab recorded (a checked JSON object with a `kind`): it keeps its own
        seq as `agent_seq` and gets this bus's next one. Never rate-limited here: its lab did that.
        `nbytes`: its JSON's length when the caller has it (it read the JSON); measured otherwise.
        None when it is over the size of one event (counted, as record() does)."""
        if nbytes is None:
            nbytes = _json_bytes(body)
        nbytes += 40  # (the two seqs this adds)
        with self._lock:
            self._build()
            if nbytes > self.max_event_bytes:
                self.too_large += 1
                self._suppressed += 1
                return None
            self._seq += 1
            body["agent_seq"], body["seq"] = body.get("seq"), self._seq
            event = Relayed(self._seq, str(body["kind"]), body)
            self._keep(event, nbytes)
            if self._waiting:
                self._cond.notify_all()
        return event

    @property
    def bytes(self) -> int:
        """The ring's size as JSON (light events counted at LIGHT_BYTES each)."""
        if self._pending:
            with self._lock:
                self._build()
        return len(self._events) * LIGHT_BYTES + self.extra_bytes

    def _keep(self, event: Recorded, nbytes: int) -> None:
        """Append to the ring (and pin a lifecycle event). Called with the lock held."""
        events = self._events
        if self._extra and len(events) == self._capacity:
            self.extra_bytes -= self._extra.pop(events[0].seq, 0)
        events.append(event)
        self._weigh(event, nbytes)
        if event.kind in LIFECYCLE_KINDS:
            self._pin(event, nbytes)

    def _weigh(self, event: Recorded, nbytes: int) -> None:
        """Count what a measured event holds beyond a light one; the oldest events leave until the
        ring is within its bytes. Only the old end is ever cut, so the ring stays consecutive."""
        extra = nbytes - LIGHT_BYTES
        if extra <= 0:
            return
        self._extra[event.seq] = extra
        self.extra_bytes += extra
        events = self._events
        while len(events) * LIGHT_BYTES + self.extra_bytes > self.max_bytes and len(events) > 1:
            self.extra_bytes -= self._extra.pop(events.popleft().seq, 0)

    def _pin(self, event: Recorded, nbytes: int) -> None:
        pinned, sizes = self._pinned, self._pinned_sizes
        if len(pinned) == self._pinned_capacity:
            self.pinned_bytes -= sizes[0]
        pinned.append(event)
        sizes.append(nbytes)
        self.pinned_bytes += nbytes
        while self.pinned_bytes > self.max_pinned_bytes and len(pinned) > 1:
            pinned.popleft()
            self.pinned_bytes -= sizes.popleft()

    def since(self, after: int, limit: int = 1000, max_bytes: int | None = None) -> tuple[list[Recorded], int]:
        """Events with seq > after (oldest first, at most `limit`, and at most `max_bytes` of them but
        always the first), and how many of them were dropped. A reader cut short by `limit` or
        `max_bytes` asks again after the last one it got: what it did not get yet is not counted."""
        limit = max(0, limit)
        with self._cond:
            self._build()
            first = self._events[0].seq if self._events else self._seq + 1
            older: list[Recorded] = []
            spent = 0
            if after + 1 < first:
                for event, nbytes in zip(self._pinned, self._pinned_sizes, strict=True):
                    if after < event.seq < first:
                        if len(older) >= limit or (max_bytes is not None and older and spent + nbytes > max_bytes):
                            limit = len(older)  # cut: the rest come next time
                            break
                        older.append(event)
                        spent += nbytes
            size = len(self._events)
            start = max(0, after + 1 - first)
            end = min(size, start + limit - len(older))
            newer = _slice(self._events, start, end) if start < end else []
            if max_bytes is not None and newer:
                extra, taken = self._extra, 0
                for event in newer:
                    nbytes = LIGHT_BYTES + extra.get(event.seq, 0) if extra else LIGHT_BYTES
                    if (older or taken) and spent + nbytes > max_bytes:
                        del newer[taken:]
                        break
                    spent += nbytes
                    taken += 1
            if older and not newer:  # (the gaps up to the last one given: the reader goes on from there)
                return older, older[-1].seq - after - len(older)
            return older + newer, max(0, first - after - 1) - len(older)

    def wait(self, after: int, timeout: float, cancelled: Callable[[], bool] = lambda: False) -> bool:
        """Block until an event newer than `after` exists, `cancelled()` (checked on wake()), or the timeout."""
        with self._cond:
            self._waiting += 1
            try:
                self._build()  # (after counting itself in: a record() from now on sees it waiting)
                return self._cond.wait_for(lambda: self._seq > after or cancelled(), timeout) and self._seq > after
            finally:
                self._waiting -= 1

    def wake(self) -> None:
        """Wake every waiter (used when shutting down)."""
        with self._cond:
            self._cond.notify_all()
