"""9: as bench 8, wider: 50 lab agents x 100 events/s for 30 s to 10 viewers."""

from __future__ import annotations

from .b8_agents import delivery
from .common import Result
from .fleet import load_run

AGENTS, RATE, SECONDS = 50, 100, 30


def run() -> Result:
    return delivery(9, load_run(AGENTS, RATE, SECONDS))
