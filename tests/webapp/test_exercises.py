"""The class at work on an exercise, end to end: the teacher starts it on the stage, students who joined run
their own programs under the one-file tracer they downloaded, posting to a live dashboard; the lab checks
them (their calls, and as the peer of their servers, one at a time), and every page sees each row change
as an `exercise` event (the real python-socketio client). Then the attacks: a student posting for
another, a forged listener, a silent server, a flood of calls, formulas in the CSV, a restart."""

from __future__ import annotations

import csv
import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from lab.events.bus import Event
from lab.exercises.checker import MAX_KEPT, OUTPUT_HEAD, OUTPUT_TAIL
from lab.exercises.registry import EXERCISES, REASONS, exercise
from webapp import create_app, shutdown
from webapp.auth import Access

from ..exercises.traced import PROGRAMS
from ..support import EventCollector, LiveServer, Resources, serve, wait_until

CONTROL, VIEW, CODE = "control-exercises", "view-exercises", "Q7K2XM"
WAIT = 3.0  # seconds a probe waits for an answer (the peer tests' own)
TIMEOUT = 60


def as_(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def dashboard(folders: dict[str, Path]) -> Iterator[LiveServer]:
    app = create_app({"TESTING": True, "FILES": str(folders["files"]), "DOWNLOADS": str(folders["downloads"]),
                      "ACCESS": Access(CONTROL, VIEW), "JOIN_CODE": CODE})
    app.extensions["socketlab_checker"].wait = WAIT
    with serve(app, "exercise-dashboard") as live:
        yield live
    shutdown(app)


def joined(live: LiveServer, name: str) -> str:
    answer = requests.post(f"{live.url}/api/join", json={"code": CODE, "name": name}, timeout=5)
    assert answer.status_code == 200 and answer.json()["name"] == name, answer.text
    return str(answer.json()["token"])


def begin(live: LiveServer, body: dict[str, Any], token: str = CONTROL) -> requests.Response:
    return requests.post(f"{live.url}/api/stage", json=body, headers=as_(token), timeout=30)


def results(live: LiveServer, token: str = VIEW) -> dict[str, Any]:
    answer = requests.get(f"{live.url}/api/exercise/results", headers=as_(token), timeout=5)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def row(live: LiveServer, name: str) -> dict[str, Any]:
    return next((r for r in results(live)["students"] if r["name"] == name), {})


class Program:
    """A student's program run as the student runs it: `python3 socketlab_trace.py my_server.py ...`, with the
    file their page gave them (their token and the dashboard's address in it), in a process group of its own."""

    def __init__(self, live: LiveServer, token: str, folder: Path, program: str, *args: str) -> None:
        tracer = folder / "socketlab_trace.py"
        if not tracer.exists():
            answer = requests.get(f"{live.url}/trace.py", headers=as_(token), timeout=10)
            assert answer.status_code == 200, answer.text
            tracer.write_text(answer.text, encoding="utf-8")
        self.process = subprocess.Popen([sys.executable, "-I", str(tracer), str(PROGRAMS / program), *args],
                                        cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={},
                                        process_group=0)

    def port(self) -> int:
        assert self.process.stdout is not None
        return int(self.process.stdout.readline())

    def finish(self) -> None:
        self.process.communicate(timeout=TIMEOUT)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.communicate(timeout=TIMEOUT)


def every(state: str, checks: dict[str, str]) -> bool:
    return bool(checks) and all(s == state for s in checks.values())


def test_the_exercises_are_listed_with_the_sentences_of_their_reasons(dashboard: LiveServer) -> None:
    student = joined(dashboard, "Ann")
    listed = requests.get(f"{dashboard.url}/api/exercises", headers=as_(student), timeout=5).json()
    assert [e["key"] for e in listed] == list(EXERCISES)
    for each in listed:
        assert {"key", "n", "title", "checks", "reasons"} <= set(each)
        assert all({"code", "text"} <= set(c) and set(c["text"]) == {"en", "zh"} for c in each["checks"])
        assert each["reasons"] == REASONS


def test_the_teacher_starts_and_ends_an_exercise_and_bad_requests_get_a_sentence(dashboard: LiveServer) -> None:
    student = joined(dashboard, "Ann")
    assert requests.get(f"{dashboard.url}/api/stage", headers=as_(VIEW), timeout=5).json()["exercise"] is None
    for body, code in [({"exercise": "echo"}, "not-a-choice"), ({"exercise": 3}, "not-a-choice"),
                       ({"exercise": "echo-server", "lesson": 1}, "stage-lesson-and-exercise"),
                       ({"exercise": "echo-server", "extra": 1}, "unknown-field")]:
        refused = begin(dashboard, body)
        assert refused.status_code == 400 and refused.json()["code"] == code, refused.text
        assert refused.json()["error"] and "Traceback" not in refused.text
    for token, code in [(VIEW, "view-only"), (student, "student-only")]:
        refused = begin(dashboard, {"exercise": "echo-server"}, token)
        assert refused.status_code == 403 and refused.json()["code"] == code
    started = begin(dashboard, {"exercise": "echo-server"})
    assert started.status_code == 201, started.text
    stage = started.json()
    assert stage["exercise"] == {"key": "echo-server", "servers": [], "file": None, "n": 1,
                                 "title": {"en": "Echo server", "zh": "回显服务器"}}
    assert stage["lesson"] is None and stage["teacher"]["view"] == "board"
    assert results(dashboard, student) == {"exercise": "echo-server", "running": True, "stage": stage["stage"],
                                           "students": []}
    ended = begin(dashboard, {})
    assert ended.status_code == 201 and ended.json()["exercise"] is None
    assert results(dashboard)["running"] is False and results(dashboard)["exercise"] == "echo-server"
    # results are computed, never posted: not even by the teacher
    for method in ("post", "put", "delete"):
        refused = requests.request(method, f"{dashboard.url}/api/exercise/results", headers=as_(CONTROL), timeout=5,
                                   json={"students": [{"name": "Ann", "checks": {"echo-exact": "pass"}}]})
        assert refused.status_code == 405 and refused.json()["code"] == "method-not-allowed"
    # nor slipped in as a traced program's event: a program's kinds are its socket calls
    forged = event("Ann", 1, "exercise", endpoint="", params={"name": "Ann", "checks": {"echo-exact": "pass"}})
    answer = requests.post(f"{dashboard.url}/api/traces/Ann/events", headers=as_(student), timeout=5,
                           json={"boot": 1, "events": [forged]})
    assert answer.status_code == 200 and answer.json()["refused"] == 1
    assert results(dashboard)["students"] == []
    # the CSV is the teacher's: it holds every student's address
    for token in (VIEW, student):
        refused = requests.get(f"{dashboard.url}/api/exercise/results.csv", headers=as_(token), timeout=5)
        assert refused.status_code == 403 and refused.json()["code"] == "control-only"


def test_students_servers_are_checked_live_and_every_page_sees_their_rows(dashboard: LiveServer,
                                                                          tmp_path_factory: pytest.TempPathFactory,
                                                                          ) -> None:
    ann, bob = joined(dashboard, "Ann"), joined(dashboard, "Bob")
    page = EventCollector(dashboard.url, auth={"token": VIEW})
    before = Resources.now()
    stage = begin(dashboard, {"exercise": "echo-server"}).json()["stage"]
    programs = [Program(dashboard, ann, tmp_path_factory.mktemp("ann"), "echo_server.py", "0", "6"),
                Program(dashboard, bob, tmp_path_factory.mktemp("bob"), "echo_one_recv.py", "0", "6")]
    try:
        for program in programs:  # (each serves the lab's six clients, then ends)
            program.port()
        for program in programs:
            program.finish()
        textbook = {c.code for c in exercise("echo-server").checks}
        wait_until(lambda: every("pass", row(dashboard, "Ann").get("checks", {})), TIMEOUT)
        wait_until(lambda: {c for c, s in row(dashboard, "Bob").get("checks", {}).items() if s == "pass"}
                   == textbook - {"echo-split", "recv-loop"}, TIMEOUT)
    finally:
        for program in programs:
            program.stop()
    bobs = row(dashboard, "Bob")
    assert bobs["hints"] == ["echo-split", "recv-loop"]
    assert bobs["reasons"]["echo-split"]["reason"] in ("cut-short", "connection-reset")
    assert bobs["reasons"]["recv-loop"]["reason"] in ("stopped-reading", "missed-pieces")
    assert bobs["address"] == "127.0.0.1" and set(bobs["passed_at"]) == textbook - {"echo-split", "recv-loop"}

    # every page saw each row as it changed, and its last event is the row as the results give it
    def last_seen(name: str) -> dict[str, Any] | None:
        seen = [e["params"] for e in page.events if e["kind"] == "exercise" and e["params"]["name"] == name]
        return seen[-1] if seen else None

    for name in ("Ann", "Bob"):
        wait_until(lambda name=name: last_seen(name) == {"stage": stage, "exercise": "echo-server",
                                                          **row(dashboard, name)}, 10)
        said = [e["params"] for e in page.events if e["kind"] == "exercise" and e["params"]["name"] == name]
        assert all(a != b for a, b in zip(said, said[1:], strict=False)), "an event for a row that did not change"

    # Bob posts under Ann's name: refused, and Ann's row is untouched
    anns = row(dashboard, "Ann")
    forged = requests.post(f"{dashboard.url}/api/traces/Ann/events", headers=as_(bob), timeout=5,
                           json={"boot": 2 ** 50, "events": [event("Ann", 1, "error", "sendall", code="send-str",
                                                                   params={"call": "sendall"})]})
    assert forged.status_code == 403 and forged.json()["code"] == "student-other-trace"
    time.sleep(0.2)  # (a round of the checker, had anything reached it)
    assert row(dashboard, "Ann") == anns

    # the teacher's CSV: one row a student, each check and when it first passed
    table = list(csv.reader(io.StringIO(requests.get(f"{dashboard.url}/api/exercise/results.csv", headers=as_(CONTROL),
                                                     timeout=5).text)))
    codes = [c.code for c in exercise("echo-server").checks]
    assert table[0] == ["name", "address", "exercise", *(f"{c}{p}" for c in codes for p in ("", " first passed"))]
    assert [r[:3] for r in table[1:]] == [["Ann", "127.0.0.1", "echo-server"], ["Bob", "127.0.0.1", "echo-server"]]
    assert table[2][3 + 2 * codes.index("echo-split")] == "fail" and table[2][4 + 2 * codes.index("echo-split")] == ""
    assert table[1][4].endswith("Z") and table[1][4].startswith(time.strftime("%Y-"))

    # the exercise ends: its threads are gone, what was opened for it is closed
    assert begin(dashboard, {}).status_code == 201
    page.sio.disconnect()
    before.settled(TIMEOUT)


def event(name: str, seq: int, kind: str, call: str | None = None, endpoint: str | None = None,
          **fields: Any) -> dict[str, Any]:
    """An event as the tracer posts it."""
    local = fields.pop("local", None)
    body = Event(seq, time.time(), endpoint if endpoint is not None else f"s1@{name}", None, fields.pop("proto", "tcp"),
                 kind, None if local is None else tuple(local), None, 0, None, kind, call=call, **fields).to_json()
    body["agent"] = name
    return body


def post(live: LiveServer, token: str, name: str, boot: int, events: list[dict[str, Any]]) -> None:
    answer = requests.post(f"{live.url}/api/traces/{name}/events", headers=as_(token),
                           json={"boot": boot, "events": events}, timeout=30)
    assert answer.status_code == 200 and answer.json()["refused"] == 0, answer.text


def test_the_lab_probes_only_the_students_own_listener_and_a_silent_one_costs_a_bounded_wait(
        dashboard: LiveServer, tmp_path: Path) -> None:
    ann = joined(dashboard, "Ann")
    begin(dashboard, {"exercise": "http-server"})
    with socket.create_server(("127.0.0.1", 0)) as decoy:  # someone else's server, on the same machine
        decoy.setblocking(False)
        # Ann's events say she listens on the decoy's port, at an address that is not where she posts from
        post(dashboard, ann, "Ann", 1, [event("Ann", 1, "setup", "bind", args={"address": ["10.1.2.3", 1]}),
                                        event("Ann", 2, "listen", "listen", local=["10.1.2.3", decoy.getsockname()[1]])])
        wait_until(lambda: row(dashboard, "Ann").get("checks", {}).get("http-status-line") == "fail", TIMEOUT)
        reason = row(dashboard, "Ann")["reasons"]["http-status-line"]
        assert reason["reason"] == "listener-unreachable" and reason["params"]["host"] == "127.0.0.1"
        assert "10.1.2.3" in reason["params"]["address"]
        # then her real program: it accepts and never answers
        silent = Program(dashboard, ann, tmp_path, "http_silent.py", "0", "1")
        try:
            silent.port()
            wait_until(lambda: row(dashboard, "Ann")["reasons"].get("http-status-line", {}).get("reason")
                       == "no-answer", TIMEOUT)
            silent.finish()
        finally:
            silent.stop()
        assert row(dashboard, "Ann")["reasons"]["http-closes"] == {"reason": "no-answer", "params": {"seconds": WAIT}}
        with pytest.raises(BlockingIOError):
            decoy.accept()  # the lab never connected to it
    assert requests.get(f"{dashboard.url}/api/health", timeout=5).json() == {"status": "ok"}


def test_a_flood_of_calls_is_kept_bounded_and_the_dashboard_answers(dashboard: LiveServer) -> None:
    ann = joined(dashboard, "Ann")
    begin(dashboard, {"exercise": "echo-server"})
    checker = dashboard.app.extensions["socketlab_checker"]
    seq, seen = 0, set()
    for batch in range(15):
        events = []
        for n in range(2000):
            seq += 1
            endpoint = f"s{seq % 20}@Ann"
            if endpoint not in seen:  # each socket an accepted one, then its sends from "threads" that are lists
                seen.add(endpoint)
                events.append(event("Ann", seq, "accept", "accept", endpoint=endpoint, args={"listener": "s0@Ann"}))
                continue
            events.append(event("Ann", seq, "send", "send", endpoint=endpoint,
                                args={"thread": [batch, n]}))  # (not a thread's name: text the checks take as text)
        post(dashboard, ann, "Ann", 1, events)
        assert requests.get(f"{dashboard.url}/api/health", timeout=10).status_code == 200
    wait_until(lambda: row(dashboard, "Ann").get("checks", {}).get("sends-bytes") == "pass", TIMEOUT)
    assert row(dashboard, "Ann")["checks"]["thread-per-client"] == "pass"
    stats = checker.stats()
    assert stats["kept_events"] <= MAX_KEPT + OUTPUT_HEAD + OUTPUT_TAIL
    assert stats["students"] == 1


def test_the_csv_takes_no_formula_from_a_name(folders: dict[str, Path]) -> None:
    """A dashboard on loopback needs no token: its user traces programs under any name, formulas included."""
    app = create_app({"TESTING": True, "FILES": str(folders["files"]), "DOWNLOADS": str(folders["downloads"])})
    try:
        with serve(app, "exercise-csv") as live:
            begin(live, {"exercise": "client"}, token="")
            for name in ("-2-3", "=cmd", "+1"):
                answer = requests.post(f"{live.url}/api/traces/{name}/events", timeout=10, json={
                    "boot": 1, "events": [event(name, 1, "connect", "connect"), event(name, 2, "send", "send")]})
                if answer.status_code == 200:
                    wait_until(lambda name=name: row(live, name), TIMEOUT)
            text = requests.get(f"{live.url}/api/exercise/results.csv", timeout=5).text
    finally:
        shutdown(app)
    table = list(csv.reader(io.StringIO(text)))
    assert [r[0] for r in table[1:]] == ["'-2-3"]  # (the others are not names a trace takes)
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in table for cell in r)


