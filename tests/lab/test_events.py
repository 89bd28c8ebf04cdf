"""The event bus and file name checks: pure code, tested with tables (the framers: test_framing.py)."""

from __future__ import annotations

import os
import random

import pytest

from lab import BadInput, EventBus, NotFound
from lab.events.bus import JSON_FIELDS, PREVIEW_BYTES, Event
from lab.files import FileStore


def test_bus_numbers_from_one_and_counts_what_left_the_buffer() -> None:
    bus = EventBus(capacity=3)
    for i in range(5):
        bus.publish("e1", "send", size=i)
    events, dropped = bus.since(0)
    assert [e.seq for e in events] == [3, 4, 5] and dropped == 2
    events, dropped = bus.since(3)
    assert [e.seq for e in events] == [4, 5] and dropped == 0
    assert bus.since(5) == ([], 0)
    events, _ = bus.since(0, limit=1)
    assert [e.seq for e in events] == [3]


def test_previews_are_cut_before_formatting() -> None:
    bus = EventBus()
    event = bus.publish("e1", "recv", payload=b"\xff" + b"a" * 10_000, size=10_001)
    assert event is not None and event.size == 10_001
    assert event.hex is not None and len(event.hex.split()) == PREVIEW_BYTES
    assert event.data is not None and event.data.startswith("\ufffd")  # invalid UTF-8 shows as such


# Events and their JSON forms, written out by hand: what the page, GET /api/events, agents and
# couriers read (CONTRACT "Events"); the form is generated from the Event's fields, these are not.
JSON_TABLE = [
    (Event(7, 1765000000.125, "e1", "c2", "tcp", "recv", ("127.0.0.1", 5000), ("127.0.0.1", 40000), 3, b"a\xffb",
           "recv() returned 3 bytes", "recv", {"bufsize": 65536}, 3),
     {"seq": 7, "ts": 1765000000.125, "endpoint": "e1", "conn": "c2", "proto": "tcp", "kind": "recv",
      "local": ["127.0.0.1", 5000], "peer": ["127.0.0.1", 40000], "size": 3, "data": "a\ufffdb", "hex": "61 ff 62",
      "detail": "recv() returned 3 bytes", "call": "recv", "args": {"bufsize": 65536}, "result": 3, "closed_by": None,
      "errno": None, "code": None, "params": None, "message": None, "framing": None, "state": None}),
    (Event(1, 2.5, "e3", None, "udp", "error", None, None, 0, None, "bind() failed", "bind", None, None, None,
           "EADDRINUSE", "address-in-use", {"port": 80}),
     {"seq": 1, "ts": 2.5, "endpoint": "e3", "conn": None, "proto": "udp", "kind": "error", "local": None, "peer": None,
      "size": 0, "data": None, "hex": None, "detail": "bind() failed", "call": "bind", "args": None, "result": None,
      "closed_by": None, "errno": "EADDRINUSE", "code": "address-in-use", "params": {"port": 80}, "message": None,
      "framing": None, "state": None}),
    (Event(9, 3.0, "e1", "c1", "tcp", "accept", ("0.0.0.0", 9), ("10.0.0.2", 5), 0, b"", "accept()", "accept", None,
           ("10.0.0.2", 5), "peer", None, None, None, 2, "line", {"id": "e1"}),
     {"seq": 9, "ts": 3.0, "endpoint": "e1", "conn": "c1", "proto": "tcp", "kind": "accept", "local": ["0.0.0.0", 9],
      "peer": ["10.0.0.2", 5], "size": 0, "data": "", "hex": "", "detail": "accept()", "call": "accept", "args": None,
      "result": ["10.0.0.2", 5], "closed_by": "peer", "errno": None, "code": None, "params": None, "message": 2,
      "framing": "line", "state": {"id": "e1"}}),
]


@pytest.mark.parametrize(("event", "form"), JSON_TABLE)
def test_the_json_form_of_an_event(event: Event, form: dict) -> None:
    made = event.to_json()
    assert made == form and list(made) == list(form) == list(JSON_FIELDS)
    assert made is not event.to_json()  # each call a dict of its own: a reader may add keys ("agent")


