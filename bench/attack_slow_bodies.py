"""Slow request bodies against both servers: `python -m bench.attack_slow_bodies [gunicorn|dev ...]`.

Each attacking connection sends a whole request head (`POST /api/join`, `Content-Length: 100`) and
one byte of its body, then nothing. Two shapes: 100 such connections from one address (127.0.0.2),
and 300 addresses (127.0.0.2 ... 127.1.45: every loopback address is this machine's) with one each.
Meanwhile /api/health is asked from 127.0.0.1, a new connection each time, as a new visitor would;
the script prints its latency (median and max over the probes) and what the attackers saw: the
server should answer every slow connection itself, 408 once its body's deadline has passed (or 429
to make room), without a thread waiting on any of them.

Not part of `make bench` (it takes a minute with the default deadline). The tests
(tests/security/test_slow_bodies.py) drive the same attacker with shortened deadlines.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import selectors
import socket
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from .common import dashboard

BODY_LENGTH = 100
PROBES = 20
PROBE_EVERY_S = 0.1
PROBE_TIMEOUT_S = 10.0


def sources(count: int, first: str = "127.0.0.2") -> list[str]:
    """`count` loopback addresses from `first` on (127.0.0.0/8 is all this machine's: any may be bound)."""
    start = ipaddress.IPv4Address(first)
    return [str(start + i) for i in range(count)]


def slow_head(port: int, length: int = BODY_LENGTH, path: str = "/api/join") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


@dataclass
class SlowReport:
    """What the attacking connections saw."""

    opened: int = 0
    answered: Counter[str] = field(default_factory=Counter)  # status code (or "none") -> connections
    closed_by_server: int = 0
    seconds_held: list[float] = field(default_factory=list)
    sentences: set[str] = field(default_factory=set)  # the JSON bodies of the answers


class SlowBodies:
    """`per_source` connections from each address of `addresses`, each a head and 1 byte of body, then
    silence; one watcher thread notes when and how the server closes each. A context manager."""

    def __init__(self, port: int, addresses: list[str], per_source: int = 1, server: str = "127.0.0.1") -> None:
        self.report = SlowReport()
        self._selector = selectors.DefaultSelector()
        self._answers: dict[socket.socket, bytearray] = {}
        self._started: dict[socket.socket, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        head = slow_head(port) + b"{"
        for address in addresses:
            for _ in range(per_source):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                try:
                    sock.bind((address, 0))
                    sock.connect((server, port))
                    sock.sendall(head)
                except OSError:
                    sock.close()
                    raise
                sock.setblocking(False)
                with self._lock:
                    self._answers[sock] = bytearray()
                    self._started[sock] = time.monotonic()
                    self._selector.register(sock, selectors.EVENT_READ)
                self.report.opened += 1
        self._watcher = threading.Thread(target=self._watch, name="slow-bodies-watcher")
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if not self._answers:
                    return
                events = self._selector.select(timeout=0.05)
                for key, _ in events:
                    self._readable(key.fileobj)  # type: ignore[arg-type]

    def _readable(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self._answers[sock] += data
            return
        answer = bytes(self._answers.pop(sock))
        parts = answer.split(b" ", 2)
        self.report.answered[parts[1].decode() if len(parts) == 3 else "none"] += 1
        if b"\r\n\r\n" in answer:
            self.report.sentences.add(answer.split(b"\r\n\r\n", 1)[1].decode(errors="replace"))
        self.report.closed_by_server += 1
        self.report.seconds_held.append(round(time.monotonic() - self._started.pop(sock), 1))
        self._selector.unregister(sock)
        sock.close()

    def still_open(self) -> int:
        with self._lock:
            return len(self._answers)

    def wait_closed(self, timeout: float) -> bool:
        """True when the server closed every attacking connection within `timeout` seconds."""
        self._watcher.join(timeout)
        return not self._watcher.is_alive()

    def close(self) -> None:
        self._stop.set()
        self._watcher.join()
        for sock in list(self._answers):
            self._selector.unregister(sock)
            sock.close()
        self._answers.clear()
        self._selector.close()

    def __enter__(self) -> SlowBodies:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def probe_health(url: str, probes: int = PROBES, timeout: float = PROBE_TIMEOUT_S) -> tuple[list[float], list[str]]:
    """GET /api/health from 127.0.0.1, a new connection each: (latencies in s, failures)."""
    latencies, failures = [], []
    for _ in range(probes):
        t0 = time.perf_counter()
        try:
            response = requests.get(url + "/api/health", timeout=timeout, headers={"Connection": "close"})
            if response.status_code != 200:
                failures.append(f"{response.status_code} {response.text[:200]}")
        except requests.RequestException as e:
            failures.append(type(e).__name__)
        latencies.append(time.perf_counter() - t0)
        time.sleep(max(0.0, PROBE_EVERY_S - (time.perf_counter() - t0)))
    return latencies, failures


def figures(latencies: list[float], failures: list[str]) -> str:
    ms = [x * 1000 for x in latencies]
    return (f"median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms over {len(ms)} probes, "
            f"{len(failures)} failed{' (' + ', '.join(sorted(set(failures))) + ')' if failures else ''}")


SHAPES = {"100 from one address": (sources(1), 100), "300 addresses, one each": (sources(300), 1)}


def run(kind: str, probes: int = PROBES, wait: float = 60.0) -> None:
    with dashboard(gunicorn=kind == "gunicorn") as lab:
        port = int(lab.url.rsplit(":", 1)[1])
        baseline = probe_health(lab.url, probes)
        print(f"{kind}: no attack: {figures(*baseline)}", flush=True)
        for shape, (addresses, per_source) in SHAPES.items():
            with SlowBodies(port, addresses, per_source) as attack:
                during = probe_health(lab.url, probes)
                threads = len(os.listdir(f"/proc/{lab.pid}/task"))
                t0 = time.monotonic()
                closed = attack.wait_closed(wait)
                report = attack.report
                print(f"{kind}: {shape}: {figures(*during)}; server threads during the attack {threads}; "
                      f"{'all' if closed else 'NOT all'} {report.opened} slow connections closed by the server "
                      f"within {time.monotonic() - t0:.0f} s more, answers {dict(report.answered)}", flush=True)
            stats = lab.api("GET", "/api/stats").get("connections", {})
            print(f"{kind}: after {shape}: /api/stats connections refused {stats.get('refused')}, "
                  f"closed {stats.get('closed')}", flush=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.attack_slow_bodies", description=__doc__.split("\n")[0])
    parser.add_argument("servers", nargs="*", metavar="gunicorn|dev", help="which servers (default both)")
    parser.add_argument("--probes", type=int, default=PROBES, help=f"health probes per shape (default {PROBES})")
    parser.add_argument("--wait", type=float, default=60.0,
                        help="seconds to wait for the server to close the slow connections (default 60)")
    args = parser.parse_args(argv)
    if set(args.servers) - {"gunicorn", "dev"}:
        parser.error("the servers are 'gunicorn' and 'dev'")
    for kind in args.servers or ["gunicorn", "dev"]:
        run(kind, args.probes, args.wait)


if __name__ == "__main__":
    main(sys.argv[1:])
