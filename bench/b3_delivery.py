"""3: 2,000 events/s for 30 s to 50 live Socket.IO clients: p99 from the socket call (the event's
timestamp, taken right after recvfrom()) to the client's receipt, losses, and server memory."""

from __future__ import annotations

import subprocess
import sys

from .common import PACED_SENDER as SENDER, Result, Watchers, dashboard

RATE, SECONDS, CLIENTS, PROCESSES = 2000, 30, 50, 5
P99_LIMIT_MS = 250
# Every watcher connects from 127.0.0.1, standing in for a room of machines: lift the per-address
# cap of Socket.IO connections (the total stays what the thread count allows, 80 of 100).
ONE_ADDRESS = {"SOCKETLAB_MAX_WEBSOCKETS_PER_ADDRESS": str(CLIENTS)}


def run() -> Result:
    with dashboard(ONE_ADDRESS) as lab:
        server = lab.api("POST", "/api/endpoints", json={"kind": "udp-server", "port": 0, "mode": "manual"})
        watchers = [Watchers(lab.url, CLIENTS // PROCESSES, latency=True) for _ in range(PROCESSES)]
        rss_before = lab.rss_mb()
        first = lab.api("GET", "/api/stats")["events"]
        subprocess.run([sys.executable, "-c", SENDER, str(server["local"][1]), str(RATE), str(SECONDS)], check=True)
        rss_after = lab.rss_mb()
        produced = lab.api("GET", "/api/stats")["events"] - first
        endpoint = lab.api("GET", f"/api/endpoints/{server['id']}")
        reports = [r for w in watchers for r in w.finish()]
    p99 = max(r["latency_ms"].get("p99", float("inf")) for r in reports)
    worst = max(r["latency_ms"].get("max", float("inf")) for r in reports)
    received = [r["events"] for r in reports]
    gaps = sum(r["gaps"] for r in reports)
    growth = rss_after - rss_before
    met = p99 <= P99_LIMIT_MS and growth < 100 and min(received) + gaps >= produced * 0.99
    return Result(3, f"{RATE} events/s for {SECONDS} s to {CLIENTS} Socket.IO clients",
                  f"p99 {p99:.0f} ms (worst client), max {worst:.0f} ms; {produced} events, each client got "
                  f"{min(received)}-{max(received)} + {gaps} counted drops in all; RSS {rss_before:.0f} -> {rss_after:.0f} MB",
                  f"p99 <= {P99_LIMIT_MS} ms, only counted drops, bounded memory", met,
                  {"p99_ms": p99, "max_ms": worst, "events": produced, "received_min": min(received),
                   "received_max": max(received), "gaps_total": gaps, "rss_before_mb": rss_before, "rss_after_mb": rss_after,
                   "kernel_drops": endpoint["kernel_drops"], "per_client": reports})
