"""What the lab-agent benchmarks share: a real redis-server, processes of agents, viewers, a load run.

Everything runs as in a class: Redis on a unix socket, the dashboard in its own process (gunicorn,
SOCKETLAB_REDIS), the agents in a few other processes (bench/agent_host.py), the viewers in two more
(bench/agent_watcher.py). The benchmark's own process only starts them, times commands and counts.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import requests

from .common import ROOT, Dashboard, Watchers, dashboard, percentile
from .rounds import in_turns

REDIS_SERVER = os.environ.get("REDIS_SERVER") or "/usr/bin/redis-server"
VIEWER_PROCESSES = 2  # 10 viewers as 2 processes of 5: parsing 40,000 events/s needs more than one GIL
COMMANDS_PER_SECOND = 10


@contextmanager
def redis_server() -> Iterator[str]:
    """A redis-server of our own on a unix socket in a fresh folder (never a system one); yields its URL."""
    folder = Path(tempfile.mkdtemp(prefix="socketlab-redis-"))
    sock = folder / "r.sock"
    proc = subprocess.Popen([REDIS_SERVER, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
                             "--save", "", "--appendonly", "no", "--dir", str(folder)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():  # (it creates the socket once it accepts connections)
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{REDIS_SERVER} did not start (exit status {proc.poll()})")
            time.sleep(0.01)
        yield f"unix://{sock}"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def over_agents(url: str, viewers: int = 10) -> Any:
    """The dashboard (common.dashboard: gunicorn, its own process) over the agents of Redis `url`.
    Every viewer connects from 127.0.0.1: lift the per-address cap, as bench 3 does."""
    return dashboard({"SOCKETLAB_REDIS": url, "SOCKETLAB_MAX_WEBSOCKETS_PER_ADDRESS": str(viewers + 5)})


def wait_for_agents(lab: Dashboard, names: list[str], state: str = "up", timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {a["name"]: a["state"] for a in lab.api("GET", "/api/agents")}
        if all(states.get(name) == state for name in names):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the dashboard did not see {len(names)} agents {state} within {timeout} s")


def wait_for_endpoint(lab: Dashboard, endpoint_id: str, timeout: float = 30.0) -> None:
    """Until the dashboard's bridge has read the endpoint's first events (it looks for new agents'
    streams twice a second, then reads them from their start)."""
    deadline = time.monotonic() + timeout
    while lab.session.get(f"{lab.url}/api/endpoints/{endpoint_id}", timeout=10).status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the dashboard did not learn of {endpoint_id} within {timeout} s")
        time.sleep(0.05)


class AgentHosts:
    """`processes` processes of bench.agent_host, holding `agents` agents in all (a0, a1, ...)."""

    def __init__(self, url: str, agents: int, processes: int) -> None:
        per = [agents // processes + (1 if i < agents % processes else 0) for i in range(processes)]
        self.procs = [subprocess.Popen([sys.executable, "-m", "bench.agent_host", url, f"h{i}a", str(n)], cwd=ROOT,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                      for i, n in enumerate(per) if n]
        self.endpoints: dict[str, str] = {}  # agent -> its udp-server's id
        for proc in self.procs:
            self.endpoints.update(self._line(proc)["ready"])

    @staticmethod
    def _line(proc: subprocess.Popen[str]) -> dict[str, Any]:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"an agent host exited ({proc.wait(10)})")
        return dict(json.loads(line))

    def go(self, seconds: float, rate: int) -> dict[str, dict[str, int]]:
        """Every agent receives `rate` datagrams a second for `seconds`; returns each agent's seq range."""
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(f"go {seconds} {rate}\n")
            proc.stdin.flush()
        done: dict[str, dict[str, int]] = {}
        for proc in self.procs:
            done.update(self._line(proc)["done"])
        return done

    def close(self) -> None:
        for proc in self.procs:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.close()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()


