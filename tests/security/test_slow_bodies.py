"""Slow request bodies must not take the dashboard's threads, under gunicorn or the dev server.

The attack (bench/attack_slow_bodies.py): connections each send a whole head (`POST /api/join`,
`Content-Length: 100`) and one byte of body, then nothing; 100 from one address, or 300 addresses
with one each (all of 127.0.0.0/8 is this machine's). While they are held, /api/health from
127.0.0.1 answers; each slow connection is closed by the server with a sentence (408 past its
body's deadline, or 429 to make room), counted in /api/stats; and the server's threads come back
(under gunicorn they never went: a slow body holds no thread). Real requests with bodies still
work: a large one sent in pieces, two on one kept-alive connection, two pipelined, one that waits
for "100 Continue". The body deadline is shortened through the environment so the test is quick.
"""

from __future__ import annotations

import json
import os
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from bench.attack_slow_bodies import SlowBodies, slow_head, sources
from lab.messages import MESSAGES
from webapp.conns import ConnLimits
from webapp.worker import Framing, framing

from ..servers import Dashboard, running
from ..support import wait_until
from .test_head_eviction import Worker, arrive, close_all

BODY_SECONDS = 3
ENV = {"SOCKETLAB_MAX_BODY_SECONDS": str(BODY_SECONDS)}
PROBE_TIMEOUT_S = 5.0  # "answers at all", generously: no timing threshold (on the old code: never)
SHAPES = {"100-from-one-address": (sources(1), 100), "300-addresses": (sources(300), 1)}


@contextmanager
def dashboard(kind: str, tmp_path: Path) -> Iterator[Dashboard]:
    """The dashboard as docs/security.md starts it (gunicorn: --threads 100), in its own process."""
    with running(kind, tmp_path, env=ENV) as dash:
        yield dash


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def _health(url: str) -> None:
    response = requests.get(f"{url}/api/health", timeout=PROBE_TIMEOUT_S, headers={"Connection": "close"})
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def _connect(dash: Dashboard) -> socket.socket:
    return socket.create_connection(("127.0.0.1", dash.port), timeout=10)


