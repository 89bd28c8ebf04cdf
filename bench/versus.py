"""`python -m bench.versus TREE`: the echo rows before and after a change, in one run. The plain threaded
echo server, the lab of another checkout (TREE: a worktree of the commit before, for example
`git worktree add /tmp/before 3ded223`) and this checkout's lab take turns round by round, driven by the
same load generator (bench/echo_load.py), in the shapes of rows 2 and 17:

- `shipped`: 8 connections, a viewer watching, the lab as it ships (row 2's pass figure);
- `every event`: the same with every event recorded and streamed (no per-second limit);
- `socket path`: 8 connections, data events over the limit, nobody watching (row 2's socket path alone);
- `busy`: one connection, one CPU-bound process beside all three sides (row 17);
- `agent`: the `shipped` shape with each lab in a lab agent of its own checkout (`python -m agent`),
  its events through a Redis of its own to a dashboard of its own and its viewer (row 12).

For each it prints both labs' ratios to the plain server (the medians of the paired rounds, their
range) and each side's round trips a second and CPU per round trip (medians).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from .b17_busy_echo import busy_core
from .b2_echo import ALL_EVENTS, PAIRS, SHIPPED, PlainServer, Side
from .common import ROOT, Watchers, dashboard
from .fleet import redis_server, wait_for_agents
from .rounds import in_turns, ratios

SHAPES = {  # name: (the labs' environment, a viewer each, connections, a spinner beside, in an agent)
    "shipped": (SHIPPED, True, 8, False, False),
    "every event": (ALL_EVENTS, True, 8, False, False),
    "socket path": ({"SOCKETLAB_MAX_EVENTS_PER_SECOND": "1"}, False, 8, False, False),
    "busy": (SHIPPED, True, 1, True, False),
    "agent": (SHIPPED, True, 8, False, True),
}
AGENT = "echo"


def lab_side(stack: ExitStack, root: Path, env: dict[str, str], viewer: bool, connections: int, agent: bool) -> Side:
    """One lab's echo server, from the code at `root`: in its dashboard's process, or in an agent's."""
    body = {"kind": "tcp-server", "port": 0, "mode": "echo"}
    if not agent:
        lab = stack.enter_context(dashboard(env, root=root))
        pid = lab.pid
    else:
        url = stack.enter_context(redis_server())
        lab = stack.enter_context(dashboard({"SOCKETLAB_REDIS": url, "SOCKETLAB_MAX_WEBSOCKETS_PER_ADDRESS": "6"}, root=root))
        folder = Path(tempfile.mkdtemp(prefix="socketlab-versus-"))
        stack.callback(shutil.rmtree, folder, True)
        proc = subprocess.Popen([sys.executable, "-m", "agent", "--redis", url, "--name", AGENT], cwd=root,
                                env=dict(os.environ, SOCKETLAB_FILES=str(folder / "files"),
                                         SOCKETLAB_DOWNLOADS=str(folder / "downloads"), **env),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack.callback(proc.wait, 30)
        stack.callback(proc.terminate)
        wait_for_agents(lab, [AGENT])
        body["agent"] = AGENT
        pid = proc.pid
    server = lab.api("POST", "/api/endpoints", json=body)
    if viewer:
        watchers = Watchers(lab.url, 1)
        stack.callback(watchers.finish)
    return Side(server["local"][1], [pid], [], [], connections=connections)


def shape(name: str, before: Path, pairs: int) -> str:
    env, viewer, connections, busy, agent = SHAPES[name]
    with ExitStack() as stack:
        plain = stack.enter_context(PlainServer())
        plain.connections = connections
        sides = [plain] + [lab_side(stack, root, env, viewer, connections, agent) for root in (before, ROOT)]
        if busy:
            stack.enter_context(busy_core())
        plain_rates, before_rates, after_rates = in_turns([side.measure for side in sides], pairs)
    row = [name]
    for rates in (before_rates, after_rates):
        paired = ratios(rates, plain_rates)
        row.append(f"{statistics.median(paired):.2f}x ({min(paired):.2f}-{max(paired):.2f})")
    for side in sides:
        row.append(f"{statistics.median(side.rates):,.0f}/s, {statistics.median(side.cpu_us):.0f} us")
    return "| " + " | ".join(row) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.versus", description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="a checkout of the code before (a git worktree)")
    parser.add_argument("--shapes", nargs="+", choices=list(SHAPES), default=list(SHAPES))
    parser.add_argument("--pairs", type=int, default=PAIRS)
    args = parser.parse_args(argv)
    if not (args.before / "lab" / "sockets" / "connection.py").is_file():
        parser.error(f"{args.before} is not a checkout of this project")
    print("| shape | before / plain | after / plain | plain server | before | after |")
    print("|---|---|---|---|---|---|")
    for name in args.shapes:
        print(shape(name, args.before.resolve(), args.pairs), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