def test_the_results_survive_a_restart_of_the_dashboard(folders: dict[str, Path], state_dir: Path) -> None:
    config = {"TESTING": True, "FILES": str(folders["files"]), "DOWNLOADS": str(folders["downloads"]),
              "ACCESS": Access(CONTROL, VIEW), "JOIN_CODE": CODE}
    app = create_app(config)
    try:
        with serve(app, "exercise-before") as live:
            ann = joined(live, "Ann")
            begin(live, {"exercise": "client"})
            post(live, ann, "Ann", 1, [event("Ann", 1, "connect", "connect"), event("Ann", 2, "send", "sendall")])
            wait_until(lambda: row(live, "Ann").get("checks", {}).get("sends-bytes") == "pass", TIMEOUT)
            before = results(live)
    finally:
        shutdown(app)
    again = create_app(config)
    try:
        with serve(again, "exercise-after") as live:
            assert results(live) == {**before, "running": False}
            assert results(live, ann)["students"][0]["passed_at"] == before["students"][0]["passed_at"]
    finally:
        shutdown(again)
    assert (state_dir / "exercise-client.json").exists()


class LabSideDouble:
    """The lab's side of an exercise that serves the students (lab/exercises/serving.py's shape), as small as
    can be: one real reply server through the LabClient, and "name-received" judged from the program's own
    connect to it. The stage's wiring is what is tested here, not the lab's exercise servers."""

    made: list[LabSideDouble] = []

    def __init__(self, exercise: Any, client: Any, host: str) -> None:
        self.exercise, self.client, self.host = exercise, client, host
        self.port = 0
        self.closed = False
        LabSideDouble.made.append(self)

    def start(self) -> dict[str, Any]:
        server = self.client.call("endpoints.create", {"body": {"kind": "tcp-server", "host": "127.0.0.1", "port": 0,
                                                                "mode": "reply", "reply": "hello"}})
        self.port = server["local"][1]
        return {"servers": [{"proto": "tcp", "host": self.host, "port": self.port, "role": "greet"}], "file": None}

    def results(self, program: Any) -> dict[str, Any]:
        from lab.exercises.results import passed

        reached = any(e["kind"] == "connect" and (e.get("peer") or [None, None])[1] == self.port for e in program)
        return {"name-received": passed("name-received")} if reached else {}

    def close(self) -> None:
        self.closed = True


