"""7: the production command under 300 idle websockets and 300 slowloris connections, all from one
address (127.0.0.1): /api/health must answer within 1 s throughout, against its own latency with
no attack, measured in the same run.

An idle websocket completes the Engine.IO handshake and answers pings but never sends the
Socket.IO CONNECT packet, so it would hold a gunicorn thread for as long as it likes. A slowloris
connection sends a request head one header line every 8 s and never finishes it. Both attackers
run in their own process (`python -m bench.b7_idle attack ...`), one selector loop for all their
sockets, so the probe's timings are not disturbed by their Python work.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import requests
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, RejectConnection, Request, TextMessage

from .common import ROOT, Result, dashboard, percentile

WEBSOCKETS = 300
SLOWLORIS = 300
ATTACK_S = 30  # longer than the head deadline and the join deadline, with margin
LINE_EVERY_S = 8.0
REOPEN_AFTER_S = 1.0  # an attacker whose connection is closed or refused comes back this much later
HEALTH_LIMIT_S = 1.0
PROBE_EVERY_S = 0.1


@dataclass
class AttackReport:
    """What the attackers saw; counts are connections."""

    websockets_opened: int = 0  # the server answered 101 Switching Protocols
    websockets_refused: dict[str, int] = field(default_factory=dict)  # status -> count
    websockets_closed_by_server: int = 0
    websocket_seconds_held: list[float] = field(default_factory=list)  # for each one the server closed
    slowloris_answered: dict[str, int] = field(default_factory=dict)  # first status line word -> count
    slowloris_closed_by_server: int = 0
    slowloris_seconds_held: list[float] = field(default_factory=list)
    still_open_at_end: int = 0
    reopened: int = 0


class _Peer:
    """One attacking connection: its socket, when it started, and what it is."""

    def __init__(self, sock: socket.socket, kind: str) -> None:
        self.sock, self.kind, self.started = sock, kind, time.monotonic()
        self.ws: WSConnection | None = None
        self.opened = False
        self.next_line = self.started + LINE_EVERY_S
        self.answer = b""


class Attack:
    """Idle websockets and slowloris heads against host:port, driven by one selector loop.

    With `keep`, the attack is kept up: each connection the server closes or refuses is opened
    again REOPEN_AFTER_S later, so as many are attempted at the end as at the start.
    """

    def __init__(self, host: str, port: int, websockets: int, slowloris: int, keep: bool = True) -> None:
        self.address = (host, port)
        self.keep = keep
        self.report = AttackReport()
        self.selector = selectors.DefaultSelector()
        self.peers: list[_Peer] = []
        self.reopen: list[tuple[float, str]] = []  # (when, kind)
        self.ending = False
        for _ in range(websockets):
            self._open("ws")
        for _ in range(slowloris):
            self._open("slow")

    def _open(self, kind: str) -> None:
        sock = socket.create_connection(self.address, timeout=10)
        sock.setblocking(False)
        peer = _Peer(sock, kind)
        if kind == "ws":
            peer.ws = WSConnection(ConnectionType.CLIENT)
            sock.sendall(peer.ws.send(Request(host=f"{self.address[0]}:{self.address[1]}",
                                              target="/socket.io/?EIO=4&transport=websocket")))
        else:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: %s:%d\r\n" % (self.address[0].encode(), self.address[1]))
        self.peers.append(peer)
        self.selector.register(sock, selectors.EVENT_READ, peer)

    def run(self, seconds: float) -> AttackReport:
        end = time.monotonic() + seconds
        while (self.peers or self.reopen) and (now := time.monotonic()) < end:
            for key, _ in self.selector.select(timeout=min(0.5, end - now)):
                self._readable(key.data)
            now = time.monotonic()
            for due, kind in [r for r in self.reopen if r[0] <= now]:
                self.reopen.remove((due, kind))
                self.report.reopened += 1
                self._open(kind)
            for peer in [p for p in self.peers if p.kind == "slow" and p.next_line <= now]:
                peer.next_line = now + LINE_EVERY_S
                try:
                    peer.sock.send(b"X-Slow: %d\r\n" % int(now))  # the head never ends
                except OSError:
                    self._gone(peer)
        self.report.still_open_at_end = len(self.peers)
        self.ending = True
        for peer in list(self.peers):
            self._drop(peer)
        self.selector.close()
        return self.report

    def _readable(self, peer: _Peer) -> None:
        try:
            data = peer.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if peer.kind == "slow":
            self._slow_readable(peer, data)
        else:
            self._ws_readable(peer, data)

    def _slow_readable(self, peer: _Peer, data: bytes) -> None:
        peer.answer += data
        if not data:
            status = peer.answer.split(b" ", 2)[1].decode() if peer.answer.count(b" ") >= 2 else "none"
            self.report.slowloris_answered[status] = self.report.slowloris_answered.get(status, 0) + 1
            self._gone(peer)

    def _ws_readable(self, peer: _Peer, data: bytes) -> None:
        assert peer.ws is not None
        peer.ws.receive_data(data or None)
        out = b""
        for event in peer.ws.events():
            if isinstance(event, AcceptConnection):
                peer.opened = True
                self.report.websockets_opened += 1
            elif isinstance(event, RejectConnection):
                code = str(event.status_code)
                self.report.websockets_refused[code] = self.report.websockets_refused.get(code, 0) + 1
                self._drop(peer)
                return
            elif isinstance(event, TextMessage) and event.data == "2":
                out += peer.ws.send(TextMessage(data="3"))  # answer Engine.IO's ping; never send "40"
            elif isinstance(event, CloseConnection):
                data = b""
        if out:
            try:
                peer.sock.send(out)
            except OSError:
                data = b""
        if not data:
            if not peer.opened:
                self.report.websockets_refused["reset"] = self.report.websockets_refused.get("reset", 0) + 1
                self._drop(peer)
            else:
                self._gone(peer)

    def _gone(self, peer: _Peer) -> None:
        """The server closed this connection."""
        held = round(time.monotonic() - peer.started, 1)
        if peer.kind == "ws":
            self.report.websockets_closed_by_server += 1
            self.report.websocket_seconds_held.append(held)
        else:
            self.report.slowloris_closed_by_server += 1
            self.report.slowloris_seconds_held.append(held)
        self._drop(peer)

    def _drop(self, peer: _Peer) -> None:
        if peer in self.peers:
            self.peers.remove(peer)
            self.selector.unregister(peer.sock)
            peer.sock.close()
            if self.keep and not self.ending:
                self.reopen.append((time.monotonic() + REOPEN_AFTER_S, peer.kind))


class AttackProcess:
    """The attack in its own process; `finish()` waits for its report."""

    def __init__(self, port: int, websockets: int, slowloris: int, seconds: float, keep: bool = True) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.b7_idle", "attack", str(port), str(websockets),
                                      str(slowloris), str(seconds), "keep" if keep else "once"],
                                     cwd=ROOT, stdout=subprocess.PIPE, text=True)

    def started(self) -> None:
        """Block until every attacking connection is open (the attacker prints a line)."""
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "open":
            self.proc.kill()
            raise RuntimeError(f"the attack did not start: {line!r}")

    def finish(self) -> AttackReport:
        assert self.proc.stdout is not None
        report = AttackReport(**json.loads(self.proc.stdout.readline()))
        self.proc.wait(30)
        self.proc.stdout.close()
        return report


@dataclass
class Probe:
    """GET /api/health on a new connection every PROBE_EVERY_S, as a new visitor would."""

    url: str
    timeout: float = 10.0
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def run(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.perf_counter()
            try:
                response = requests.get(self.url + "/api/health", timeout=self.timeout,
                                        headers={"Connection": "close"})
                if response.status_code != 200:
                    self.failures.append(f"{response.status_code} {response.text[:200]}")
            except requests.RequestException as e:
                self.failures.append(type(e).__name__)
            self.latencies.append(time.perf_counter() - t0)
            time.sleep(max(0.0, PROBE_EVERY_S - (time.perf_counter() - t0)))

    def summary(self) -> dict[str, Any]:
        ms = [x * 1000 for x in self.latencies]
        return {"probes": len(ms), "failures": len(self.failures), "p50_ms": round(percentile(ms, 50), 1),
                "p99_ms": round(percentile(ms, 99), 1), "max_ms": round(max(ms, default=float("nan")), 1)}


def measure(url: str, port: int, websockets: int, slowloris: int, seconds: float) -> tuple[Probe, Probe, AttackReport]:
    """Health latency with no attack, then during one, against the same server."""
    baseline = Probe(url)
    baseline.run(5)
    attack = AttackProcess(port, websockets, slowloris, seconds)
    during = Probe(url)
    # the probe starts while the attackers are still connecting: that is part of the attack
    prober = threading.Thread(target=during.run, args=(seconds,), name="health-probe")
    prober.start()
    attack.started()
    prober.join()
    return baseline, during, attack.finish()


def run() -> Result:
    with dashboard() as lab:
        port = int(lab.url.rsplit(":", 1)[1])
        baseline, during, report = measure(lab.url, port, WEBSOCKETS, SLOWLORIS, ATTACK_S)
        stats = lab.api("GET", "/api/stats")
        threads = len(os.listdir(f"/proc/{lab.pid}/task"))
    before, under = baseline.summary(), during.summary()
    worst = max(during.latencies, default=float("inf"))
    met = not during.failures and worst <= HEALTH_LIMIT_S
    ratio = under["p50_ms"] / before["p50_ms"] if before["p50_ms"] else float("nan")
    return Result(7, f"/api/health under {WEBSOCKETS} idle websockets + {SLOWLORIS} slowloris from one address",
                  f"p50 {under['p50_ms']} / p99 {under['p99_ms']} / max {under['max_ms']} ms, {under['failures']} failed "
                  f"(no attack: p50 {before['p50_ms']} / max {before['max_ms']} ms; p50 {ratio:.2f}x of it)",
                  f"every probe 200 within {HEALTH_LIMIT_S * 1000:.0f} ms", met,
                  {"baseline": before, "ratio": ratio, "under_attack": under, "attack": asdict(report),
                   "server_stats": stats, "server_threads_after": threads, "failures": during.failures[:10]})


def _attack_main(argv: list[str]) -> None:
    port, websockets, slowloris, seconds = int(argv[0]), int(argv[1]), int(argv[2]), float(argv[3])
    attack = Attack("127.0.0.1", port, websockets, slowloris, keep=argv[4:5] != ["once"])
    print("open", flush=True)
    print(json.dumps(asdict(attack.run(seconds))), flush=True)


if __name__ == "__main__" and sys.argv[1:2] == ["attack"]:
    _attack_main(sys.argv[2:])
