"""4: 1,000,000 small UDP datagrams at a lab UDP server, as fast as a plain sender can send.
The dashboard must stay under 300 MB RSS and answer /api/health within 100 ms throughout; what
could not be kept is counted (kernel drops, events over the per-second limit, buffer drops)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import requests

from .common import Result, dashboard, percentile

DATAGRAMS = 1_000_000
RSS_LIMIT_MB = 300
HEALTH_LIMIT_MS = 100
SENDER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
target, payload = ("127.0.0.1", int(sys.argv[1])), b"flood datagram"
for _ in range(int(sys.argv[2])):
    s.sendto(payload, target)
"""


def run() -> Result:
    with dashboard() as lab:
        server = lab.api("POST", "/api/endpoints", json={"kind": "udp-server", "port": 0, "mode": "manual"})
        health_ms: list[float] = []
        rss: list[float] = [lab.rss_mb()]
        done = threading.Event()

        def probe() -> None:
            with requests.Session() as s:
                while not done.is_set():
                    t0 = time.perf_counter()
                    s.get(lab.url + "/api/health", timeout=10).raise_for_status()
                    health_ms.append((time.perf_counter() - t0) * 1000)
                    rss.append(lab.rss_mb())
                    done.wait(0.05)

        prober = threading.Thread(target=probe)
        prober.start()
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", SENDER, str(server["local"][1]), str(DATAGRAMS)], check=True)
        sent_for = time.perf_counter() - start
        time.sleep(1)  # the lab drains what the kernel still holds
        done.set()
        prober.join()
        endpoint = lab.api("GET", f"/api/endpoints/{server['id']}")
        stats = lab.api("GET", "/api/stats")
        events = lab.api("GET", "/api/events?after=0&limit=1")
    worst, p99 = max(health_ms), percentile(health_ms, 99)
    met = max(rss) < RSS_LIMIT_MB and worst <= HEALTH_LIMIT_MS
    received = endpoint["datagrams_in"]
    return Result(4, "1,000,000-datagram UDP flood",
                  f"peak RSS {max(rss):.0f} MB, /api/health worst {worst:.0f} ms (p99 {p99:.0f} ms); "
                  f"{received} datagrams received, {endpoint['kernel_drops']} dropped by the kernel, "
                  f"{stats['suppressed']} events over the rate limit, {events['dropped']} left the buffer",
                  f"RSS < {RSS_LIMIT_MB} MB, health <= {HEALTH_LIMIT_MS} ms, drops counted", met,
                  {"rss_mb": max(rss), "health_ms_worst": worst, "health_ms_p99": p99, "health_probes": len(health_ms),
                   "sent_seconds": sent_for, "datagrams_received": received, "kernel_drops": endpoint["kernel_drops"],
                   "events_suppressed": stats["suppressed"], "events_dropped_from_buffer": events["dropped"]})
