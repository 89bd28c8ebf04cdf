"""12: bench 2 with the lab in a lab agent: 64-byte round trips against a TCP echo server of an agent
in its own process (`python -m agent`), made through the dashboard's REST API, its events (as bench 2's
pass figure: the lab as it ships, up to its per-second limit, the rest counted) shipped through Redis
and streamed to a Socket.IO viewer by the dashboard in another process. Its baselines
take turns with it, round by round: a plain threaded Python echo server (the goal's ratio) and the
embedded lab of bench 2 (a dashboard of its own with a viewer of its own), so the row also says what
moving the lab out of the dashboard's process gains or costs on the same machine in the same minute."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from .b2_echo import GOAL, PAIRS, SHIPPED, PlainServer, Side, fast_enough, summary
from .common import ROOT, Result, Watchers, dashboard
from .fleet import over_agents, redis_server, wait_for_agents
from .rounds import Rounds, at_least, in_turns, ratios

NAME = "echo"


def run() -> Result:
    folder = Path(tempfile.mkdtemp(prefix="socketlab-echo-agent-"))
    env = dict(os.environ, SOCKETLAB_FILES=str(folder / "files"), SOCKETLAB_DOWNLOADS=str(folder / "downloads"),
               **SHIPPED)
    try:
        with redis_server() as url, over_agents(url, 1) as lab, dashboard(SHIPPED) as alone, \
                PlainServer() as plain:
            agent = subprocess.Popen([sys.executable, "-m", "agent", "--redis", url, "--name", NAME], cwd=ROOT, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_for_agents(lab, [NAME])
                server = lab.api("POST", "/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo",
                                                                 "agent": NAME})
                local = alone.api("POST", "/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo"})
                viewer, local_viewer = Watchers(lab.url, 1), Watchers(alone.url, 1)
                agented = Side(server["local"][1], [agent.pid], [], [])
                embedded = Side(local["local"][1], [alone.pid], [], [])
                plain_rates, agent_rates, embedded_rates = in_turns([plain.measure, agented.measure, embedded.measure],
                                                                    PAIRS)
                streamed = viewer.finish()[0]
                local_viewer.finish()
                stats = lab.api("GET", f"/api/endpoints/{server['id']}")
            finally:
                agent.terminate()
                agent.wait(30)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rounds = Rounds(ratios(agent_rates, plain_rates), GOAL)
    vs_embedded = Rounds(ratios(agent_rates, embedded_rates), at_least(1.0))
    embedded_vs_plain = ratios(embedded_rates, plain_rates)
    text, figures = summary(rounds, plain, agented, "agent")
    fast, why_not = fast_enough(figures["plain_rps_median"])
    return Result(12, "echo round trips (64 B) against a lab agent in its own process vs a plain threaded echo server",
                  f"{text}; against the embedded lab in the same rounds {vs_embedded.text()} "
                  f"(the embedded lab {statistics.median(embedded_vs_plain):.2f}x of the plain server){why_not}",
                  f"{GOAL.text}, median of paired rounds", rounds.met and fast,
                  {**figures, "vs_embedded": vs_embedded.figures_json(), "embedded_rps": embedded.rates,
                   "embedded_ratios": list(embedded_vs_plain), "embedded_cpu_us": embedded.cpu_us,
                   "events_streamed": streamed["events"], "events_dropped_for_the_client": streamed["gaps"],
                   "bytes_in": stats.get("bytes_in")})
