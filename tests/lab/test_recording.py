"""Recording on the socket threads: a tuple into the bus's queue; the events are numbered, admitted and
made by the reader, in the order recorded, and an event over the per-second limit is counted, never made."""

from __future__ import annotations

import threading
import time
from typing import Any

from lab import EventBus
from lab.events.bus import PENDING, PREVIEW_BYTES, Event, Form


class Counted(Form):
    """A recv-like form that counts the events it was asked to make."""

    kind = "recv"

    def __init__(self) -> None:
        self.made = 0

    def fields(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        self.made += 1
        ts, n, head = values
        return (ts, "e1", "c1", "tcp", "recv", None, None, n, head, f"recv() returned {n} bytes", "recv", None, n,
                None, None, None, None, None, None, None)


def test_events_recorded_and_published_keep_the_order_they_were_recorded_in() -> None:
    bus = EventBus()
    form = Counted()
    bus.record_call(form, time.time(), 1, b"a")
    bus.record(time.time(), "e1", "c1", "tcp", "send", None, None, 1, b"b", "sent")
    accept = bus.publish("e1", "accept", conn="c2")  # (by name: at once, after what was queued)
    bus.record_call(form, time.time(), 2, b"cd")
    events, dropped = bus.since(0)
    assert [(e.seq, e.kind) for e in events] == [(1, "recv"), (2, "send"), (3, "accept"), (4, "recv")]
    assert accept is not None and accept.seq == 3 and dropped == 0 and bus.last_seq == 4
    assert all(type(e) is Event for e in events)
    assert events[3].detail == "recv() returned 2 bytes" and events[3].result == 2 and events[3].data == "cd"


def test_events_over_the_limit_are_counted_and_never_made() -> None:
    bus = EventBus(max_per_second=3)
    form = Counted()
    now = time.time()
    for i in range(10):
        bus.record_call(form, now, i, b"x")
    bus.record(now, "e1", "c1", "tcp", "close", None, None, 0, None, "closed")  # lifecycle: always kept
    assert bus.suppressed == 7
    assert form.made == 3
    assert [e.kind for e in bus.since(0)[0]] == ["recv", "recv", "recv", "close"]


def test_a_payload_is_held_as_its_preview_only() -> None:
    bus = EventBus()
    bus.record(time.time(), "e1", "c1", "tcp", "recv", None, None, 1 << 20, b"y" * (1 << 20), "a big recv")
    queued = bus._pending[0][1]
    assert len(queued[8]) == PREVIEW_BYTES  # (cut when recorded: the queue holds no megabyte)
    assert bus.since(0)[0][0].size == 1 << 20


def test_a_reader_that_waits_is_woken_by_a_recorded_event() -> None:
    bus = EventBus()
    woken: list[bool] = []
    waiting = threading.Thread(target=lambda: woken.append(bus.wait(0, timeout=30)))
    waiting.start()
    deadline = time.monotonic() + 10
    while not bus._waiting and time.monotonic() < deadline:
        time.sleep(0.001)
    bus.record_call(Counted(), time.time(), 1, b"a")
    waiting.join(30)
    assert woken == [True]


def test_nobody_reading_the_queue_is_made_in_batches_by_the_recording_thread() -> None:
    bus = EventBus(capacity=10 * PENDING)
    form = Counted()
    for i in range(PENDING + 10):
        bus.record_call(form, time.time(), i, b"z")
    assert form.made == PENDING  # (one batch once PENDING were queued; the rest wait for a reader)
    assert len(bus._pending) == 10
    assert bus.last_seq == PENDING + 10 and form.made == PENDING + 10
