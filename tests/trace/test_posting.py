"""The courier's HTTP delivery (agent/trace/posting.py) against a dashboard that breaks off its
answers the ways a killed or restarting one does: the events are kept and posted again, the
delivery thread lives on, and every event arrives."""

from __future__ import annotations

import http.server
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from agent.trace.posting import HttpDelivery
from lab.events.bus import EventBus

from ..support import Resources, wait_until

# What a dashboard killed mid-answer leaves on the wire (the CI run on record: a 38-byte body
# announced, then the connection closed: http.client.IncompleteRead, which is no OSError).
BROKEN = {
    "body cut short": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 38\r\n\r\n",
    "no status line": b"\x00garbage that is not HTTP\r\n\r\n",
    "closed without a word": b"",
}


class Dashboard(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, broken: bytes, times: int) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.broken, self.left = broken, times
        self.seqs: list[int] = []
        self.lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    server: Dashboard

    def do_POST(self) -> None:  # noqa: N802  (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            breaking = self.server.left > 0
            self.server.left -= breaking
            self.server.seqs += [e["seq"] for e in body["events"]]  # taken, as a dashboard would, answer lost or not
        if breaking:
            self.wfile.write(self.server.broken)
            self.wfile.flush()
            self.close_connection = True
            return
        answer = b'{"taken": %d}' % len(body["events"])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def dashboard(broken: bytes, times: int) -> Iterator[Dashboard]:
    server = Dashboard(broken, times)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize("how", list(BROKEN))
def test_an_answer_broken_off_is_retried_and_nothing_is_lost(how: str, caplog: pytest.LogCaptureFixture) -> None:
    before = Resources.now()
    bus = EventBus()
    with dashboard(BROKEN[how], times=3) as dash, caplog.at_level(logging.WARNING, "agent.trace"):
        delivery = HttpDelivery(bus, "steady", "http://127.0.0.1:%d" % dash.server_address[1], "control")
        delivery.start()
        for i in range(50):
            bus.publish("c1", "send", size=3, payload=b"%03d" % i)
        assert wait_until(lambda: delivery.sent == 50, 20), (delivery.sent, dash.seqs)
        for i in range(50, 60):  # the thread lived on: later events go too
            bus.publish("c1", "send", size=3, payload=b"%03d" % i)
        delivery.stop()
        assert not delivery.thread.is_alive() and not delivery.refused
        assert dash.left == 0  # the dashboard did break off three answers
        assert sorted(set(dash.seqs)) == list(range(1, 61))  # every event, the cut batches posted again
        assert len(dash.seqs) > 60
    words = caplog.text
    assert words.count("does not answer") == 1 and words.count("answers again") == 1, words
    before.settled()
