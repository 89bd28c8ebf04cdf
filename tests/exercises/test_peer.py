"""The lab as the peer of a student's own server: real programs, traced as a student runs them, probed with
real sockets on 127.0.0.1; the textbook versions pass every check, each classic mistake fails exactly the
checks it should, and nothing of a probe outlives it (threads, fds, memory)."""

from __future__ import annotations

import socket
import threading
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from lab import Refused
from lab.exercises.peer import LIMIT, judge_http, probe, target
from lab.exercises.registry import exercise, reason_text
from lab.exercises.results import FAIL, PASS, PENDING, Result
from lab.exercises.trace import evaluate

from ..redis_server import RedisServer
from ..support import Resources
from .traced import Traced

WAIT = 3.0  # seconds a probe waits for an answer: generous on loopback, and what a silent server costs


def states(results: dict[str, Result]) -> dict[str, str]:
    return {code: r.state for code, r in results.items()}


def run_server(url: str, program: str, key: str, clients: int) -> tuple[dict[str, Result], dict[str, Result],
                                                                         list[dict[str, Any]]]:
    """The exercise's peer checks against `program`, then its trace checks once it has served `clients`."""
    server = Traced(url, program, "0", str(clients))
    try:
        port = server.port()
        peer = probe(exercise(key), server.listening(), "127.0.0.1", port, wait=WAIT)
        server.finish()
    finally:
        server.stop()
    events = server.events()
    return peer, evaluate(exercise(key), events), events


# program, exercise, clients the probes make, {check: (state, reasons allowed)} for every check not passed
SERVERS = [
    ("echo_server.py", "echo-server", 6, {}),
    ("echo_one_at_a_time.py", "echo-server", 6, {"three-clients": (FAIL, {"answered"}),
                                                  "thread-per-client": (FAIL, {"one-at-a-time"})}),
    ("echo_one_recv.py", "echo-server", 6, {"echo-split": (FAIL, {"cut-short", "connection-reset"}),
                                            "recv-loop": (FAIL, {"stopped-reading", "missed-pieces"})}),
    ("echo_no_close.py", "echo-server", 6, {"closed": (FAIL, {"never-closed"})}),
    ("relay.py", "relay", 3, {}),
    ("relay_to_all.py", "relay", 3, {"relay-not-sender": (FAIL, {"echoed-to-sender"})}),
    ("relay_one_at_a_time.py", "relay", 3, {"relay-others": (FAIL, {"not-relayed"}),
                                            "relay-not-sender": (PENDING, {None}),
                                            "thread-per-client": (FAIL, {"one-at-a-time"}),
                                            "sends-bytes": (PENDING, {None})}),
    ("http_server.py", "http-server", 1, {}),
    ("http_silent.py", "http-server", 1, {**{c: (FAIL, {"no-answer"}) for c in (
        "http-status-line", "http-headers", "http-body-length", "http-closes")}, "sends-bytes": (PENDING, {None})}),
    ("http_flood.py", "http-server", 1, {"http-body-length": (FAIL, {"too-long"}), "http-closes": (FAIL, {"too-long"})}),
]


@pytest.mark.parametrize(("program", "key", "clients", "expected"), SERVERS, ids=[s[0] for s in SERVERS])
def test_a_students_server_passes_or_fails_exactly_its_checks(redis_server: RedisServer, resources: Resources,
                                                              program: str, key: str, clients: int,
                                                              expected: dict[str, tuple[str, set[str | None]]]) -> None:
    peer, trace, _events = run_server(redis_server.url, program, key, clients)
    results = {**peer, **trace}
    assert set(results) == {c.code for c in exercise(key).checks if c.side in ("peer", "trace")}
    got = {code: (r.state, r.reason) for code, r in results.items() if r.state != PASS}
    assert set(got) == set(expected), got
    for code, (state, reasons) in expected.items():
        assert got[code][0] == state and got[code][1] in reasons, (code, got[code])
        if state == FAIL:
            assert exercise(key).check(code).hint["en"] and exercise(key).check(code).hint["zh"]
            reason, params = results[code].reason, results[code].params
            assert reason is not None
            assert all("{" not in reason_text(reason, params, lang) for lang in ("en", "zh"))
    resources.settled()  # no thread, no fd of the probes is left


def test_a_server_answering_megabytes_costs_the_lab_a_bounded_read(redis_server: RedisServer) -> None:
    server = Traced(redis_server.url, "http_flood.py", "0", "1")
    try:
        port = server.port()
        events = server.listening()
        tracemalloc.start()
        try:
            results = probe(exercise("http-server"), events, "127.0.0.1", port, wait=WAIT)
            _size, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        server.finish()
    finally:
        server.stop()
    assert results["http-body-length"].params == {"limit": LIMIT}
    assert peak < 8 * LIMIT, peak  # the program sent 100 MB; the lab held a few copies of LIMIT at most