def _post(dash: Dashboard, path: str, body: bytes, close: bool = False) -> bytes:
    extra = "Connection: close\r\n" if close else ""
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{dash.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body


class Responses:
    """HTTP/1.1 responses read off one socket, one at a time (each with a Content-Length)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buffer = sock, b""

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        assert data, f"the server closed the connection; unread: {self.buffer[:200]!r}"
        self.buffer += data

    def next(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if 100 <= status < 200:
            return status, headers, b""
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, headers, body


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("kind", ["gunicorn", "dev"])
def test_slow_bodies_leave_health_answering_and_are_closed_with_a_sentence(kind: str, shape: str,
                                                                           tmp_path: Path) -> None:
    addresses, per_source = SHAPES[shape]
    with dashboard(kind, tmp_path) as dash:
        pid = dash.app_pid()
        threads_before = _threads(pid)
        with SlowBodies(dash.port, addresses, per_source) as attack:
            for _ in range(5):
                _health(dash.url)  # from 127.0.0.1, while every slow body is held
            if kind == "gunicorn":  # a body being collected holds no thread
                assert _threads(pid) <= threads_before + 5, (threads_before, _threads(pid))
            assert attack.wait_closed(BODY_SECONDS + 20), f"{attack.still_open()} slow connections still open"
            report = attack.report
        assert report.closed_by_server == report.opened == len(addresses) * per_source
        assert report.answered.keys() <= {"408", "429"} and report.answered["408"] > 0, report
        sentences = {json.loads(body)["code"]: json.loads(body)["error"] for body in report.sentences}
        assert sentences["body-timeout"] == MESSAGES["body-timeout"]
        stats = requests.get(f"{dash.url}/api/stats", timeout=5).json()["connections"]
        assert stats["closed"]["body-timeout"] >= report.answered["408"]
        assert sum(stats["refused"].values()) >= report.answered["429"]
        # the dev server's thread per connection ends with its connection; gunicorn's pool took none
        wait_until(lambda: _threads(pid) <= threads_before + 4, 20)
        _health(dash.url)


@pytest.mark.parametrize("kind", ["gunicorn", "dev"])
def test_the_attacking_address_itself_is_not_locked_out(kind: str, tmp_path: Path) -> None:
    """Beyond the per-address cap, the oldest slow body makes room: a real request from the same address
    (a classroom behind one NAT) still gets through. (Smaller caps, so that 100 are well beyond them.)"""
    env = {**ENV, "SOCKETLAB_MAX_PENDING_PER_ADDRESS": "16", "SOCKETLAB_MAX_WEBSOCKETS": "16"}
    address = sources(1)[0]
    with running(kind, tmp_path, env=env) as dash, SlowBodies(dash.port, [address], 100):
        with socket.socket() as sock:
            sock.bind((address, 0))
            sock.settimeout(PROBE_TIMEOUT_S)
            sock.connect(("127.0.0.1", dash.port))
            sock.sendall(f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{dash.port}\r\nConnection: close\r\n\r\n".encode())
            status, _, answer = Responses(sock).next()
        assert status == 200 and json.loads(answer) == {"status": "ok"}
        refused = requests.get(f"{dash.url}/api/stats", timeout=5).json()["connections"]["refused"]
        assert refused["too-many-pending-from-address"] > 0


# -- real requests with bodies ---------------------------------------------------------------------

def _server_spec() -> bytes:
    return json.dumps({"kind": "tcp-server", "host": "127.0.0.1", "port": 0, "mode": "echo"}).encode()


@pytest.fixture(params=["gunicorn", "dev"])
def dash(request: Any, tmp_path: Path) -> Iterator[Dashboard]:
    with dashboard(request.param, tmp_path) as dash:
        yield dash


def test_a_large_body_sent_in_pieces_still_works(dash: Dashboard) -> None:
    server = requests.post(f"{dash.url}/api/endpoints", data=_server_spec(),
                           headers={"Content-Type": "application/json"}, timeout=10).json()
    client = requests.post(f"{dash.url}/api/endpoints", json={"kind": "tcp-client", "host": "127.0.0.1",
                                                              "port": server["local"][1]}, timeout=10).json()
    body = json.dumps({"data": "x" * (1 << 20)}).encode()  # a 1 MiB send
    message = _post(dash, f"/api/endpoints/{client['id']}/send", body, close=True)
    with _connect(dash) as sock:
        for start in range(0, len(message), len(message) // 4 + 1):  # in 4 pieces, one after another
            sock.sendall(message[start:start + len(message) // 4 + 1])
        status, _, answer = Responses(sock).next()
    assert status == 200 and json.loads(answer) == {"sent": 1 << 20}, answer[:300]


# Werkzeug ends every connection after one answer ("Connection: close", serving.py), so kept-alive
# and pipelined requests are gunicorn's alone.

@pytest.mark.parametrize("dash", ["gunicorn"], indirect=True)
def test_two_requests_with_bodies_on_one_kept_alive_connection(dash: Dashboard) -> None:
    with _connect(dash) as sock:
        responses = Responses(sock)
        for _ in range(2):  # the second only after the first is answered
            sock.sendall(_post(dash, "/api/endpoints", _server_spec()))
            status, headers, answer = responses.next()
            assert status == 201 and headers.get("connection", "").lower() != "close", answer[:300]
            assert json.loads(answer)["kind"] == "tcp-server"


@pytest.mark.parametrize("dash", ["gunicorn"], indirect=True)
def test_pipelined_requests_with_bodies_are_answered_in_order(dash: Dashboard) -> None:
    with _connect(dash) as sock:
        sock.sendall(_post(dash, "/api/endpoints", _server_spec()) + _post(dash, "/api/endpoints", _server_spec())
                     + f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{dash.port}\r\nConnection: close\r\n\r\n".encode())
        responses = Responses(sock)
        first, second = responses.next(), responses.next()
        assert (first[0], second[0]) == (201, 201)
        assert json.loads(first[2])["id"] != json.loads(second[2])["id"]
        status, _, answer = responses.next()
        assert status == 200 and json.loads(answer) == {"status": "ok"}


def test_a_client_that_waits_for_100_continue_gets_it_before_sending_its_body(dash: Dashboard) -> None:
    body = _server_spec()
    head = _post(dash, "/api/endpoints", b"").replace(b"Content-Length: 0",
                                                      f"Content-Length: {len(body)}\r\nExpect: 100-continue".encode())
    with _connect(dash) as sock:
        sock.sendall(head)
        responses = Responses(sock)
        assert responses.next()[0] == 100  # before a byte of the body
        sock.sendall(body)
        status, _, answer = responses.next()
        while status == 100:  # (the dev server's Werkzeug says it a second time)
            status, _, answer = responses.next()
        assert status == 201, answer[:300]


@pytest.mark.parametrize(("extra", "status", "code"), [
    (b"Content-Length: 9437184\r\n", 413, "too-large"),  # over MAX_CONTENT_LENGTH (8 MiB): refused unread
    (b"Transfer-Encoding: chunked\r\n", 411, "length-required"),
])
def test_bodies_that_could_never_be_collected_are_refused_at_once(dash: Dashboard, extra: bytes, status: int,
                                                                  code: str) -> None:
    head = (f"POST /api/endpoints HTTP/1.1\r\nHost: 127.0.0.1:{dash.port}\r\nContent-Type: application/json\r\n"
            ).encode() + extra + b"\r\n"
    with _connect(dash) as sock:
        sock.sendall(head)  # and no body: the answer comes without waiting for one
        answered, headers, answer = Responses(sock).next()
    expected: dict[str, Any] = {"error": MESSAGES[code], "code": code, "params": {}}
    if code == "too-large":
        expected["category"] = code  # the very body the app answers a too large body with
    assert answered == status and json.loads(answer) == expected
    assert headers["connection"].lower() == "close"
    stats = requests.get(f"{dash.url}/api/stats", timeout=5).json()["connections"]
    assert stats["refused"][code] == 1


# -- the worker's reading of a head and its bytes budget, without gunicorn -----------------------------

HEAD = b"POST /x HTTP/1.1\r\nHost: h\r\n"


@pytest.mark.parametrize(("head", "rest", "length", "transfer_encoding", "expects_continue"), [
    (HEAD + b"\r\n", b"", 0, False, False),  # no Content-Length: no body
    (HEAD + b"Content-Length: 12\r\n\r\n", b"", 12, False, False),
    (HEAD + b"content-length:\t7 \r\n\r\n", b"abc", 7, False, False),  # any case, spaces around the value
    (HEAD + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\n", b"", 0, False, False),  # gunicorn: 400, unread
    (HEAD + b"Content-Length: +5\r\n\r\n", b"", 0, False, False),  # (the same)
    (HEAD + b"Content-Length : 5\r\n\r\n", b"", 0, False, False),  # (the same: a space is not in a name)
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n", b"0\r\n\r\n", 0, True, False),
    (HEAD + b"Expect: 100-continue\r\nContent-Length: 1\r\n\r\n", b"", 1, False, True),
    (b"POST /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", b"", 1, False, False),
    (b"\r\nGET / HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1\r\n\r\n", 0, False, False),  # one empty line may lead
    (b"GET / HTTP/1.1\nHost: h\n\n", b"", 0, False, False),  # bare LF: gunicorn answers 400 at once
])
def test_framing_reads_a_head_as_gunicorn_does(head: bytes, rest: bytes, length: int, transfer_encoding: bool,
                                               expects_continue: bool) -> None:
    assert framing(head + rest) == Framing(len(head), length, transfer_encoding, expects_continue)
    # fed byte by byte, nothing is known before the head is whole
    assert all(framing(head[:i]) is None for i in range(len(head)))


def test_the_oldest_body_makes_room_when_bodies_hold_too_many_bytes() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    worker = Worker(ConnLimits(pending_bytes=6000))
    worker.max_body = 10_000
    head = slow_head(1, 4000)
    clients: list[socket.socket] = []
    try:
        first = arrive(worker, server, clients, head + b"a" * 2500)
        second = arrive(worker, server, clients, head + b"b" * 2500)
        assert list(worker.waiting) == [first, second] and worker.held == 2 * (len(head) + 2500)
        clients[1].sendall(b"b" * 1000)  # the bytes held would pass 6000: the oldest goes
        wait_until(lambda: worker._on_readable(second, None) or first not in worker.waiting)
        assert list(worker.waiting) == [second] and dict(worker.budget.refused) == {"too-many-pending": 1}
        clients[0].settimeout(5)
        assert clients[0].recv(100).startswith(b"HTTP/1.1 503")  # with a sentence
        clients[1].sendall(b"b" * 500)  # the rest of the second: whole, it goes to a thread
        wait_until(lambda: worker._on_readable(second, None) or worker.handed)
        assert worker.handed == [second] and worker.held == 0 and second.head == head + b"b" * 4000
        arrive(worker, server, clients, slow_head(1, 10_001))  # longer than the app takes: never held
        assert dict(worker.budget.refused) == {"too-many-pending": 1, "too-large": 1} and worker.held == 0
        clients[-1].settimeout(5)
        assert clients[-1].recv(100).startswith(b"HTTP/1.1 413")
    finally:
        close_all(worker, clients)
        server.close()
