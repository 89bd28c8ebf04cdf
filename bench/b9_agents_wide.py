"""9: as bench 8, wider: 50 lab agents x 100 events/s to 10 viewers, 5,000 events a second in all.

Its goal is a live view's, not a quiet one's: p99 within 250 ms, as for 50 viewers of one lab (bench 3)
and a lecture hall (bench 16). At 5,000 events a second no page shows single events as they come (it
draws at most one frame in 16 ms and coalesces); what a teacher needs is that what a student's program
did appears while the teacher still looks at it, and a quarter of a second is below what a reader notices
as a lag behind a terminal beside the projector. Row 8's 50 ms is for a class at a fifth of this load.
"""

from __future__ import annotations

from .b8_agents import PAIRS, delivery
from .common import Result
from .fleet import load_run
from .rounds import at_most, span

AGENTS, RATE, SECONDS = 50, 100, span(10, 4)
GOAL = at_most(250, "ms")


def run() -> Result:
    return delivery(9, load_run(AGENTS, RATE, SECONDS, pairs=PAIRS), GOAL)
