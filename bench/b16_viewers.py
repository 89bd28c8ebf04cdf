"""16: a lecture hall of 200 viewers at 2,000 events/s for 30 s, and the memory of an idle viewer.

First, why one dashboard cannot hold them, measured: under the production gunicorn command (docs/security.md) every
websocket holds one of its 100 threads, and the hardening issue keeps a fifth of them for the API,
so viewers are opened one by one until the dashboard refuses one (503 and a sentence). Its RSS
with those viewers idle, less before, gives the memory per idle viewer.

Then the room on several dashboards (each the production gunicorn command), each reading the lab agent's
Redis stream itself: one agent records 2,000 `recv` events a second (real datagrams into its
udp-server) for 30 s; p99 from the agent's socket call (the event's `ts`) to each viewer's receipt,
every (agent, agent_seq) received by every viewer once or counted missing, and REST commands timed
meanwhile on every dashboard (the room the limits keep for the API).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import websocket

from .common import ROOT, Dashboard, Result, dashboard
from .fleet import AgentHosts, Commands, redis_server, reports_of, wait_for_agents
from .rounds import Rounds, at_most, in_turns, ratios, span

VIEWERS, RATE, SECONDS = 200, 2000, span(15, 5)
PAIRS = span(3, 2)
DASHBOARDS = 3  # 200 viewers over 80 places a dashboard (100 threads less a fifth)
VIEWER_PROCESSES = 2  # per dashboard: parsing 2,000 events/s for ~67 viewers needs more than one GIL
GOAL = at_most(250, "ms")


def threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (where the 2 cores went)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class HallWatchers:
    """`n` viewers of one dashboard (bench.hall_watcher) in `processes` processes, connected once this returns."""

    def __init__(self, url: str, n: int, processes: int) -> None:
        per = [n // processes + (1 if i < n % processes else 0) for i in range(processes)]
        self.procs = [subprocess.Popen([sys.executable, "-m", "bench.hall_watcher", url, str(k)], cwd=ROOT,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for k in per if k]
        for proc in self.procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                self.finish(1, 0)
                raise RuntimeError("the Socket.IO viewers did not start (refused?)")

    def finish(self, first: int, last: int) -> list[dict[str, Any]]:
        return reports_of(self.procs, {"range": [first, last]})


def open_until_refused(lab: Dashboard, most: int) -> tuple[list[websocket.WebSocket], dict[str, object]]:
    """Socket.IO viewers (websocket, joined to the namespace) opened one by one until the dashboard
    refuses one or `most` are open; returns them and the refusal ({} when none)."""
    url = lab.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
    viewers: list[websocket.WebSocket] = []
    refusal: dict[str, object] = {}
    while len(viewers) < most:
        try:
            ws = websocket.create_connection(url, timeout=10)
        except websocket.WebSocketBadStatusException as exc:
            body = exc.resp_body or b"{}"
            code = json.loads(body).get("code", "?") if body.startswith(b"{") else "?"
            refusal = {"status": exc.status_code, "code": code, "after": len(viewers)}
            break
        viewers.append(ws)
        assert ws.recv().startswith("0")  # engine.io open
        ws.send("40")  # join the default namespace (one that does not is closed after 5 s)
    return viewers, refusal


def one_dashboard(lab: Dashboard) -> dict[str, object]:
    """The measured reason: how many viewers one dashboard takes, and what each costs it idle."""
    rss_before, threads_before = lab.rss_mb(), threads(lab.pid)
    viewers, refusal = open_until_refused(lab, VIEWERS)
    try:
        health = lab.session.get(lab.url + "/api/health", timeout=10).status_code  # the API's room is still there
        rss_idle, threads_idle = lab.rss_mb(), threads(lab.pid)
    finally:
        for ws in viewers:
            ws.close()
    return {"admitted": len(viewers), "refusal": refusal, "health_with_viewers": health,
            "rss_before_mb": rss_before, "rss_idle_mb": rss_idle,
            "per_viewer_kib": (rss_idle - rss_before) * 1024 / max(1, len(viewers)),
            "threads_before": threads_before, "threads_idle": threads_idle}


def phase(labs: list[Dashboard], share: list[int], hosts: AgentHosts) -> dict[str, Any]:
    """`share[i]` viewers on `labs[i]` while the agent records RATE events a second for SECONDS,
    with REST commands timed on every dashboard meanwhile; what the viewers got, and what it cost."""
    ids = list(hosts.endpoints.values())
    watchers = [HallWatchers(lab.url, n, VIEWER_PROCESSES) for lab, n in zip(labs, share, strict=True) if n]
    commands = [Commands(lab.url, ids) for lab in labs]
    rss_before = [lab.rss_mb() for lab in labs]
    load_before = os.getloadavg()[0]  # (2 shared cores: whatever else runs shows in the percentiles)
    groups = {"dashboards": [lab.pid for lab in labs], "viewers": [p.pid for w in watchers for p in w.procs],
              "agent": [p.pid for p in hosts.procs]}
    cpu_before = {g: sum(cpu_seconds(pid) for pid in pids) for g, pids in groups.items()}
    for c in commands:
        c.start()
    done = hosts.go(SECONDS, RATE)
    for c in commands:
        c.stop()
    cpu = {g: round(sum(cpu_seconds(pid) for pid in pids) - cpu_before[g], 1) for g, pids in groups.items()}
    rss_after = [lab.rss_mb() for lab in labs]
    (span,) = done.values()
    reports = [r for w in watchers for r in w.finish(span["first"], span["last"])]
    cmd_ms = sorted(ms for c in commands for ms in c.ms)
    return {"viewers": len(reports), "recorded": span["last"] - span["first"] + 1,
            "missing": sum(r["missing"] for r in reports), "duplicated": sum(r["duplicated"] for r in reports),
            "dropped": sum(r["dropped"] for r in reports),
            "p50_ms": sorted(r["latency_ms"].get("p50", float("inf")) for r in reports)[len(reports) // 2],
            "p99_ms": max(r["latency_ms"].get("p99", float("inf")) for r in reports),
            "max_ms": max(r["latency_ms"].get("max", float("inf")) for r in reports),
            "command_p99_ms": cmd_ms[min(len(cmd_ms) - 1, int(0.99 * (len(cmd_ms) - 1)))] if cmd_ms else float("nan"),
            "commands": len(cmd_ms), "commands_failed": sum(c.failed for c in commands), "cpu_seconds": cpu,
            "rss_before_mb": rss_before, "rss_after_mb": rss_after,
            "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
            "suppressed": span["suppressed"], "shipper_dropped": span["dropped"], "per_viewer": reports}


def run() -> Result:
    env = {"SOCKETLAB_MAX_WEBSOCKETS_PER_ADDRESS": str(VIEWERS)}  # every viewer is 127.0.0.1 here: a room is many
    share = [VIEWERS // DASHBOARDS + (1 if i < VIEWERS % DASHBOARDS else 0) for i in range(DASHBOARDS)]
    with redis_server() as url, contextlib.ExitStack() as stack:
        labs = [stack.enter_context(dashboard({**env, "SOCKETLAB_REDIS": url})) for _ in range(DASHBOARDS)]
        single = one_dashboard(labs[0])
        hosts = AgentHosts(url, 1, 1)
        try:
            for lab in labs:
                wait_for_agents(lab, list(hosts.endpoints))
                for endpoint_id in hosts.endpoints.values():
                    lab.api("GET", f"/api/endpoints/{endpoint_id}")
            # the baseline: one dashboard's share of the room alone (the other dashboards read the stream, idle),
            # in turns with the whole room
            alones, halls = in_turns([lambda: phase(labs, [share[0]] + [0] * (DASHBOARDS - 1), hosts),
                                      lambda: phase(labs, share, hosts)], PAIRS)
        finally:
            hosts.close()
    return decide(single, share, alones, halls)


def decide(single: dict[str, Any], share: list[int], alones: list[dict[str, Any]], halls: list[dict[str, Any]]) -> Result:
    refusal = single["refusal"]
    rounds = Rounds(tuple(h["p99_ms"] for h in halls), GOAL)
    vs_alone = Rounds(ratios(rounds.figures, [a["p99_ms"] for a in alones]), at_most(1.0, "x"))
    hall = halls[len(halls) // 2]  # (a round to quote the counts of; the sums below are over all rounds)
    missing, dropped = sum(h["missing"] for h in halls), sum(h["dropped"] for h in halls)
    duplicated, failed = sum(h["duplicated"] for h in halls), sum(h["commands_failed"] for h in halls)
    alone_p99 = sorted(a["p99_ms"] for a in alones)[len(alones) // 2]
    # every event, or a drop the viewer was told of (a gap in the dashboard's seq, counted on the page)
    met = (all(h["viewers"] == VIEWERS for h in halls) and rounds.met and missing <= dropped
           and duplicated == 0 and failed == 0)
    return Result(16, f"{VIEWERS} viewers at {RATE} events/s for {SECONDS} s a round (one lab agent), on {DASHBOARDS} dashboards "
                      "over its Redis stream, vs one dashboard's share alone; one dashboard's viewer capacity and memory per idle viewer",
                  f"one dashboard: {single['admitted']} viewers, then {refusal.get('status')} {refusal.get('code')} "
                  f"(100 threads less a fifth for the API; /api/health {single['health_with_viewers']} meanwhile), "
                  f"{single['per_viewer_kib']:.0f} KiB per idle viewer; {DASHBOARDS} dashboards: p99 {rounds.text(0)} "
                  f"(worst viewer), {vs_alone.text()} of {share[0]} viewers on one dashboard alone ({alone_p99:.0f} ms); "
                  f"p50 {hall['p50_ms']:.0f} ms, max {max(h['max_ms'] for h in halls):.0f} ms; {sum(h['recorded'] for h in halls)} "
                  f"events x {hall['viewers']} viewers, {missing} missing, {dropped} counted drops, {duplicated} twice; "
                  f"CPU s in {SECONDS} s: {hall['cpu_seconds']}; REST p99 {hall['command_p99_ms']:.0f} ms, "
                  f"{failed} failed; RSS {max(hall['rss_before_mb']):.0f} -> {max(hall['rss_after_mb']):.0f} MB "
                  f"a dashboard; load {hall['load_average']}",
                  f"p99 {GOAL.text} (median of paired rounds), every event or a counted drop, the API answering", met,
                  {"single_dashboard": single, "share": share, "hall": hall, "halls": [brief(h) for h in halls],
                   "alones": [brief(a) for a in alones],
                   "paired": rounds.figures_json(), "ratio": vs_alone.median, "vs_alone": vs_alone.figures_json(),
                   "baseline": f"{share[0]} viewers on one dashboard alone: p99 about {alone_p99:.0f} ms"})


def brief(phase: dict[str, Any]) -> dict[str, Any]:
    """A round's figures without its per-viewer reports (results.json keeps those of one round)."""
    return {k: v for k, v in phase.items() if k != "per_viewer"}