def test_an_exercise_that_serves_the_students_builds_the_lab_side_and_its_checks_count(
        dashboard: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lab.stage.LabSide", LabSideDouble)
    monkeypatch.setattr("lab.stage.lab_side", lambda e: e.role == "serves")
    LabSideDouble.made.clear()
    ann = joined(dashboard, "Ann")
    stage = begin(dashboard, {"exercise": "client"}).json()
    side = LabSideDouble.made[-1]
    assert stage["exercise"] == {"key": "client", "servers": [{"proto": "tcp", "host": "127.0.0.1", "port": side.port,
                                                                "role": "greet"}], "file": None, "n": 2,
                                 "title": {"en": "Client", "zh": "客户端"}}
    program = Program(dashboard, ann, tmp_path, "client.py", str(side.port), "Ann")
    try:
        program.finish()
    finally:
        program.stop()
    wait_until(lambda: every("pass", row(dashboard, "Ann").get("checks", {})), TIMEOUT)
    assert begin(dashboard, {"exercise": "echo-server"}).status_code == 201
    assert side.closed and len(LabSideDouble.made) == 1  # (an exercise the lab connects to has no lab side)


class FailingSide(LabSideDouble):
    def start(self) -> dict[str, Any]:
        from lab import Refused

        raise Refused("port-in-use", port=7, host="0.0.0.0")


def test_an_exercise_whose_lab_side_cannot_start_says_why_and_the_class_goes_on(
        dashboard: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lab.stage.LabSide", FailingSide)
    monkeypatch.setattr("lab.stage.lab_side", lambda e: e.role == "serves")
    LabSideDouble.made.clear()
    started = begin(dashboard, {"exercise": "downloader"})
    assert started.status_code == 201
    assert started.json()["exercise"]["error"]["code"] == "port-in-use"
    assert LabSideDouble.made[-1].closed
    assert results(dashboard)["running"] is True  # (the checks of the students' own calls go on)
    assert begin(dashboard, {"lesson": 1}).status_code == 201
    assert results(dashboard)["running"] is False


def test_a_hundred_students_each_have_their_row_on_every_page(dashboard: LiveServer) -> None:
    tokens = {f"s{n:03}": joined(dashboard, f"s{n:03}") for n in range(100)}  # (at most 100 join from one address)
    page = EventCollector(dashboard.url, auth={"token": VIEW})
    try:
        begin(dashboard, {"exercise": "client"})
        for name, token in tokens.items():
            post(dashboard, token, name, 1, [event(name, 1, "connect", "connect"), event(name, 2, "send", "sendall"),
                                             event(name, 3, "close", "close")])

        def rows() -> list[dict[str, Any]]:
            return [e["params"] for e in page.events if e["kind"] == "exercise"]

        wait_until(lambda: len(rows()) == 100, TIMEOUT)
        assert sorted(r["name"] for r in rows()) == sorted(tokens)
        assert all(r["checks"] == {"client-call-order": "pass", "sends-bytes": "pass", "name-received": "pending",
                                   "closed": "pass"} for r in rows())
        assert [r["name"] for r in results(dashboard)["students"]] == sorted(tokens)
    finally:
        page.sio.disconnect()


def test_a_server_started_before_the_exercise_is_checked_from_its_first_call(dashboard: LiveServer,
                                                                            tmp_path: Path) -> None:
    ann = joined(dashboard, "Ann")
    server = Program(dashboard, ann, tmp_path, "echo_server.py", "0", "6")
    try:
        server.port()

        def listening() -> bool:
            found = requests.get(f"{dashboard.url}/api/events?after=0&limit=10000", headers=as_(VIEW), timeout=5)
            return any(e["kind"] == "listen" and e.get("agent") == "Ann" for e in found.json()["events"])

        wait_until(listening, TIMEOUT)
        begin(dashboard, {"exercise": "echo-server"})  # (the teacher begins when the class is ready)
        server.finish()
        wait_until(lambda: every("pass", row(dashboard, "Ann").get("checks", {})), TIMEOUT)
    finally:
        server.stop()
    # its end reached the checker too (a lab-side check that waits for the program's end reads it)
    program = dashboard.app.extensions["socketlab_checker"].programs["Ann"].program
    wait_until(lambda: any((e.get("args") or {}).get("event") == "down" for e in program.events()), TIMEOUT)
