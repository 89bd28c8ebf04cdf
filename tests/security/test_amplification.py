"""Amplification and unbounded memory (the hardening issue, items 3 and 4), attacked through the API.

The invariant: no request and no peer makes the lab hold more than a configured multiple of its
limits. Each attack here took the process to gigabytes, a thread per request, or a hang before the
fix; the peak RSS of this process is measured around each one (VmHWM, reset before the attack).
"""

from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

from lab import Limits
from webapp import create_app, shutdown

from ..support import wait_until

MiB = 1 << 20
GROWTH_LIMIT = 200 * MiB  # what any one attack may add to the peak RSS (the data limit is 1 MiB)
SEND_TIMEOUT_MS = 500


def status(field: str) -> int:
    """A /proc/self/status field in bytes (VmRSS, VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/self/status")


@contextmanager
def peak_growth() -> Iterator[list[int]]:
    """Yields a list that holds, afterwards, how far the peak RSS rose above the RSS before."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS (Linux >= 4.0)
    except OSError:
        pytest.skip("cannot reset the peak RSS here (/proc/self/clear_refs)")
    before = status("VmRSS")
    growth: list[int] = []
    yield growth
    growth.append(status("VmHWM") - before)


@pytest.fixture
def app(folders: dict[str, Path]) -> Iterator[Any]:
    the_app = create_app({"TESTING": True, "FILES": str(folders["files"]), "DOWNLOADS": str(folders["downloads"]),
                          "LIMITS": Limits(send_timeout_ms=SEND_TIMEOUT_MS)})
    yield the_app
    shutdown(the_app)


def create(client: Any, **spec: Any) -> dict[str, Any]:
    response = client.post("/api/endpoints", json=spec)
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def events(app: Any, endpoint: str, kind: str) -> list[Any]:
    lab = app.extensions["socketlab"]
    return [e for e in lab.bus.since(0, 100_000)[0] if e.endpoint == endpoint and e.kind == kind]


class Sink:
    """A plain TCP server that reads and throws away everything (or, with read=False, never reads)."""

    def __init__(self, read: bool = True) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.read = read
        self.received = 0
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._run, name="sink")
        self.thread.start()

    def _run(self) -> None:
        conn, _ = self.listener.accept()
        self.conns.append(conn)
        if not self.read:
            return
        buf = bytearray(MiB)
        while n := conn.recv_into(buf):
            self.received += n

    def close(self) -> None:
        self.listener.close()
        for conn in self.conns:
            conn.shutdown(socket.SHUT_RDWR)
        self.thread.join(10)
        for conn in self.conns:
            conn.close()


def test_repeat_3000_times_1_mib_is_made_lazily(app: Any, client: Any) -> None:
    sink = Sink()
    try:
        endpoint = create(client, kind="tcp-client", port=sink.port)
        with peak_growth() as growth:
            # numbered: every copy differs ("#1 x...", "#2 x..."), so each is a new 1 MiB object
            response = client.post(f"/api/endpoints/{endpoint['id']}/send",
                                   json={"data": "x" * MiB, "repeat": 3000, "numbered": True})
        assert response.status_code == 200, response.get_json()
        total = sum(len(f"#{i} ") + MiB for i in range(1, 3001))
        assert response.get_json() == {"sent": total, "calls": 3000}
        wait_until(lambda: sink.received == total, timeout=60)
        assert growth[0] < GROWTH_LIMIT, f"peak RSS grew by {growth[0] // MiB} MiB"  # it was 3 GB
    finally:
        sink.close()


def test_periodic_sends_are_capped_and_share_one_thread(app: Any, client: Any) -> None:
    server = create(client, kind="udp-server", port=0, mode="manual")
    clients = [create(client, kind="udp-client", port=server["local"][1]) for _ in range(10)]
    for each in clients:  # a UDP client's receiving thread starts with its first datagram
        assert client.post(f"/api/endpoints/{each['id']}/send", json={"data": "hello"}).status_code == 200
    threads_before = threading.active_count()
    answers: dict[int, int] = {}
    refusals = set()
    for i in range(2654):
        target = clients[0 if i < 20 else i % 10]  # the first 20 at one endpoint: its own cap answers
        response = client.post(f"/api/endpoints/{target['id']}/send",
                               json={"data": "tick", "repeat": 100, "interval_ms": 60_000})
        answers[response.status_code] = answers.get(response.status_code, 0) + 1
        if response.status_code == 413:
            refusals.add(response.get_json()["error"].split(" already has")[0])
    # 8 per endpoint would allow 80; the lab's total of 64 answers first
    assert answers == {200: 64, 413: 2654 - 64}, answers
    assert refusals == {"This endpoint", "The lab"}
    assert threading.active_count() <= threads_before + 1  # one timer thread, not 2654 (it was 2659)


