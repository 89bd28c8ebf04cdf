"""17: bench 2 on a busy machine: the same 64-byte echo, a viewer watching (the lab as it ships), against the
plain threaded echo server, while one CPU-bound process (`while 1: pass`, started and killed here) takes
a core for the whole row. Both sides meet the same load, round after round, so the ratio says how much
of the lab's speed survives a neighbour that never sleeps (a student's busy loop, a test run).

One connection, round trip by round trip (bench/echo_load.py's generator with one connection, for both
sides): the question here is how soon each server's thread runs again beside the spinner, which a
single ping-pong asks at every round trip; with several connections at once the ratio becomes the CPU
each server spends a round trip, which rows 2 and 12 measure. The goal was set on this measure."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from typing import Iterator

from .b2_echo import PAIRS, SHIPPED, PlainServer, Side, summary, take_turns
from .common import Result, Watchers, dashboard
from .rounds import at_least

GOAL = at_least(0.87)
SPIN = "while 1: pass"


@contextmanager
def busy_core() -> Iterator[int]:
    """One process spinning on a core until the block ends; yields its pid."""
    spinner = subprocess.Popen([sys.executable, "-c", SPIN], stdin=subprocess.DEVNULL)
    try:
        yield spinner.pid
    finally:
        spinner.kill()
        spinner.wait()


def run() -> Result:
    load_before = os.getloadavg()[0]
    with dashboard(SHIPPED) as lab, PlainServer() as plain:
        server = lab.api("POST", "/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo"})
        watchers = Watchers(lab.url, 1)
        labbed = Side(server["local"][1], [lab.pid], [], [], connections=1)
        plain.connections = 1
        with busy_core():
            rounds = take_turns(plain, labbed, PAIRS, GOAL)
            load_during = os.getloadavg()[0]
        watchers.finish()
    text, figures = summary(rounds, plain, labbed)
    return Result(17, "echo round trips (64 B) with one CPU-bound process beside them, vs the plain threaded echo "
                      "server under the same load",
                  f"{text}; load {load_before:.1f} before, {load_during:.1f} with the spinner",
                  f"{GOAL.text}, median of paired rounds", rounds.met,
                  {**figures, "busy": True,
                   "load_average": [load_before, load_during]})
