"""Issue 10, item 2: idle websockets and slowloris heads must not take the dashboard's threads.

Against the production gunicorn command (docs/security.md) (with --threads 20, so that 40 + 40 attackers are twice the
threads) and against `python -m webapp`, each in its own process on a free loopback port: while
40 websockets that never join and 40 slowloris heads come from 127.0.0.1, every /api/health
answers 200; the idle ones are closed by the server, the excess is refused with a sentence, all of
it is counted in /api/stats, and the server's threads and descriptors stay bounded.

Deadlines are shortened through the environment (SOCKETLAB_MAX_HEAD_SECONDS, _JOIN_SECONDS) so the
test is quick; the benchmark (bench/b7_idle.py) runs the defaults with 300 + 300.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
import requests

from bench.b7_idle import Attack, AttackProcess, Probe

from ..servers import running
from ..support import EventCollector, wait_until

THREADS = 20
ATTACKERS = 40  # of each kind
ATTACK_S = 8.0  # > head and join deadlines below, with room for a slow machine
ENV = {"SOCKETLAB_MAX_HEAD_SECONDS": "3", "SOCKETLAB_MAX_JOIN_SECONDS": "2",
       "SOCKETLAB_MAX_PENDING_PER_ADDRESS": "16",
       # what --threads 20 gives gunicorn anyway (20 less a fifth, at least 4); Werkzeug has no
       # thread count to fit, so the dev server takes it from here
       "SOCKETLAB_MAX_WEBSOCKETS": "16"}


@contextmanager
def dashboard(kind: str, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """The dashboard as users start it, in its own process: (url, pid of the process holding the app)."""
    with running(kind, tmp_path, env=ENV, threads=THREADS) as dash:
        yield dash.url, dash.app_pid()


def _count(pid: int, what: str) -> int:
    return len(os.listdir(f"/proc/{pid}/{what}"))


@pytest.mark.parametrize("kind", ["gunicorn", "dev"])
def test_idle_websockets_and_slowloris_leave_health_answering(kind: str, tmp_path: Path) -> None:
    with dashboard(kind, tmp_path) as (url, pid):
        threads_before, fds_before = _count(pid, "task"), _count(pid, "fd")
        peak = {"task": 0, "fd": 0}
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.05):
                for what, most in peak.items():
                    peak[what] = max(most, _count(pid, what))

        sampler = threading.Thread(target=sample, name="resource-sampler")
        sampler.start()
        attack = AttackProcess(int(url.rsplit(":", 1)[1]), ATTACKERS, ATTACKERS, ATTACK_S, keep=False)
        probe = Probe(url, timeout=5.0)  # "answers at all", generously: no timing threshold
        try:
            attack.started()
            probe.run(ATTACK_S - 1)
            report = attack.finish()
        finally:
            stop.set()
            sampler.join()

        assert probe.latencies and not probe.failures, probe.failures[:5]
        stats = requests.get(f"{url}/api/stats", timeout=5).json()["connections"]
        # every idle websocket was refused or, once past the join deadline, closed by the server
        refused_ws = sum(report.websockets_refused.values())
        assert refused_ws > 0 and report.websockets_refused.keys() <= {"429", "503"}, report
        assert report.websockets_opened == report.websockets_closed_by_server > 0, report
        assert report.websockets_opened + refused_ws == ATTACKERS
        # every slowloris head was closed: past its deadline (408) or to make room (429, or a close)
        assert report.slowloris_closed_by_server == ATTACKERS and report.still_open_at_end == 0, report
        assert stats["closed"]["not-joined"] >= report.websockets_opened
        assert sum(stats["refused"].values()) >= refused_ws
        if kind == "gunicorn":  # (the dev server closes what it evicts without an answer)
            assert report.slowloris_answered.keys() <= {"408", "429"}, report
            assert stats["closed"]["head-timeout"] >= 1
            assert stats["live_limit"] < THREADS  # threads are left for the API
        # bounded: far below one thread or descriptor per attacker (80 of each), and back after
        assert peak["fd"] - fds_before < ATTACKERS, (fds_before, peak)  # (16 heads + 16 websockets at most)
        # threads: gunicorn's pool, or Werkzeug's one per connection, and each websocket's own
        # reader, writer and ping threads
        assert peak["task"] - threads_before <= THREADS + 3 * stats["live_limit"], (threads_before, peak)
        wait_until(lambda: _count(pid, "fd") <= fds_before + 2, 10)
        # gunicorn's pool keeps the threads it started, at most --threads; every other one ends,
        # the last being Engine.IO's ping task of each closed websocket (it sleeps out its 25 s)
        pool = THREADS if kind == "gunicorn" else 0
        wait_until(lambda: _count(pid, "task") <= threads_before + pool + 2, 40)


@pytest.mark.parametrize("kind", ["gunicorn", "dev"])
def test_a_joined_viewer_is_never_reaped(kind: str, tmp_path: Path) -> None:
    """The join deadline is for connections that never join: a real viewer stays connected."""
    with dashboard(kind, tmp_path) as (url, _pid):
        viewer = EventCollector(url, transports=["websocket"])
        try:
            # an idle websocket opened after the viewer: once the server has closed it, the viewer
            # has been connected for longer than the deadline too
            report = Attack("127.0.0.1", int(url.rsplit(":", 1)[1]), 1, 0, keep=False).run(30)
            assert report.websockets_opened == report.websockets_closed_by_server == 1, report
            assert viewer.sio.connected
            # (the reaped one leaves the count a moment after its socket closes)
            wait_until(lambda: requests.get(f"{url}/api/stats", timeout=5).json()["connections"]["live"] == 1)
        finally:
            viewer.close()