def test_dollar_zero_2048_times_is_refused_at_the_send_limit(app: Any, client: Any) -> None:
    server = create(client, kind="tcp-server", port=0, mode="echo", framing="line",
                    rules=[{"match": ".+", "reply": "$0" * 2048}])
    with peak_growth() as growth, socket.create_connection(("127.0.0.1", server["local"][1]), timeout=10) as peer:
        peer.sendall(b"z" * 4000 + b"\n")  # would be 8 MB out
        error = wait_until(lambda: events(app, server["id"], "error"))[0]
    assert "more than 1048576 bytes" in error.detail and "nothing was sent" in error.detail
    assert not events(app, server["id"], "send")
    assert growth[0] < GROWTH_LIMIT


def test_delay_line_flood_is_bounded_and_drops_are_counted(app: Any, client: Any) -> None:
    server = create(client, kind="udp-server", port=0, mode="manual")
    udp = create(client, kind="udp-client", port=server["local"][1], impair={"delay_ms": 10_000})
    limits = Limits()
    with peak_growth() as growth:
        for _ in range(400):  # 400 x 60000 bytes = 24 MB offered to a line that holds 8 MiB
            response = client.post(f"/api/endpoints/{udp['id']}/send", json={"data": "d" * 60000})
            assert response.status_code == 200
    dropped = client.get(f"/api/endpoints/{udp['id']}").get_json()["delay_dropped"]
    assert dropped == 400 - limits.delay_bytes // 60000
    assert len(events(app, udp["id"], "lost")) == dropped
    assert growth[0] < GROWTH_LIMIT


def test_send_to_a_peer_that_never_reads_returns_with_a_sentence(app: Any, client: Any) -> None:
    sink = Sink(read=False)
    try:
        endpoint = create(client, kind="tcp-client", port=sink.port)
        answer: list[Any] = []
        request = threading.Thread(target=lambda: answer.append(client.post(
            f"/api/endpoints/{endpoint['id']}/send", json={"data": "x" * MiB, "repeat": 256})))
        request.start()
        request.join(60)  # before the fix, sendall() blocked here for ever, holding the send lock
        assert not request.is_alive(), "POST /send hangs on a peer that never reads"
        assert answer[0].status_code == 409
        assert "reading" in answer[0].get_json()["error"]
        assert events(app, endpoint["id"], "backpressure")
        assert client.get("/api/health").status_code == 200
    finally:
        sink.close()


def test_relay_with_one_stalled_client_still_delivers_to_the_others(app: Any, client: Any) -> None:
    server = create(client, kind="tcp-server", port=0, mode="relay", framing="line")
    port = server["local"][1]
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", port))  # first in the relay's loop, never reads
    with stalled, socket.create_connection(("127.0.0.1", port)) as reader, \
            socket.create_connection(("127.0.0.1", port)) as sender:
        received = bytearray()

        def read() -> None:
            while chunk := reader.recv(65536):
                received.extend(chunk)

        thread = threading.Thread(target=read)
        thread.start()
        wait_until(lambda: len(client.get(f"/api/endpoints/{server['id']}").get_json()["connections"]) == 3)
        for _ in range(512):
            sender.sendall(b"r" * 65535 + b"\n")
            if events(app, server["id"], "backpressure"):
                break
        sender.sendall(b"after the stall\n")
        wait_until(lambda: received.endswith(b"after the stall\n"), timeout=30)
        reader.shutdown(socket.SHUT_RDWR)
        thread.join(10)


def test_catastrophic_regex_answers_and_the_api_goes_on(app: Any, client: Any) -> None:
    server = create(client, kind="tcp-server", port=0, mode="echo", framing="line",
                    rules=[{"match": "^(a+)+$", "reply": "matched"}])
    with socket.create_connection(("127.0.0.1", server["local"][1]), timeout=30) as peer:
        peer.sendall(b"a" * 40 + b"!\n")  # 41 bytes: Python's re needed a kill
        got = b""
        while not got.endswith(b"\n"):
            chunk = peer.recv(100)
            assert chunk
            got += chunk
        assert got == b"a" * 40 + b"!\n"  # no match, so the echo answers
    assert client.get("/api/endpoints").status_code == 200


@pytest.mark.parametrize("pattern", ["a{99999999999}", "(a+)+\\1", "(?<=x)y"])
def test_unusable_patterns_are_400_with_a_sentence(client: Any, pattern: str) -> None:
    response = client.post("/api/endpoints", json={"kind": "tcp-server", "port": 0,
                                                   "rules": [{"match": pattern, "reply": "x"}]})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error.startswith(f"The rule pattern '{pattern}'") and "report" not in error
