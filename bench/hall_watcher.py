"""`python -m bench.hall_watcher URL N`: N Socket.IO viewers of one dashboard, as cheap as a viewer can be.

Bench 16 runs 200 viewers on the same 2 cores as the dashboards it measures, so each viewer does
the least that still checks delivery: per batch, the agent's numbers (every agent_seq counted, so a
viewer knows what it missed or got twice: a batch of the next numbers in a row, as many as it holds,
is counted in one step, any other one by one), the dashboard's first and last seq (a gap there is a
drop the page counts and shows), and one latency per batch, from the `ts` of its oldest event (every
event of the batch is charged that latency: an upper bound on each one's).

Prints "ready", then on a JSON line {"last": agent_seq range [first, last]} waits (5 s at most) until
each viewer has the last one, and prints one JSON line: per viewer, events, missing, duplicated,
dropped (dashboard seq gaps), and latency percentiles weighted by events.
"""

from __future__ import annotations

import json
import re
import sys
import time
from typing import Any

from .watcher import Watcher

AGENT_SEQ = re.compile(rb'"agent_seq":(\d+)')
SEQ = re.compile(rb'\{"seq":(\d+),"ts":([\d.]+)')
DRAIN_SECONDS = 5.0


class HallWatcher(Watcher):
    def __init__(self, url: str) -> None:
        self.counts = bytearray(1 << 17)  # copies received, indexed by agent_seq (one agent)
        self.newest = 0
        self.dropped = 0  # dashboard seqs skipped between two batches: what the page counts as dropped
        self.batches: list[tuple[float, int]] = []  # (latency ms of the batch's oldest event, events in it)
        super().__init__(url, keep_latencies=False)

    def on_batch(self, frame: bytes, now: float) -> None:
        head = SEQ.search(frame)
        if head is None:
            return
        tail = SEQ.match(frame, frame.rfind(b'{"seq":'))
        first, last = int(head[1]), int(tail[1]) if tail else int(head[1])
        if self.last and first > self.last + 1:
            self.dropped += first - self.last - 1
        self.last = max(self.last, last)
        n = frame.count(b'"agent_seq":')
        if not n:
            return
        low = AGENT_SEQ.search(frame)
        high = AGENT_SEQ.match(frame, frame.rfind(b'"agent_seq":'))
        assert low is not None and high is not None
        lowest, highest = int(low[1]), int(high[1])
        if lowest == self.newest + 1 and highest - lowest + 1 == n and highest < len(self.counts):
            # the usual batch: the agent's next numbers, each once, in order (they are new, so 0 before):
            # counted in one step, no Python loop per event (200 viewers share the machine measured)
            self.counts[lowest:highest + 1] = b"\x01" * n
        else:
            self._count_each(AGENT_SEQ.findall(frame))
        self.count += n
        self.newest = max(self.newest, highest)  # (one agent: its events arrive in its order)
        self.batches.append(((now - float(head[2])) * 1000, n))

    def _count_each(self, seqs: list[bytes]) -> None:
        counts = self.counts
        for text in seqs:
            seq = int(text)
            if seq >= len(counts):
                counts.extend(bytes(seq + 1 - len(counts) + (1 << 16)))
            if counts[seq] < 255:
                counts[seq] += 1

    def report(self, first: int, last: int) -> dict[str, Any]:
        window = self.counts[first:last + 1]
        missing = (last + 1 - first) - sum(1 for c in window if c)
        duplicated = sum(c - 1 for c in window if c > 1)
        return {"events": self.count, "missing": missing, "duplicated": duplicated, "dropped": self.dropped,
                "latency_ms": weighted(self.batches)}


def weighted(batches: list[tuple[float, int]]) -> dict[str, float]:
    """p50, p99 and max of per-event latencies, each event charged its batch's."""
    total = sum(n for _, n in batches)
    if not total:
        return {"n": 0}
    ordered = sorted(batches)
    marks, out, seen = {"p50": 0.50 * total, "p99": 0.99 * total}, {}, 0
    for ms, n in ordered:
        seen += n
        for name, mark in marks.items():
            if name not in out and seen >= mark:
                out[name] = ms
    return {"n": total, **out, "max": ordered[-1][0]}


def main() -> None:
    url, n = sys.argv[1], int(sys.argv[2])
    watchers = [HallWatcher(url) for _ in range(n)]
    print("ready", flush=True)
    line = sys.stdin.readline()
    first, last = json.loads(line)["range"] if line.strip() else (1, 0)
    deadline = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < deadline and not all(w.newest >= last for w in watchers):
        time.sleep(0.05)
    for w in watchers:
        w.close()
        w.thread.join(5)
    print(json.dumps([w.report(first, last) for w in watchers]), flush=True)


if __name__ == "__main__":
    main()
