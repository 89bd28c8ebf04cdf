"""10: command round trips under bench 8's load (the same run, when bench 8 ran first): GET
/api/endpoints/<id> of an agent's endpoint, 10 a second, through REST -> cmd:{agent} -> the agent ->
reply:{dashboard} -> REST, while 20 agents ship 4,000 events/s to 10 viewers."""

from __future__ import annotations

from .b8_agents import AGENTS, PAIRS, RATE, SECONDS
from .common import Result
from .fleet import load_run

P99_LIMIT_MS = 50


def run() -> Result:
    load = load_run(AGENTS, RATE, SECONDS, pairs=PAIRS)
    met = load["command_p99_ms"] <= P99_LIMIT_MS and load["commands_failed"] == 0
    return Result(10, f"command round trip under bench 8's load ({AGENTS} agents x {RATE} events/s)",
                  f"p50 {load['command_p50_ms']:.1f} ms, p99 {load['command_p99_ms']:.1f} ms, max "
                  f"{load['command_max_ms']:.0f} ms over {load['commands']} commands, {load['commands_failed']} failed",
                  f"p99 <= {P99_LIMIT_MS} ms", met,
                  {k: load[k] for k in ("command_p50_ms", "command_p99_ms", "command_max_ms", "commands", "commands_failed")})
