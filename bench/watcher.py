"""`python -m bench.watcher URL N`: N python-socketio clients receiving the lab's events.

Prints one JSON line when its standard input closes: per client, events received, seq gaps
(dropped), and latencies from each event's `ts` (the socket call) to its receipt, in ms.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import socketio


class Watcher:
    def __init__(self, url: str, keep_latencies: bool) -> None:
        self.count = 0
        self.gaps = 0
        self.last = 0
        self.latencies: list[float] = []
        self.keep = keep_latencies
        self.lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("events", self.on_events)
        self.sio.connect(url, transports=["websocket"], wait_timeout=20)

    def on_events(self, batch: list[dict[str, Any]]) -> None:
        now = time.time()
        with self.lock:
            for event in batch:
                seq = event["seq"]
                if self.last and seq > self.last + 1:
                    self.gaps += seq - self.last - 1
                self.last = max(self.last, seq)
                self.count += 1
                if self.keep and event["kind"] == "recv":
                    self.latencies.append((now - event["ts"]) * 1000)


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    pick = lambda p: ordered[min(len(ordered) - 1, int(p / 100 * (len(ordered) - 1)))]  # noqa: E731
    return {"n": len(ordered), "p50": pick(50), "p99": pick(99), "max": ordered[-1]}


def main() -> None:
    url, n = sys.argv[1], int(sys.argv[2])
    keep = len(sys.argv) > 3 and sys.argv[3] == "latency"
    watchers = [Watcher(url, keep) for _ in range(n)]
    print("ready", flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    time.sleep(1.0)  # let the last batches arrive
    report = [{"events": w.count, "gaps": w.gaps, "latency_ms": summary(w.latencies)} for w in watchers]
    for w in watchers:
        w.sio.disconnect()
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