def test_rate_limit_keeps_lifecycle_events() -> None:
    bus = EventBus(max_per_second=3)
    results = [bus.publish("e1", "recv") for _ in range(10)]
    assert sum(r is not None for r in results) == 3 and bus.suppressed == 7
    assert bus.publish("e1", "close") is not None


def test_observed_events_recorded_in_one_go_share_the_limit_and_the_numbering() -> None:
    # the capture's packets: several rows under one lock, each admitted or suppressed as record() would
    bus = EventBus(max_per_second=5)
    assert bus.publish("e1", "recv") is not None  # one of the five this second
    rows = [(1.5 + i, "e1", "c1", "tcp", "packet", ("127.0.0.1", 1), ("127.0.0.1", 2), i, None, f"p{i}", None,
             {"len": i}) for i in range(10)]
    assert bus.record_observed(rows) == 4 and bus.suppressed == 6
    events = bus.since(0, 100)[0]
    assert [(e.seq, e.kind, e.detail) for e in events] == [(1, "recv", "")] + [(2 + i, "packet", f"p{i}") for i in range(4)]
    packet = events[1].to_json()
    assert packet["ts"] == 1.5 and packet["local"] == ["127.0.0.1", 1] and packet["args"] == {"len": 0}
    assert bus.record_observed([]) == 0


def test_every_high_volume_kind_is_rate_limited_but_lifecycle_and_some_errors_are_kept() -> None:
    # (a UDP flood at an impaired server once recorded 10,000 `lost` events in 1.3 s)
    bus = EventBus(max_per_second=50)
    assert bus.publish("e1", "listen") is not None
    kept = [bus.publish("e1", kind) for kind in ("lost", "tcp_info", "relay", "http", "backpressure") for _ in range(2000)]
    assert sum(e is not None for e in kept) == 50
    errors = [bus.publish("e1", "error") for _ in range(1000)]
    assert 0 < sum(e is not None for e in errors) < 1000
    assert all(bus.publish("e1", kind) is not None for kind in ("accept", "connect", "close", "shutdown", "refuse", "done"))
    assert bus.since(0, 1)[0][0].kind == "listen"


def test_lifecycle_events_outlive_a_flood_that_overflows_the_ring() -> None:
    bus = EventBus(capacity=10)
    bus.publish("e1", "listen")
    bus.publish("e1", "accept", conn="c1")
    for _ in range(100):
        bus.publish("e1", "recv", conn="c1")
    bus.publish("e1", "close", conn="c1")
    events, dropped = bus.since(0)
    assert [e.kind for e in events[:2]] == ["listen", "accept"] and events[-1].kind == "close"
    assert [e.seq for e in events] == [1, 2, *range(94, 104)] and dropped == 91
    assert [e.seq for e in bus.since(0, limit=1)[0]] == [1] and bus.since(0, limit=1)[1] == 0
    assert bus.since(1, limit=1) == ([events[1]], 0)
    assert [e.seq for e in bus.since(2)[0]] == list(range(94, 104)) and bus.since(2)[1] == 91
    assert bus.since(2, limit=3)[0][0].seq == 94


def test_wait_wakes_on_publish() -> None:
    bus = EventBus()
    assert not bus.wait(0, timeout=0.01)
    bus.publish("e1", "listen")
    assert bus.wait(0, timeout=0.01)


@pytest.mark.parametrize(
    "name",
    ["../etc/passwd", "..", "/etc/passwd", "a/b", "a\\b", "x\x00y", "%2e%2e%2fpasswd", "a" * 300,
     b"\xff\xfe.txt", "", "  "],
)
def test_file_names_outside_or_odd_are_refused(tmp_path, name) -> None:
    store = FileStore(tmp_path / "files")
    with pytest.raises(BadInput):
        store.resolve(name)


def test_symlink_out_of_the_folder_is_refused(tmp_path) -> None:
    store = FileStore(tmp_path / "files")
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", store.root / "link.txt")
    with pytest.raises(BadInput, match="outside"):
        store.resolve("link.txt")
    assert "link.txt" not in {f["name"] for f in store.listing()}
    with pytest.raises(NotFound):
        store.resolve("missing.txt")


