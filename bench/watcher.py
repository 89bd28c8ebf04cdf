"""`python -m bench.watcher URL N [latency]`: N Socket.IO clients receiving the lab's events.

Each client speaks the Socket.IO protocol over a WebSocket directly (engine.io v4: open, "40"
connect, "42[...]" events, ping/pong) and reads seqs and timestamps with a regex rather than
decoding every event object: fifty full python-socketio clients in Python cannot decode 100,000
events a second on two cores, and the benchmark measures the server, not the clients.

Prints "ready" once all are connected, then one JSON line when its standard input closes: per
client, events received, seq gaps (dropped), and latency from each recv event's `ts` (the socket
call) to its receipt, in ms.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from typing import Any

import websocket

SEQ_TS_KIND = re.compile(rb'\{"seq":(\d+),"ts":([\d.]+),"endpoint":[^,]*,"conn":[^,]*,"proto":"\w+","kind":"(\w+)"')


class Watcher:
    def __init__(self, url: str, keep_latencies: bool) -> None:
        self.count = self.gaps = self.last = 0
        self.latencies: list[float] = []
        self.keep = keep_latencies
        self.ws = websocket.create_connection(url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket", timeout=30,
                                                 skip_utf8_validation=True)  # pure-Python UTF-8 checks cost more than the server
        assert self.ws.recv().startswith("0")  # engine.io open
        self.ws.send("40")  # socket.io connect, default namespace
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.closed.is_set():
            try:
                frame = self.ws.recv()
            except (websocket.WebSocketException, OSError):
                return
            if frame == "2":
                self.ws.send("3")  # pong
            elif frame.startswith('42["events"'):
                self.on_batch(frame.encode(), time.time())

    def on_batch(self, frame: bytes, now: float) -> None:
        # Each event object starts with seq, ts, endpoint, conn, proto, kind (Event.to_json's order).
        for seq_text, ts, kind in SEQ_TS_KIND.findall(frame):
            seq = int(seq_text)
            if self.last and seq > self.last + 1:
                self.gaps += seq - self.last - 1
            self.last = max(self.last, seq)
            self.count += 1
            if self.keep and kind == b"recv":
                self.latencies.append((now - float(ts)) * 1000)

    def close(self) -> None:
        self.closed.set()
        self.ws.close()


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}

    def pick(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * (len(ordered) - 1)))]

    return {"n": len(ordered), "p50": pick(50), "p99": pick(99), "max": ordered[-1]}


def main() -> None:
    url, n = sys.argv[1], int(sys.argv[2])
    keep = len(sys.argv) > 3 and sys.argv[3] == "latency"
    watchers = [Watcher(url, keep) for _ in range(n)]
    print("ready", flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    time.sleep(1.0)  # let the last batches arrive
    report: list[dict[str, Any]] = [{"events": w.count, "gaps": w.gaps, "latency_ms": summary(w.latencies)} for w in watchers]
    for w in watchers:
        w.close()
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
