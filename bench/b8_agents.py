"""8: 20 lab agents, each recording 200 events/s for 60 s (real datagrams into a udp-server of its
lab), to 10 Socket.IO viewers through one dashboard over Redis: p50/p99 from the agent's socket call
(the event's `ts`) to each viewer's receipt, and every (agent, agent_seq) received exactly once."""

from __future__ import annotations

from typing import Any

from .common import Result
from .fleet import load_run

AGENTS, RATE, SECONDS = 20, 200, 60
P99_LIMIT_MS = 50


def delivery(number: int, run: dict[str, Any]) -> Result:
    """The row for one load run (bench 9 words its wider run the same way)."""
    lost = run["missing"]
    met = run["p99_ms"] <= P99_LIMIT_MS and lost == 0 and run["duplicated"] == 0 and run["backwards"] == 0
    return Result(number, f"{run['agents']} agents x {run['rate']} events/s for {run['seconds']} s to "
                          f"{run['viewers']} viewers, through Redis",
                  f"p50 {run['p50_ms']:.0f} ms, p99 {run['p99_ms']:.0f} ms (worst viewer), max {run['max_ms']:.0f} ms; "
                  f"{run['recorded']} events, {lost} lost, {run['duplicated']} twice, {run['backwards']} out of order",
                  f"p99 <= {P99_LIMIT_MS} ms, 0 lost", met, run)


def run() -> Result:
    return delivery(8, load_run(AGENTS, RATE, SECONDS))
