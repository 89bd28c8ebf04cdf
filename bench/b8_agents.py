"""8: 20 lab agents, each recording 200 events/s (real datagrams into a udp-server of its lab), to 10
Socket.IO viewers through one dashboard over Redis: p50/p99 from the agent's socket call (the event's
`ts`) to each viewer's receipt, and every (agent, agent_seq) received exactly once. In turns with
its baseline (fleet.load_run): the same datagrams into as many udp-servers of one dashboard's own lab,
watched by as many viewers; the ratio is the rounds' median of agents' p99 / embedded p99."""

from __future__ import annotations

from typing import Any

from .common import Result
from .fleet import load_run
from .rounds import Goal, Rounds, at_most, ratios, span

AGENTS, RATE, SECONDS = 20, 200, span(15, 5)
PAIRS = span(3, 2)
GOAL = at_most(50, "ms")


def delivery(number: int, run: dict[str, Any], goal: Goal = GOAL) -> Result:
    """The row for one load run (bench 9 words its wider run the same way, with a goal of its own)."""
    lost = run["missing"]
    rounds = Rounds(tuple(run["p99_ms_rounds"]), goal)
    vs_embedded = Rounds(ratios(rounds.figures, run["embedded_p99_ms_rounds"]), at_most(1.0, "x"))
    embedded = sorted(run["embedded_p99_ms_rounds"])[len(run["embedded_p99_ms_rounds"]) // 2]
    met = rounds.met and lost == 0 and run["duplicated"] == 0 and run["backwards"] == 0
    return Result(number, f"{run['agents']} agents x {run['rate']} events/s for {run['seconds']} s a round to "
                          f"{run['viewers']} viewers, through Redis, vs the embedded lab",
                  f"p99 {rounds.text(0)} (worst viewer); {vs_embedded.text()} of the embedded lab's p99 "
                  f"(about {embedded:.0f} ms); p50 {run['p50_ms']:.0f} ms, max {run['max_ms']:.0f} ms; "
                  f"{run['recorded']} events, {lost} lost, {run['duplicated']} twice, {run['backwards']} out of order",
                  f"p99 {goal.text} (median of paired rounds), 0 lost", met,
                  {**run, "paired": rounds.figures_json(), "ratio": vs_embedded.median, "vs_embedded": vs_embedded.figures_json(),
                   "baseline": f"the embedded lab, the same load and viewers: p99 about {embedded:.0f} ms"})


def run() -> Result:
    return delivery(8, load_run(AGENTS, RATE, SECONDS, pairs=PAIRS))