class AgentWatchers:
    """Viewers (bench.agent_watcher) in their own processes, connected once this returns."""

    def __init__(self, url: str, n: int, processes: int = VIEWER_PROCESSES) -> None:
        per = [n // processes + (1 if i < n % processes else 0) for i in range(processes)]
        self.procs = [subprocess.Popen([sys.executable, "-m", "bench.agent_watcher", url, str(k)], cwd=ROOT,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for k in per if k]
        for proc in self.procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                self.finish({})
                raise RuntimeError("the Socket.IO viewers did not start")

    def finish(self, ranges: dict[str, list[int]], downs: dict[str, int] | None = None) -> list[dict[str, Any]]:
        """Tell them which agent seqs they must have (and how many down events); their reports, one per viewer."""
        return reports_of(self.procs, {"ranges": ranges, "downs": downs or {}})


def reports_of(procs: list[subprocess.Popen[str]], told: dict[str, Any]) -> list[dict[str, Any]]:
    """Tell each viewer process `told` (one JSON line), then gather their reports, one per viewer."""
    reports: list[dict[str, Any]] = []
    for proc in procs:
        assert proc.stdin is not None
        if proc.poll() is None:
            proc.stdin.write(json.dumps(told) + "\n")
            proc.stdin.close()
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        reports.extend(json.loads(line) if line else [])
        proc.wait(30)
        proc.stdout.close()
    return reports


class Commands(threading.Thread):
    """GET /api/endpoints/<id> of the agents' endpoints in turn, COMMANDS_PER_SECOND, timing each:
    the whole round trip, REST -> cmd:{agent} -> the agent -> reply:{dashboard} -> REST."""

    def __init__(self, url: str, ids: list[str]) -> None:
        super().__init__(name="bench-commands", daemon=True)
        self.url, self.ids = url, ids
        self.stopping = threading.Event()
        self.ms: list[float] = []
        self.failed = 0

    def run(self) -> None:
        with requests.Session() as session:
            i = 0
            while not self.stopping.wait(1 / COMMANDS_PER_SECOND):
                start = time.perf_counter()
                response = session.get(f"{self.url}/api/endpoints/{self.ids[i % len(self.ids)]}", timeout=10)
                if response.ok:
                    self.ms.append((time.perf_counter() - start) * 1000)
                else:
                    self.failed += 1
                i += 1

    def stop(self) -> None:
        self.stopping.set()
        self.join(15)


def paced_senders(ports: list[int], rate: int, seconds: float, processes: int) -> None:
    """`rate` datagrams a second to each of `ports` for `seconds`, from `processes` processes (as
    AgentHosts spreads its agents; agent_host.paced does the sending), until all are done."""
    code = ("import sys; from bench.agent_host import paced; "
            "paced([('127.0.0.1', int(p)) for p in sys.argv[3:]], int(sys.argv[1]), float(sys.argv[2]))")
    shares = [ports[i::processes] for i in range(processes)]
    senders = [subprocess.Popen([sys.executable, "-c", code, str(rate), str(seconds), *map(str, share)], cwd=ROOT)
               for share in shares if share]
    for sender in senders:
        sender.wait()


def agent_round(lab: Dashboard, hosts: AgentHosts, seconds: int, rate: int, viewers: int) -> dict[str, Any]:
    """One round through the agents: fresh viewers, commands timed meanwhile, every agent at `rate`."""
    watchers = AgentWatchers(lab.url, viewers)
    commands = Commands(lab.url, list(hosts.endpoints.values()))
    rss_before = lab.rss_mb()
    load_before = os.getloadavg()[0]  # (2 cores: anything else running shows in the percentiles)
    commands.start()
    done = hosts.go(seconds, rate)
    commands.stop()
    reports = watchers.finish({name: [d["first"], d["last"]] for name, d in done.items()})
    return {"done": done, "reports": reports, "commands": commands, "rss": [rss_before, lab.rss_mb()],
            "load": [load_before, os.getloadavg()[0]]}


def embedded_round(lab: Dashboard, ports: list[int], seconds: int, rate: int, viewers: int,
                   processes: int) -> list[dict[str, Any]]:
    """The same round on one dashboard whose own lab holds a udp-server per agent: its viewers' reports."""
    watchers = [Watchers(lab.url, n, latency=True)
                for n in (viewers // VIEWER_PROCESSES + (1 if i < viewers % VIEWER_PROCESSES else 0)
                          for i in range(VIEWER_PROCESSES)) if n]
    paced_senders(ports, rate, seconds, processes)
    return [r for w in watchers for r in w.finish()]


def worst_p99(reports: list[dict[str, Any]]) -> float:
    return max(r["latency_ms"].get("p99", float("inf")) for r in reports)


@functools.cache
def load_run(agents: int, rate: int, seconds: int, viewers: int = 10, processes: int = 5,
             pairs: int = 3) -> dict[str, Any]:
    """`agents` agents each recording `rate` events a second for `seconds`, watched by `viewers` through
    one dashboard, with commands timed meanwhile; in turns with its baseline, the same load on one
    dashboard's own lab (a udp-server per agent, the same senders, the same viewers), `pairs` rounds
    each. Cached: benches 8 and 10 read the same run."""
    with redis_server() as url, over_agents(url, viewers) as lab, \
            dashboard({"SOCKETLAB_MAX_WEBSOCKETS_PER_ADDRESS": str(viewers + 5)}) as alone:
        ports = [alone.api("POST", "/api/endpoints", json={"kind": "udp-server", "port": 0, "mode": "manual"})["local"][1]
                 for _ in range(agents)]
        hosts = AgentHosts(url, agents, processes)
        try:
            wait_for_agents(lab, list(hosts.endpoints))
            for endpoint_id in hosts.endpoints.values():  # each known to the dashboard (its state event came)
                wait_for_endpoint(lab, endpoint_id)
            embedded, rounds = in_turns([lambda: embedded_round(alone, ports, seconds, rate, viewers, processes),
                                         lambda: agent_round(lab, hosts, seconds, rate, viewers)], pairs)
        finally:
            hosts.close()
    reports = [r for one in rounds for r in one["reports"]]
    done = [one["done"] for one in rounds]
    commands = [ms for one in rounds for ms in one["commands"].ms]
    recorded = sum(d["last"] - d["first"] + 1 for one in done for d in one.values())
    p99s = [worst_p99(one["reports"]) for one in rounds]
    embedded_p99s = [worst_p99(one) for one in embedded]
    return {"agents": agents, "rate": rate, "seconds": seconds, "viewers": viewers, "pairs": pairs,
            "datagrams": sum(d["datagrams"] for one in done for d in one.values()), "recorded": recorded,
            "suppressed": sum(d["suppressed"] for one in done for d in one.values()),
            "dropped": sum(d["dropped"] for one in done for d in one.values()),
            "missing": sum(r["missing"] for r in reports), "duplicated": sum(r["duplicated"] for r in reports),
            "backwards": sum(r["backwards"] for r in reports),
            "p50_ms": statistics.median(sorted(r["latency_ms"].get("p50", float("inf")) for r in one["reports"])
                                        [len(one["reports"]) // 2] for one in rounds),
            "p99_ms_rounds": p99s, "embedded_p99_ms_rounds": embedded_p99s,
            "max_ms": max(r["latency_ms"].get("max", float("inf")) for r in reports),
            "embedded_gaps": sum(r["gaps"] for one in embedded for r in one),
            "per_viewer": [{k: v for k, v in r.items() if k != "states"} for r in reports],
            "command_p50_ms": percentile(commands, 50), "command_p99_ms": percentile(commands, 99),
            "command_max_ms": max(commands, default=float("nan")), "commands": len(commands),
            "commands_failed": sum(one["commands"].failed for one in rounds),
            "rss_before_mb": round(rounds[0]["rss"][0]), "rss_after_mb": round(rounds[-1]["rss"][1]),
            "load_average": [[round(x, 1) for x in one["load"]] for one in rounds]}
