"""The checker on its own, over a real event bus: a row per student, an `exercise` event only when a row
changes, what a run of a program keeps bounded however much it says, and the results kept in a state folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from lab.events.bus import Event, EventBus
from lab.exercises import checker as checker_module
from lab.exercises.checker import MAX_KEPT, MAX_SOCKETS, OUTPUT_HEAD, OUTPUT_TAIL, Checker, Program, chosen
from lab.exercises.registry import exercise
from webapp.state import StateDir

from ..support import Resources, wait_until


class Posted:
    """Events as a traced program posts them and the dashboard relays them (numbered by the bus)."""

    def __init__(self, bus: EventBus, name: str) -> None:
        self.bus, self.name, self.seq = bus, name, 0

    def __call__(self, socket: int, kind: str, call: str | None = None, **fields: Any) -> dict[str, Any]:
        self.seq += 1
        local, peer = fields.pop("local", None), fields.pop("peer", None)
        body = Event(0, time.time(), f"s{socket}@{self.name}", None, fields.pop("proto", "tcp"), kind,
                     None if local is None else tuple(local), None if peer is None else tuple(peer), 0, None, kind,
                     call=call, **fields).to_json()
        body["seq"], body["agent"] = self.seq, self.name
        self.bus.relay_in(body)
        return body


def a_client(post: Posted, socket: int = 1) -> list[dict[str, Any]]:
    """A client's calls: connect, send bytes, receive the reply and the end, close."""
    return [post(socket, "connect", "connect", local=["127.0.0.1", 40000 + socket], peer=["127.0.0.1", 5000]),
            post(socket, "send", "sendall", result=3), post(socket, "recv", "recv", result=5),
            post(socket, "recv", "recv", result=0), post(socket, "close", "close")]


def rows_of(checker: Checker) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in checker.results()["students"]}


def exercise_events(bus: EventBus) -> list[dict[str, Any]]:
    return [e.to_json() for e in bus.since(0, 100_000)[0] if e.kind == "exercise"]


def test_a_hundred_students_each_get_one_row_and_an_event_only_when_it_changes(resources: Resources) -> None:
    bus = EventBus(capacity=100_000)
    checker = Checker(bus)
    checker.begin(7, exercise("client"))
    try:
        names = [f"student-{n}" for n in range(100)]
        for n, name in enumerate(names):
            checker.feed(name, 1, f"10.0.{n // 250}.{n % 250 + 1}", a_client(Posted(bus, name)))
        wait_until(lambda: len(rows_of(checker)) == 100 and len(exercise_events(bus)) == 100, 30)
        row = rows_of(checker)["student-42"]
        assert row["address"] == "10.0.0.43"
        assert row["checks"] == {"client-call-order": "pass", "sends-bytes": "pass", "name-received": "pending",
                                 "closed": "pass"}
        assert row["hints"] == [] and row["reasons"] == {} and set(row["passed_at"]) == {"client-call-order",
                                                                                         "sends-bytes", "closed"}
        event = next(e for e in exercise_events(bus) if e["params"]["name"] == "student-42")
        assert event["params"] == {"stage": 7, "exercise": "client", **row} and event["endpoint"] == ""
        # the same calls again: every row stays as it was, and no event says otherwise
        again = Posted(bus, "student-42")
        again.seq = 100
        checker.feed("student-42", 1, "10.0.0.43", a_client(again, socket=2))
        checker.feed("student-43", 1, "10.0.0.44", [Posted(bus, "student-43")(9, "send", "send", result=1)])
        time.sleep(0.3)  # (two rounds of the evaluator: nothing changed, so nothing may be said)
        assert len(exercise_events(bus)) == 100
        # a str sent: that row, and only that one, changes
        post = Posted(bus, "student-7")
        post.seq = 100
        checker.feed("student-7", 1, "10.0.0.8", [post(3, "error", "sendall", code="send-str",
                                                       params={"call": "sendall"})])
        wait_until(lambda: rows_of(checker)["student-7"]["checks"]["sends-bytes"] == "fail", 10)
        assert rows_of(checker)["student-7"]["hints"] == ["sends-bytes"]
        assert rows_of(checker)["student-7"]["reasons"] == {"sends-bytes": {"reason": "sent-str",
                                                                            "params": {"call": "sendall"}}}
        assert len(exercise_events(bus)) == 101
    finally:
        checker.end()
    resources.settled(10)


def test_a_round_takes_new_programs_first_then_whoever_waited_longest_and_no_more_than_its_limit() -> None:
    waiting = [f"old-{n}" for n in range(30)] + ["new-a"] + [f"old-{n}" for n in range(30, 40)] + ["new-b"]
    new = {"new-a", "new-b"}
    picked = chosen(waiting, new.__contains__, 10)
    assert picked == ["new-a", "new-b"] + [f"old-{n}" for n in range(8)]
    assert chosen(waiting, lambda name: False, 5) == waiting[:5]  # nobody new: in the order they started waiting
    assert chosen([f"new-{n}" for n in range(50)], lambda name: True, 4) == [f"new-{n}" for n in range(4)]
    assert chosen([], new.__contains__, 10) == []


