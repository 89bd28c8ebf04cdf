"""`python -m bench.versus TREE`: the echo rows before and after a change, in one run. The plain threaded
echo server, the lab of another checkout (TREE: a worktree of the commit before, for example
`git worktree add /tmp/before 3ded223`) and this checkout's lab take turns round by round, driven by the
same load generator (bench/echo_load.py), in the shapes of rows 2 and 17:

- `shipped`: 8 connections, a viewer watching, the lab as it ships (row 2's pass figure);
- `every event`: the same with every event recorded and streamed (no per-second limit);
- `socket path`: 8 connections, data events over the limit, nobody watching (row 2's socket path alone);
- `busy`: one connection, one CPU-bound process beside all three sides (row 17).

For each it prints both labs' ratios to the plain server (the medians of the paired rounds, their
range) and each side's round trips a second and CPU per round trip (medians).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from contextlib import ExitStack
from pathlib import Path

from .b17_busy_echo import busy_core
from .b2_echo import ALL_EVENTS, PAIRS, SHIPPED, PlainServer, Side
from .common import Watchers, dashboard
from .rounds import in_turns, ratios

SHAPES = {  # name: (the labs' environment, a viewer each, connections, a spinner beside)
    "shipped": (SHIPPED, True, 8, False),
    "every event": (ALL_EVENTS, True, 8, False),
    "socket path": ({"SOCKETLAB_MAX_EVENTS_PER_SECOND": "1"}, False, 8, False),
    "busy": (SHIPPED, True, 1, True),
}


def shape(name: str, before: Path, pairs: int) -> str:
    env, viewer, connections, busy = SHAPES[name]
    with ExitStack() as stack:
        plain = stack.enter_context(PlainServer())
        plain.connections = connections
        sides = [plain]
        for root in (before, None):
            lab = stack.enter_context(dashboard(env, root=root) if root else dashboard(env))
            server = lab.api("POST", "/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo"})
            if viewer:
                watchers = Watchers(lab.url, 1)
                stack.callback(watchers.finish)
            sides.append(Side(server["local"][1], [lab.pid], [], [], connections=connections))
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
