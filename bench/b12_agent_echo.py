"""12: bench 2 with the lab in a lab agent: 64-byte round trips against a TCP echo server of an agent
in its own process (`python -m agent`), made through the dashboard's REST API, every event shipped
through Redis and streamed to a Socket.IO viewer by the dashboard in another process; against a plain
threaded Python echo server measured in the same run. Beside it, bench 2 itself (the embedded lab),
in the same run: the web layer no longer shares the agent's GIL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import b2_echo
from .b2_echo import TARGET, PlainServer, Side, summary, take_turns
from .common import ROOT, Result, Watchers
from .fleet import over_agents, redis_server, wait_for_agents

NAME = "echo"


def run() -> Result:
    folder = Path(tempfile.mkdtemp(prefix="socketlab-echo-agent-"))
    env = dict(os.environ, SOCKETLAB_FILES=str(folder / "files"), SOCKETLAB_DOWNLOADS=str(folder / "downloads"),
               SOCKETLAB_MAX_EVENTS_PER_SECOND="10000000")  # as bench 2: every event recorded and shipped
    try:
        with redis_server() as url, over_agents(url, 1) as lab, PlainServer() as plain:
            agent = subprocess.Popen([sys.executable, "-m", "agent", "--redis", url, "--name", NAME], cwd=ROOT, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_for_agents(lab, [NAME])
                server = lab.api("POST", "/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo",
                                                                 "agent": NAME})
                viewer = Watchers(lab.url, 1)
                agented = Side(server["local"][1], [agent.pid], [], [])
                ratios = take_turns(plain, agented)
                streamed = viewer.finish()[0]
                stats = lab.api("GET", f"/api/endpoints/{server['id']}")
            finally:
                agent.terminate()
                agent.wait(30)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    embedded = b2_echo.run()  # the embedded lab, with its own plain baseline, in this same run
    text, figures = summary(ratios, plain, agented, "agent")
    ratio = figures["ratio"]
    return Result(12, "echo round trips (64 B) against a lab agent in its own process vs a plain threaded echo server",
                  f"{text}; embedded lab {embedded.figures['ratio']:.2f}x in the same run", f">= {TARGET}x",
                  ratio >= TARGET,
                  {**figures, "embedded": embedded.figures, "events_streamed": streamed["events"],
                   "events_dropped_for_the_client": streamed["gaps"], "bytes_in": stats.get("bytes_in")})