def test_a_class_posting_all_the_time_never_keeps_anyone_waiting_for_long() -> None:
    """100 programs always with something new, and a program started at every round: each new program is
    in the round it arrived in, and no one waits more rounds than the class needs to go round once."""
    limit = 20
    queue: dict[str, int] = {f"s{n}": 0 for n in range(100)}  # name -> the round it started waiting in
    seen: set[str] = set(queue)  # (their first rows were shown before)
    longest = 0
    for round_ in range(1, 200):
        queue[f"joined-{round_}"] = round_
        picked = chosen(list(queue), lambda name: name not in seen, limit)
        assert f"joined-{round_}" in picked
        for name in picked:
            longest = max(longest, round_ - queue.pop(name))
            seen.add(name)
            queue[name] = round_  # (its program said something new meanwhile: waiting again, at the end)
    assert longest <= -(-(100 + 200) // (limit - 1))  # (the old students, and the joined ones, go round in turn)
    assert longest >= 5  # (the bound above is not trivially loose: most of the class does wait its turn)


def test_a_row_that_changes_again_at_once_is_said_once_its_gap_has_passed_and_not_evaluated_meanwhile(
        monkeypatch: pytest.MonkeyPatch) -> None:
    evaluated: list[str] = []
    real = checker_module.trace.evaluate

    def counted(exercise: Any, events: Any) -> Any:
        evaluated.append("x")
        return real(exercise, events)

    monkeypatch.setattr(checker_module.trace, "evaluate", counted)
    bus = EventBus()
    checker = Checker(bus)
    checker.begin(3, exercise("client"))
    try:
        post = Posted(bus, "ann")
        checker.feed("ann", 1, "10.0.0.2", a_client(post))
        wait_until(lambda: len(exercise_events(bus)) == 1, 10)
        checker.feed("ann", 1, "10.0.0.2", [post(1, "error", "sendall", code="send-str", params={"call": "sendall"})])
        wait_until(lambda: len(exercise_events(bus)) == 2, 10)  # (the newest row, once EVENT_GAP has passed)
        assert exercise_events(bus)[-1]["params"]["checks"]["sends-bytes"] == "fail"
        assert exercise_events(bus)[-1]["ts"] - exercise_events(bus)[0]["ts"] >= checker_module.EVENT_GAP - 0.01
        # evaluated for the first row, for the change (too soon to say), and when it may be said: the
        # rounds in between do not evaluate it again and again
        assert len(evaluated) <= 4, evaluated
    finally:
        checker.end()


def test_a_new_run_of_a_program_is_checked_afresh_and_a_late_batch_of_the_old_one_is_ignored() -> None:
    bus = EventBus()
    checker = Checker(bus)
    checker.begin(2, exercise("client"))
    try:
        post = Posted(bus, "ann")
        checker.feed("ann", 1, "10.0.0.2", a_client(post))
        wait_until(lambda: rows_of(checker).get("ann", {}).get("checks", {}).get("closed") == "pass", 10)
        first_passed = rows_of(checker)["ann"]["passed_at"]["closed"]
        checker.feed("ann", 2, "10.0.0.2", [post(1, "connect", "connect")])  # the student runs it again
        wait_until(lambda: rows_of(checker)["ann"]["checks"]["closed"] == "pending", 10)
        checker.feed("ann", 1, "10.0.0.2", [post(5, "close", "close")])  # (a retry of the first run's batch)
        time.sleep(0.2)
        row = rows_of(checker)["ann"]
        assert row["checks"]["closed"] == "pending"
        assert row["passed_at"]["closed"] == first_passed  # when it first passed: not forgotten
    finally:
        checker.end()


def test_what_a_run_keeps_is_bounded_however_much_the_program_says() -> None:
    bus = EventBus(capacity=1000)
    program = Program(1)
    post = Posted(bus, "flood")
    for n in range(20_000):
        program.add(post(n % 500, "send", "send", result=1))
        if n % 7 == 0:
            program.add(post(n % 500, "error", "send", code="send-str", params={"call": "send"}))
    for _ in range(200):
        program.add(post(0, "output", None, args={"text": "x" * 100, "stream": "stdout"}))
    assert program.taken == 20_000 + 2858 + 200
    assert len(program.sockets) <= MAX_SOCKETS
    assert program.kept == sum(len(s.events()) for s in program.sockets.values()) <= MAX_KEPT
    assert program.size() == program.kept + OUTPUT_HEAD + OUTPUT_TAIL
    kept = program.events()
    assert [e["seq"] for e in kept] == sorted(e["seq"] for e in kept)
    assert all(e["endpoint"].startswith("s") for e in kept)


def test_a_listener_is_followed_until_it_closes_and_a_new_one_replaces_it() -> None:
    bus = EventBus()
    program = Program(1)
    post = Posted(bus, "ann")
    program.add(post(1, "listen", "listen", local=["0.0.0.0", 5001]))
    assert program.listener is not None and program.listener.port == 5001
    program.add(post(2, "listen", "listen", local=["0.0.0.0", 5002]))
    assert program.listener.port == 5002
    program.add(post(2, "close", "close"))
    assert program.listener is None
    program.add(post(3, "listen", "listen", proto="udp", local=["0.0.0.0", 5003]))
    assert program.listener is None  # (the lab probes TCP servers only)


def test_the_results_outlive_the_checker_in_the_state_folder(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    bus = EventBus()
    checker = Checker(bus, state)
    checker.begin(3, exercise("client"))
    checker.feed("ann", 1, "10.0.0.2", a_client(Posted(bus, "ann")))
    wait_until(lambda: "ann" in rows_of(checker), 10)
    checker.end()
    kept = rows_of(checker)
    again = Checker(EventBus(), state)
    assert again.results() == {"exercise": "client", "running": False, "stage": 3, "students": list(kept.values())}
    assert (tmp_path / "state" / "exercise-client.json").stat().st_mode & 0o777 == 0o600