def test_the_lab_connects_only_to_a_port_the_students_own_program_listens_on(redis_server: RedisServer,
                                                                             resources: Resources) -> None:
    server = Traced(redis_server.url, "echo_server.py", "0", "1")
    try:
        port = server.port()
        events = server.listening()
        with socket.socket() as someone_elses:  # another program on the same machine, listening too
            someone_elses.bind(("127.0.0.1", 0))
            someone_elses.listen()
            other = someone_elses.getsockname()[1]
            for bad in (other, port + 1 if port + 1 != other else port + 2, 22, "22", True, None):
                with pytest.raises(Refused) as refused:
                    probe(exercise("echo-server"), events, "127.0.0.1", bad, wait=WAIT)
                assert refused.value.code == "exercise-port-not-yours"
                assert refused.value.params["ports"] == str(port)
        assert target(events, "127.0.0.1", port) == ("127.0.0.1", port)
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT):  # (lets the server end)
            pass
        server.finish()
    finally:
        server.stop()
    closed = server.events()  # its listener is closed now: nothing to connect to
    with pytest.raises(Refused) as refused:
        target(closed, "127.0.0.1", port)
    assert refused.value.code == "exercise-port-not-yours" and refused.value.params["ports"] == "none"
    resources.settled()


def test_a_listener_on_an_address_the_lab_cannot_reach_is_refused() -> None:
    events = [{"seq": 1, "kind": "setup", "call": "socket", "endpoint": "s1@ann", "proto": "tcp"},
              {"seq": 2, "kind": "setup", "call": "bind", "endpoint": "s1@ann", "proto": "tcp"},
              {"seq": 3, "kind": "listen", "call": "listen", "endpoint": "s1@ann", "proto": "tcp",
               "local": ["127.0.0.1", 5000]}]
    with pytest.raises(Refused) as refused:
        target(events, "192.0.2.7", 5000)  # the program posted from its LAN address, listens on loopback only
    assert refused.value.code == "exercise-listener-unreachable"
    assert "192.0.2.7" in str(refused.value)
    events[2]["local"] = ["0.0.0.0", 5000]
    assert target(events, "192.0.2.7", 5000) == ("192.0.2.7", 5000)


OK = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
JUDGED = [  # (response, how it ended, {check: reason} for every check not passed)
    (OK, "eof", {}),
    (OK.replace(b"\r\n", b"\n"), "eof", {}),  # (bare newlines, as browsers take them)
    (b"HTTP/1.0 200 OK\r\n\r\nhello, no length", "eof", {}),  # (HTTP/1.0: the close ends the body)
    (OK, "timeout", {"http-closes": "not-closed"}),
    (b"200 OK\r\nContent-Length: 5\r\n\r\nhello", "eof", {"http-status-line": "bad-status-line"}),
    (b"HTTP/1.0 200\r\nno colon here\r\n\r\n", "eof", {"http-headers": "bad-header"}),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\nhello", "eof", {"http-headers": "no-blank-line",
                                                                "http-body-length": "no-blank-line"}),
    (OK.replace(b"Length: 5", b"Length: 4"), "eof", {"http-body-length": "length-mismatch"}),
    ("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhéllo".encode(), "eof", {"http-body-length": "length-mismatch"}),
    (OK + b"x" * LIMIT, "limit", {"http-body-length": "too-long", "http-closes": "too-long"}),
    (b"", "timeout", {c: "no-answer" for c in ("http-status-line", "http-headers", "http-body-length", "http-closes")}),
    (b"", "reset", {c: "connection-reset" for c in ("http-status-line", "http-headers", "http-body-length",
                                                    "http-closes")}),
]


@pytest.mark.parametrize(("raw", "end", "expected"), JUDGED)
def test_the_lab_judges_an_http_response_from_its_bytes(raw: bytes, end: str, expected: dict[str, str]) -> None:
    results = judge_http(raw, end)
    assert {code: r.reason for code, r in results.items() if r.state != PASS} == expected
    for r in results.values():
        if r.reason is not None:
            assert "{" not in reason_text(r.reason, r.params, "zh")


def test_the_tutorials_threaded_echo_server_passes(redis_server: RedisServer, resources: Resources) -> None:
    tutorial = Path(__file__).resolve().parents[1] / "trace" / "programs" / "threaded_echo_server.py"
    server = Traced(redis_server.url, str(tutorial), "6", name="tutorial")
    try:
        port = server.port()
        peer = probe(exercise("echo-server"), server.listening(), "127.0.0.1", port, wait=WAIT)
        server.finish()
    finally:
        server.stop()
    results = {**peer, **evaluate(exercise("echo-server"), server.events())}
    assert states(results) == {c.code: PASS for c in exercise("echo-server").checks}
    resources.settled()


def test_a_silent_server_is_probed_once_not_four_times(resources: Resources) -> None:
    """A server that accepts and never answers fails every echo check after one wait: the class's other
    students wait behind this probe (one prober), so the lab does not connect again to hear nothing."""
    from lab.exercises.peer import Target, probe_echo

    accepted: list[socket.socket] = []
    stop = threading.Event()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.05)

        def accept_all() -> None:
            while not stop.is_set():
                try:
                    accepted.append(listener.accept()[0])
                except TimeoutError:
                    continue

        thread = threading.Thread(target=accept_all, name="silent-server")
        thread.start()
        results = probe_echo(Target("127.0.0.1", listener.getsockname()[1]), wait=0.5)
        stop.set()
        thread.join(10)
    for conn in accepted:
        conn.close()
    assert {code: (r.state, r.reason) for code, r in results.items()} == {
        "echo-exact": (FAIL, "no-answer"), "echo-glued": (FAIL, "no-answer"), "echo-split": (FAIL, "no-answer"),
        "three-clients": (FAIL, "answered")}
    assert len(accepted) == 1, "one connection heard nothing: the lab did not try the other cases"
    assert "0.5" in reason_text("no-answer", results["echo-split"].params, "en")
    resources.settled()
