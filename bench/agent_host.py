"""`python -m bench.agent_host REDIS_URL PREFIX N`: N lab agents in one process, each with its own Lab.

A class of 20-50 agents on a 2-core machine cannot be 20-50 Python processes (each costs ~30 MB and a
start-up of imports), nor one (it would be one GIL for all): the benchmark runs a few of these, each
holding several agents, so that the dashboard's process is never the one generating events.

Each agent's lab has a udp-server in manual mode. On "go SECONDS RATE", one paced sender in this
process sends RATE datagrams a second to every agent's server for SECONDS: every datagram is a real
recvfrom() in that agent's lab, one `recv` event, shipped to Redis like any other. Then, once every
agent's shipper has sent all its bus holds, it prints per agent the seq range of the events recorded
during the run (the viewers must each receive every one of them, once).

Protocol on stdin/stdout, one JSON line each: {"ready": {name: endpoint_id}} after start; "go S R" ->
{"done": {name: {"first", "last", "suppressed", "dropped", "datagrams"}}}; stdin closed -> stop, exit.
"""

from __future__ import annotations

import json
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

from agent.agent import Agent
from lab import Lab, Limits

FLUSH_SECONDS = 10.0  # at most this long for the labs to record the last datagrams and the shippers to send them


def paced(targets: list[tuple[str, int]], rate: int, seconds: float) -> int:
    """Send `rate` datagrams a second to each target for `seconds`; returns datagrams sent per target.
    Late ticks are sent at once (not skipped), so the count is exact and the mean rate holds."""
    ticks = int(rate * seconds)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        start = time.perf_counter()
        for i in range(ticks):
            due = start + i / rate
            while (now := time.perf_counter()) < due:
                time.sleep(min(due - now, 0.002))
            payload = b"n=%d" % i
            for target in targets:
                s.sendto(payload, target)
    return ticks


def main() -> None:
    url, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    folder = Path(tempfile.mkdtemp(prefix="socketlab-agents-"))
    agents: list[Agent] = []
    servers: dict[str, tuple[str, int]] = {}
    ready: dict[str, str] = {}
    for i in range(n):
        name = f"{prefix}{i}"
        lab = Lab(folder / name / "files", folder / name / "downloads", Limits(events_per_second=1_000_000),
                  id_suffix=f"@{name}")
        # (courier=False: the shipper as a thread of this process. A courier is a process an agent's host
        # has to itself; 20-50 of them on this machine's 2 cores measured those processes, not the delivery:
        # bench 8's p99 was 591 ms with them, 103 ms without, in the same hour)
        agent = Agent(name, url, lab, courier=False)
        agent.start()
        agents.append(agent)
        endpoint = lab.create({"kind": "udp-server", "port": 0, "mode": "manual"})
        assert endpoint.local is not None
        servers[name] = ("127.0.0.1", endpoint.local[1])
        ready[name] = endpoint.id
    print(json.dumps({"ready": ready}), flush=True)
    try:
        for line in sys.stdin:
            _, seconds, rate = line.split()
            first = {a.name: a.lab.bus.last_seq + 1 for a in agents}
            datagrams = paced(list(servers.values()), int(rate), float(seconds))
            deadline = time.monotonic() + FLUSH_SECONDS
            # (the lab's recv thread may still hold the last datagrams; then the shipper its last batch)
            while time.monotonic() < deadline and any(
                    a.lab.bus.last_seq < first[a.name] + datagrams - 1 or a.shipper.sent < a.lab.bus.last_seq for a in agents):
                time.sleep(0.05)
            print(json.dumps({"done": {a.name: {"first": first[a.name], "last": a.lab.bus.last_seq,
                                                "suppressed": a.lab.bus.suppressed, "dropped": a.shipper.dropped,
                                                "datagrams": datagrams} for a in agents}}), flush=True)
    finally:
        for agent in agents:
            agent.stop()
            agent.lab.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
