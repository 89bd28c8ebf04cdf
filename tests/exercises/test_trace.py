"""Checks read from a student's traced calls: the textbook clients pass, each classic mistake (send of a str,
one recv for lines sent in pieces, no timeout on UDP) fails exactly its check, with the hint; real programs
under `python -m agent.trace`, against servers of this test's own on 127.0.0.1 port 0."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lab.exercises.registry import exercise
from lab.exercises.results import FAIL, PASS, PENDING
from lab.exercises.trace import RULES, evaluate

from ..redis_server import RedisServer
from ..support import Resources
from .traced import Traced

PIECES = [b"first li", b"ne\nsecond line\nthi", b"rd line\n"]


@contextmanager
def tcp_server(answer: bool) -> Iterator[int]:
    """One connection served: a reply to what it sends (`answer`), or lines in pieces with pauses, then close."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(30)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(30)
            try:
                if answer:
                    conn.sendall(b"hello, " + conn.recv(1024))
                else:
                    for n, piece in enumerate(PIECES):
                        if n:
                            time.sleep(0.2)  # (the point: lines that arrive in pieces of their own)
                        conn.sendall(piece)
            except OSError:
                pass

    thread = threading.Thread(target=serve, name="test-server")
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        thread.join(60)
        listener.close()


@contextmanager
def udp_server(drop_first: bool) -> Iterator[int]:
    """Answers each question in capitals; with `drop_first`, only from its second copy (the first is 'lost')."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()
    seen: set[bytes] = set()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(1024)
            except TimeoutError:
                continue
            if drop_first and data not in seen:
                seen.add(data)
                continue
            sock.sendto(data.upper(), peer)

    thread = threading.Thread(target=serve, name="test-udp-server")
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(60)
        sock.close()


def run(url: str, program: str, *args: str) -> dict[str, tuple[str, str | None]]:
    traced = Traced(url, program, *args)
    traced.finish()
    key = {"client": "client", "line": "line-reader", "udp": "udp-retry", "questions": "udp-retry"}[program.split("_", maxsplit=1)[0].removesuffix(".py")]
    return {code: (r.state, r.reason) for code, r in evaluate(exercise(key), traced.events()).items()}


def test_the_textbook_client_passes_and_a_str_sent_fails_only_its_check(redis_server: RedisServer,
                                                                         resources: Resources) -> None:
    with tcp_server(answer=True) as port:
        good = run(redis_server.url, "client.py", str(port), "Ann")
    assert good == {"client-call-order": (PASS, None), "sends-bytes": (PASS, None), "closed": (PASS, None)}
    with tcp_server(answer=True) as port:
        bad = run(redis_server.url, "client_str.py", str(port), "Ann")
    # the TypeError ended the program before any call it could be judged on: only the str is a failure
    assert bad == {"client-call-order": (PENDING, None), "sends-bytes": (FAIL, "sent-str"), "closed": (PASS, None)}
    resources.settled()


def test_a_line_reader_loops_until_the_end_and_one_recv_fails_the_loop(redis_server: RedisServer,
                                                                        resources: Resources) -> None:
    with tcp_server(answer=False) as port:
        good = run(redis_server.url, "line_reader.py", str(port))
    assert good == {"client-call-order": (PASS, None), "recv-loop": (PASS, None), "closed": (PASS, None)}
    with tcp_server(answer=False) as port:
        bad = run(redis_server.url, "line_reader_one_recv.py", str(port))
    assert bad["recv-loop"][0] == FAIL and bad["recv-loop"][1] in ("stopped-reading", "missed-pieces")
    assert {code: state for code, (state, _) in bad.items() if code != "recv-loop"} == {
        "client-call-order": PASS, "closed": PASS}
    assert "loop" in exercise("line-reader").check("recv-loop").hint["en"]
    resources.settled()


def test_udp_retries_after_a_timeout_and_no_timeout_fails(redis_server: RedisServer, resources: Resources) -> None:
    with udp_server(drop_first=True) as port:
        good = run(redis_server.url, "udp_retry.py", str(port), "3")
    assert good == {"sets-timeout": (PASS, None), "retries": (PASS, None), "sends-bytes": (PASS, None),
                    "closed": (PASS, None)}  # (a UDP socket that sent is closed too)
    with udp_server(drop_first=False) as port:
        bad = run(redis_server.url, "udp_no_timeout.py", str(port), "3")
    assert bad == {"sets-timeout": (FAIL, "no-timeout"), "retries": (PENDING, None), "sends-bytes": (PASS, None),
                   "closed": (PASS, None)}
    # a timeout, then the next question instead of the same one again: the lost answer was given up
    with udp_server(drop_first=True) as port:
        moved_on = run(redis_server.url, "questions_no_retry.py", str(port), "3")
    assert moved_on["retries"] == (FAIL, "moved-on") and moved_on["sets-timeout"] == (PASS, None)
    resources.settled()


def test_every_check_waits_until_the_program_has_made_a_call() -> None:
    for key in ("echo-server", "client", "udp-retry", "relay", "http-server"):
        assert {r.state for r in evaluate(exercise(key), []).values()} == {PENDING}


@pytest.mark.parametrize("junk", [[{"kind": 3}], [None, "x", {"kind": "recv"}], [{"kind": "listen", "call": "listen"}]])
def test_events_of_any_shape_never_raise(junk: list[object]) -> None:
    for rule in RULES.values():
        assert rule.__name__  # (each rule runs on junk and answers a state)
    for key in ("echo-server", "udp-retry", "client"):
        evaluate(exercise(key), junk)  # type: ignore[arg-type]


def test_the_tutorials_downloader_reads_until_the_end(redis_server: RedisServer, resources: Resources) -> None:
    tutorial = Path(__file__).resolve().parents[1] / "trace" / "programs" / "downloader.py"
    with tcp_server(answer=False) as port:
        traced = Traced(redis_server.url, str(tutorial), str(port), name="downloader")
        out, _err = traced.finish()
    assert str(sum(map(len, PIECES))).encode() in out
    got = {code: (r.state, r.reason) for code, r in evaluate(exercise("downloader"), traced.events()).items()}
    assert got == {"client-call-order": (PASS, None), "recv-loop": (PASS, None), "closed": (PASS, None)}
    resources.settled()


def test_fields_of_the_wrong_type_leave_a_check_waiting() -> None:
    events = [{"seq": 1, "kind": "accept", "endpoint": "s2@ann", "proto": "tcp", "args": None},
              {"seq": 2, "kind": "recv", "endpoint": "s2@ann", "proto": "tcp", "args": "x", "result": 3},
              {"seq": 3, "kind": "setup", "call": "settimeout", "endpoint": "s3@ann", "proto": "udp", "args": None}]
    for key in ("echo-server", "udp-retry"):
        assert {r.state for r in evaluate(exercise(key), events).values()} <= {PENDING, PASS}
