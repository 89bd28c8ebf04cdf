"""3: 2,000 events/s to 50 live Socket.IO clients: p99 from the socket call (the event's timestamp,
taken right after recvfrom()) to the client's receipt, losses, and server memory; against a bare
Flask-SocketIO app (bench/bare_app.py) emitting the same events to the same clients, served the same
way. The two take turns (bench/rounds.py): each round, 50 fresh viewers (in 5 processes of their own)
watch one side while a paced sender floods it; the pass figure is the median of the lab's rounds,
and the ratio the median of the rounds' lab / bare p99."""

from __future__ import annotations

import statistics
import subprocess
import sys
from typing import Any

from .common import PACED_SENDER as SENDER, Dashboard, Result, Watchers, dashboard
from .rounds import Rounds, at_most, in_turns, ratios, span

RATE, SECONDS, CLIENTS, PROCESSES = 2000, span(15, 5), 50, 5
PAIRS = span(3, 2)
GOAL = at_most(250, "ms")
# Every watcher connects from 127.0.0.1, standing in for a room of machines: lift the per-address
# cap of Socket.IO connections (the total stays what the thread count allows, 80 of 100).
ONE_ADDRESS = {"SOCKETLAB_MAX_WEBSOCKETS_PER_ADDRESS": str(CLIENTS)}


def watched(url: str, port: int) -> list[dict[str, Any]]:
    """CLIENTS viewers of `url` while RATE datagrams a second go to `port` for SECONDS; their reports."""
    watchers = [Watchers(url, CLIENTS // PROCESSES, latency=True) for _ in range(PROCESSES)]
    subprocess.run([sys.executable, "-c", SENDER, str(port), str(RATE), str(SECONDS)], check=True)
    return [r for w in watchers for r in w.finish()]


def lab_round(lab: Dashboard, port: int) -> dict[str, Any]:
    """A round on the lab: its viewers' reports, and how many events the lab made meanwhile."""
    first = lab.api("GET", "/api/stats")["events"]
    reports = watched(lab.url, port)
    return {"reports": reports, "produced": lab.api("GET", "/api/stats")["events"] - first}


def p99(reports: list[dict[str, Any]]) -> float:
    """The worst client's p99 (ms): the room is as live as its slowest viewer."""
    return max(r["latency_ms"].get("p99", float("inf")) for r in reports)


def run() -> Result:
    with dashboard(ONE_ADDRESS) as lab, dashboard(app="bench.bare_app:create_app()") as bare:
        server = lab.api("POST", "/api/endpoints", json={"kind": "udp-server", "port": 0, "mode": "manual"})
        bare_port = bare.api("GET", "/api/udp")["port"]
        rss_before = lab.rss_mb()
        bare_rounds, lab_rounds = in_turns([lambda: {"reports": watched(bare.url, bare_port)},
                                            lambda: lab_round(lab, server["local"][1])], PAIRS)
        rss_after = lab.rss_mb()
        endpoint = lab.api("GET", f"/api/endpoints/{server['id']}")
    return decide([r["reports"] for r in lab_rounds], [r["produced"] for r in lab_rounds],
                  [r["reports"] for r in bare_rounds], rss_before, rss_after, endpoint)


def decide(lab_rounds: list[list[dict[str, Any]]], made: list[int], bare_rounds: list[list[dict[str, Any]]],
           rss_before: float, rss_after: float, endpoint: dict[str, Any]) -> Result:
    """The row from the rounds' reports (per round, one per viewer) and the events the lab made in each."""
    rounds = Rounds(tuple(map(p99, lab_rounds)), GOAL)
    bare_p99 = [p99(reports) for reports in bare_rounds]
    vs_bare = Rounds(ratios(rounds.figures, bare_p99), at_most(1.0, "x"))
    reports = [r for reports in lab_rounds for r in reports]
    worst = max(r["latency_ms"].get("max", float("inf")) for r in reports)
    produced = sum(made)
    received = sum(r["events"] for r in reports) / len(reports)  # (each viewer watches one round)
    bare_reports = [r for rs in bare_rounds for r in rs]
    bare_received = sum(r["events"] for r in bare_reports) / len(bare_reports)
    gaps = sum(r["gaps"] for r in reports)
    growth = rss_after - rss_before
    # every event of its round reached every viewer, or the viewer was told of the drop (a gap in the seqs)
    complete = all(r["events"] + r["gaps"] >= n * 0.99 for rs, n in zip(lab_rounds, made, strict=True) for r in rs)
    met = rounds.met and growth < 100 and complete
    return Result(3, f"{RATE} events/s for {SECONDS} s a round to {CLIENTS} Socket.IO clients, vs a bare Flask-SocketIO app",
                  f"p99 {rounds.text(0)} (worst client); {vs_bare.text()} of the bare app's p99 "
                  f"({statistics.median(bare_p99):.0f} ms); max {worst:.0f} ms; {produced} events, "
                  f"{received:.0f} a viewer a round + {gaps} counted drops in all (the bare app's viewers "
                  f"{bare_received:.0f}); RSS {rss_before:.0f} -> {rss_after:.0f} MB",
                  f"p99 {GOAL.text} (median of paired rounds), only counted drops, bounded memory", met,
                  {"paired": rounds.figures_json(), "ratio": vs_bare.median, "vs_bare": vs_bare.figures_json(),
                   "baseline": f"a bare Flask-SocketIO app, the same events to the same clients: "
                               f"p99 {statistics.median(bare_p99):.0f} ms",
                   "bare_p99_ms": bare_p99, "p99_ms": rounds.median, "max_ms": worst, "events": produced,
                   "gaps_total": gaps, "rss_before_mb": rss_before, "rss_after_mb": rss_after,
                   "kernel_drops": endpoint["kernel_drops"], "per_client": [r for rs in lab_rounds for r in rs],
                   "bare_per_client": [r for rs in bare_rounds for r in rs]})
