"""11: a lab agent killed with SIGKILL (no goodbye: its heartbeat key just stops being renewed), 10
times, restarted in between: time from the kill to the dashboard's `agent` down event, as a Socket.IO
viewer receives it. The agent is `python -m agent`, its own process, as on a lab host."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import ROOT, Result, percentile
from .fleet import AgentWatchers, over_agents, redis_server, wait_for_agents

KILLS = 10
MAX_LIMIT_S = 3.0
NAME = "victim"


def run() -> Result:
    folder = Path(tempfile.mkdtemp(prefix="socketlab-victim-"))
    env = dict(os.environ, SOCKETLAB_FILES=str(folder / "files"), SOCKETLAB_DOWNLOADS=str(folder / "downloads"))
    phase = random.Random(11)  # where in the 0.5 s heartbeat period the kill falls: spread over it, the same every run
    kills: list[float] = []
    try:
        with redis_server() as url, over_agents(url, 1) as lab:
            viewer = AgentWatchers(lab.url, 1, processes=1)
            for _ in range(KILLS):
                agent = subprocess.Popen([sys.executable, "-m", "agent", "--redis", url, "--name", NAME], cwd=ROOT,
                                         env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
                wait_for_agents(lab, [NAME], "up")
                time.sleep(phase.uniform(0.5, 1.0))  # not a wait for anything: it moves the kill within the period
                kills.append(time.time())
                agent.kill()
                agent.wait(10)
                wait_for_agents(lab, [NAME], "down")
            states = viewer.finish({}, {NAME: KILLS})[0]["states"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    downs = [at for name, what, at in states if name == NAME and what == "down"]
    seconds = [min((d for d in downs if d > k), default=float("inf")) - k for k in kills]
    worst = max(seconds)
    return Result(11, f"dead agent seen by a viewer, over {KILLS} SIGKILLs",
                  f"max {worst:.2f} s, median {percentile(seconds, 50):.2f} s, min {min(seconds):.2f} s",
                  f"max <= {MAX_LIMIT_S} s", worst <= MAX_LIMIT_S and len(downs) == KILLS,
                  {"seconds": [round(s, 3) for s in seconds], "down_events": len(downs)})
