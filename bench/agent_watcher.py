"""`python -m bench.agent_watcher URL N`: N Socket.IO viewers of a dashboard over lab agents.

The same raw Engine.IO/Socket.IO clients as bench/watcher.py (regexes instead of decoding every
event, for the reason given there), counting by (agent, agent_seq) instead of the dashboard's seq:
the dashboard renumbers what it relays, so only the agent's own numbers tell a lost event apart.

Prints "ready" once all are connected. Then reads one JSON line on stdin, {"ranges": {agent: [first,
last]}, "downs": {agent: n}}: the agent seqs each viewer must have received, once each, and how many
down events it should have seen (it waits for both, 5 s at most). Then prints one JSON line, per viewer:
missing and duplicated events in those ranges, events out of order per agent, latency (receipt minus
the `ts` of each `recv` event: the agent's clock, which is this machine's), and each `agent` up/down
event with its receipt time (for the dead-agent benchmark).
"""

from __future__ import annotations

import json
import re
import sys
import time
from typing import Any

from .watcher import Watcher, summary

# Event.to_json's order, with `agent` and `agent_seq` last (the shipper adds the first, the dashboard's bus the second)
EVENT = re.compile(rb'\{"seq":\d+,"ts":([\d.]+),"endpoint":"[^"]*","conn":[^,]*,"proto":"\w*","kind":"(\w+)"'
                   rb'.*?"agent":"([\w.-]+)","agent_seq":(\d+|null)\}')
AGENT_STATE = re.compile(rb'"args":\{"event":"(\w+)"')
DRAIN_SECONDS = 5.0


class AgentWatcher(Watcher):
    def __init__(self, url: str) -> None:
        self.received: dict[bytes, bytearray] = {}  # agent -> copies received, indexed by agent_seq
        self.backwards = 0  # an agent's event after a later one of the same agent (per agent, order must hold)
        self.newest: dict[bytes, int] = {}
        self.states: list[tuple[str, str, float]] = []  # (agent, "up"/"down", receipt)
        super().__init__(url, keep_latencies=True)

    def on_batch(self, frame: bytes, now: float) -> None:
        for match in EVENT.finditer(frame):
            ts, kind, agent, seq_text = match.groups()
            if seq_text == b"null":  # the dashboard's own word about an agent: up or down
                if kind == b"agent" and (state := AGENT_STATE.search(match.group(0))):
                    self.states.append((agent.decode(), state.group(1).decode(), now))
                continue
            seq = int(seq_text)
            counts = self.received.setdefault(agent, bytearray())
            if seq >= len(counts):
                counts.extend(bytes(seq + 1 - len(counts) + 4096))
            counts[seq] = min(255, counts[seq] + 1)
            if seq <= self.newest.get(agent, 0):
                self.backwards += 1
            self.newest[agent] = max(seq, self.newest.get(agent, 0))
            self.count += 1
            if kind == b"recv":
                self.latencies.append((now - float(ts)) * 1000)

    def caught_up(self, ranges: dict[str, list[int]], downs: dict[str, int]) -> bool:
        return (all(self.newest.get(agent.encode(), 0) >= last for agent, (_, last) in ranges.items())
                and all(sum(1 for a, what, _ in self.states if a == agent and what == "down") >= n
                        for agent, n in downs.items()))

    def report(self, ranges: dict[str, list[int]]) -> dict[str, Any]:
        missing = duplicated = 0
        for agent, (first, last) in ranges.items():
            counts = self.received.get(agent.encode(), bytearray())
            window = counts[first:last + 1]
            missing += (last + 1 - first) - sum(1 for c in window if c)
            duplicated += sum(c - 1 for c in window if c > 1)
        return {"events": self.count, "missing": missing, "duplicated": duplicated, "backwards": self.backwards,
                "latency_ms": summary(self.latencies), "states": self.states}


def main() -> None:
    url, n = sys.argv[1], int(sys.argv[2])
    watchers = [AgentWatcher(url) for _ in range(n)]
    print("ready", flush=True)
    line = sys.stdin.readline()  # what to expect, once the benchmark knows every agent is done
    expected: dict[str, Any] = json.loads(line) if line.strip() else {}
    ranges: dict[str, list[int]] = expected.get("ranges", {})
    downs: dict[str, int] = expected.get("downs", {})
    deadline = time.monotonic() + DRAIN_SECONDS  # until each viewer has every agent's last event, or it is late
    while time.monotonic() < deadline and not all(w.caught_up(ranges, downs) for w in watchers):
        time.sleep(0.05)
    for w in watchers:
        w.close()
        w.thread.join(5)
    print(json.dumps([w.report(ranges) for w in watchers]), flush=True)


if __name__ == "__main__":
    main()
