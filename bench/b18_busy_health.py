"""18: GET /api/health while the lab is at its busiest: 1 GiB raw downloads one after another and a
UDP flood of 5,000 datagrams a second (each one a recorded event, streamed to a viewer) at once, with
the API probed every 20 ms. Each round first probes the same dashboard with nothing running (the
baseline), then under that load; the pass figures are the medians of the rounds' p99 and max."""

from __future__ import annotations

import hashlib
import statistics
import subprocess
import sys
import threading
import time

import requests

from .b1_download import SIZE, make_file
from .common import PACED_SENDER, Dashboard, Result, Watchers, dashboard, percentile
from .rounds import Rounds, at_most, span

FLOOD_RATE = 5000
SECONDS = span(10, 4)
PAIRS = span(3, 2)
PROBE_EVERY_S = 0.02
GOAL = at_most(100, "ms")


class Probe(threading.Thread):
    """GET /api/health every PROBE_EVERY_S until stopped; the answers' times in ms (a failure is infinite)."""

    def __init__(self, url: str) -> None:
        super().__init__(name="bench-health", daemon=True)
        self.url = url
        self.stopping = threading.Event()
        self.ms: list[float] = []

    def run(self) -> None:
        with requests.Session() as session:
            while not self.stopping.wait(PROBE_EVERY_S):
                start = time.perf_counter()
                try:
                    ok = session.get(self.url + "/api/health", timeout=10).ok
                except requests.RequestException:
                    ok = False
                self.ms.append((time.perf_counter() - start) * 1000 if ok else float("inf"))

    def stop(self) -> list[float]:
        self.stopping.set()
        self.join(15)
        return self.ms


def probed(lab: Dashboard, seconds: float) -> list[float]:
    probe = Probe(lab.url)
    probe.start()
    time.sleep(seconds)
    return probe.stop()


def busy(lab: Dashboard, file_port: int, flood_port: int) -> tuple[list[float], int]:
    """The probe's times while the flood runs for SECONDS and 1 GiB downloads follow one another; downloads done."""
    probe = Probe(lab.url)
    flood = subprocess.Popen([sys.executable, "-c", PACED_SENDER, str(flood_port), str(FLOOD_RATE), str(SECONDS)])
    probe.start()
    downloads = 0
    try:
        while flood.poll() is None:
            started = lab.api("POST", "/api/downloads", json={"host": "127.0.0.1", "port": file_port, "protocol": "raw"})
            while (dl := lab.api("GET", f"/api/downloads/{started['id']}"))["state"] == "running":
                time.sleep(0.1)
            if dl["state"] == "done":
                downloads += 1
                (lab.downloads / dl["saved_as"]).unlink(missing_ok=True)
    finally:
        flood.wait()
    return probe.stop(), downloads


def run() -> Result:
    with dashboard() as lab:
        big = lab.files / "big-1GiB.bin"
        make_file(big, SIZE)
        hashlib.file_digest(open(big, "rb"), "sha256")  # (read through once: the page cache holds it)
        server = lab.api("POST", "/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "file", "file": big.name})
        flood = lab.api("POST", "/api/endpoints", json={"kind": "udp-server", "port": 0, "mode": "manual"})
        viewer = Watchers(lab.url, 1)
        quiet: list[list[float]] = []
        loaded: list[list[float]] = []
        downloads: list[int] = []
        for _ in range(PAIRS):
            quiet.append(probed(lab, SECONDS / 2))
            times, done = busy(lab, server["local"][1], flood["local"][1])
            loaded.append(times)
            downloads.append(done)
        streamed = viewer.finish()[0]
        endpoint = lab.api("GET", f"/api/endpoints/{flood['id']}")
    p99 = Rounds(tuple(percentile(ms, 99) for ms in loaded), GOAL)
    worst = Rounds(tuple(max(ms) for ms in loaded), GOAL)
    quiet_p99 = statistics.median(percentile(ms, 99) for ms in quiet)
    quiet_max = statistics.median(max(ms) for ms in quiet)
    every = [x for ms in loaded for x in ms]
    return Result(18, f"GET /api/health every {PROBE_EVERY_S * 1000:.0f} ms during 1 GiB raw downloads and a "
                      f"{FLOOD_RATE:,} events/s UDP flood at once ({SECONDS} s a round, a viewer watching)",
                  f"p99 {p99.text(0)}; max {worst.text(0)}; the worst of {len(every)} probes {max(every):.0f} ms; "
                  f"{sum(downloads)} GiB downloaded, {streamed['events']} events streamed "
                  f"({endpoint.get('kernel_drops', 0)} datagrams dropped by the kernel); nothing running: "
                  f"p99 {quiet_p99:.0f} ms, max {quiet_max:.0f} ms",
                  f"p99 and max {GOAL.text}, medians of the rounds", p99.met and worst.met,
                  {"paired": worst.figures_json(), "p99": p99.figures_json(), "baseline": f"nothing running: p99 "
                   f"{quiet_p99:.0f} ms, max {quiet_max:.0f} ms",
                   "downloads": downloads, "probes": len(every), "worst_ms": max(every),
                   "quiet_p99_ms": quiet_p99, "quiet_max_ms": quiet_max, "events_streamed": streamed["events"],
                   "kernel_drops": endpoint.get("kernel_drops")})