def test_since_matches_a_plain_list_at_every_position() -> None:
    """since() walks from whichever end of the ring is nearer (a reader keeping up asks near the
    newest end): the same events as a plain list slice, for every `after` and `limit`."""
    rng = random.Random(7)
    for capacity in (1, 5, 50, 500):
        bus = EventBus(capacity=capacity, pinned=3)
        for _ in range(capacity * 3 + 10):
            bus.publish("e1", rng.choice(["send", "listen", "recv", "close"]))
            for _ in range(5):
                after, limit = rng.randint(0, bus.last_seq + 2), rng.randint(0, capacity + 5)
                held = list(bus._events)
                first = held[0].seq if held else bus.last_seq + 1
                older = [e for e in bus._pinned if after < e.seq < first] if after + 1 < first else []
                start = max(0, after + 1 - first)
                expected = older[:limit] if len(older) >= limit else older + held[start:start + limit - len(older)]
                got, _ = bus.since(after, limit)
                assert [e.seq for e in got] == [e.seq for e in expected], (capacity, after, limit)


# -- bounded in bytes as well as in count ---------------------------------------------------------------

BIG = {"names": {f"10.0.{i // 250}.{i % 250}": "x" * 90 for i in range(500)}}  # a stage with 500 long names: ~55 KB


def test_the_ring_is_bounded_in_bytes_and_stays_consecutive() -> None:
    bus = EventBus(capacity=10_000, max_bytes=1 << 20)
    for _ in range(100):
        bus.publish("", "send", params=BIG)  # (not lifecycle: the ring alone holds them)
    assert bus.bytes <= 1 << 20
    events, dropped = bus.since(0, 10_000)
    seqs = [e.seq for e in events]
    assert seqs == list(range(seqs[0], 101)) and len(seqs) < 100 and dropped == 100 - len(seqs)
    for _ in range(2000):
        bus.publish("e1", "recv", payload=b"x")
    assert bus.bytes <= 1 << 20 and bus.extra_bytes == 0  # the big ones left with the ring


def test_pinned_lifecycle_events_are_bounded_in_bytes_too() -> None:
    bus = EventBus(capacity=10, pinned=2_000, pinned_bytes=256 << 10)
    for _ in range(50):
        bus.publish("", "classroom", params=BIG)
    assert bus.pinned_bytes <= 256 << 10
    events, dropped = bus.since(0, 10_000)
    assert len(events) < 15 and dropped == 50 - len(events)


def test_one_event_over_the_cap_is_refused_whole_and_counted() -> None:
    bus = EventBus(max_event_bytes=16 << 10)
    assert bus.publish("", "classroom", params=BIG) is None
    assert bus.relay_in({"seq": 1, "kind": "send", "detail": "x" * 20_000}) is None
    assert bus.too_large == 2 and bus.suppressed == 2 and bus.last_seq == 0
    assert bus.publish("", "classroom", params={"stage": 1}) is not None  # a small one goes on


def test_a_reader_takes_the_history_in_answers_of_a_budget_and_misses_nothing() -> None:
    bus = EventBus(capacity=1_000, max_bytes=64 << 20)
    for i in range(200):
        bus.publish("", "send", params=BIG if i % 2 else None)
    got: list[int] = []
    after = 0
    while True:
        events, dropped = bus.since(after, 1000, max_bytes=256 << 10)
        assert dropped == 0 and events and len(events) <= 10
        got += [e.seq for e in events]
        after = events[-1].seq
        if after == bus.last_seq:
            break
    assert got == list(range(1, 201))
    one, _ = bus.since(0, 1000, max_bytes=1)
    assert [e.seq for e in one] == [1]  # always the first, however small the budget


def test_relayed_events_count_their_json() -> None:
    bus = EventBus(capacity=100, max_bytes=100 << 10)
    for i in range(20):
        assert bus.relay_in({"seq": i, "kind": "send", "detail": "y" * 10_000}, nbytes=10_050) is not None
    assert bus.bytes <= 100 << 10
    assert len(bus.since(0, 100)[0]) < 20
