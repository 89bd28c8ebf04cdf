"""15: 1,000 idle student connections to one lab tcp-server (echo), held by another process: the lab
process's RSS and threads before and after, memory per idle connection, and a new client's
accept + 64-byte echo timed while they are idle (against the same with no idle clients: the baseline)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from .common import ROOT, Dashboard, Result, dashboard, percentile

IDLE, PROBES = 1000, 50
RSS_LIMIT_MB = 200
# The per-server cap (SOCKETLAB_MAX_CONNECTIONS_PER_SERVER) must let the room and the probes in.
ENV = {"SOCKETLAB_MAX_CONNECTIONS_PER_SERVER": str(IDLE + 24)}


def threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def accept_echo_ms(port: int) -> list[float]:
    """connect, send 64 bytes, read them back, close: PROBES times, each timed from connect() to the echo."""
    times = []
    payload = b"x" * 64
    for _ in range(PROBES):
        start = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(payload)
            got = b""
            while len(got) < len(payload):
                chunk = s.recv(64)
                if not chunk:
                    raise RuntimeError("the lab server closed a probe before its echo")
                got += chunk
        times.append((time.perf_counter() - start) * 1000)
    return times


def settle(lab: Dashboard, server_id: str, open_count: int, timeout: float = 60.0) -> None:
    """Until the server lists `open_count` connections (each accepted and its thread started)."""
    deadline = time.monotonic() + timeout
    while len(lab.api("GET", f"/api/endpoints/{server_id}")["connections"]) != open_count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the lab server did not reach {open_count} connections")
        time.sleep(0.1)


def run() -> Result:
    with dashboard(ENV) as lab:
        server = lab.api("POST", "/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo"})
        port = server["local"][1]
        accept_echo_ms(port)  # warm-up: the first connections import and allocate what every later one reuses
        settle(lab, server["id"], 0)
        baseline = accept_echo_ms(port)
        rss_before, threads_before = lab.rss_mb(), threads(lab.pid)
        clients = subprocess.Popen([sys.executable, "-m", "bench.idle_clients", "127.0.0.1", str(port), str(IDLE)], cwd=ROOT,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert clients.stdout is not None and clients.stdin is not None
            ready = clients.stdout.readline().split()
            if ready[:1] != ["ready"]:
                raise RuntimeError(f"the idle clients did not connect: {ready}")
            settle(lab, server["id"], IDLE)
            rss_idle, threads_idle = lab.rss_mb(), threads(lab.pid)
            loaded = accept_echo_ms(port)
            rss_probed = lab.rss_mb()
            clients.stdin.close()
            clients.wait(60)
            settle(lab, server["id"], 0)
            rss_after = lab.rss_mb()
        finally:
            if clients.poll() is None:
                clients.kill()
                clients.wait()
            if clients.stdout is not None:
                clients.stdout.close()
    per_conn_kb = (rss_idle - rss_before) * 1024 / IDLE
    p50, p99, worst = percentile(loaded, 50), percentile(loaded, 99), max(loaded)
    base50 = percentile(baseline, 50)
    met = rss_idle < RSS_LIMIT_MB and rss_probed < RSS_LIMIT_MB
    return Result(15, f"{IDLE} idle TCP connections to one lab tcp-server (echo), clients in another process",
                  f"lab RSS {rss_before:.0f} -> {rss_idle:.0f} MB ({per_conn_kb:.0f} KiB per idle connection, threads "
                  f"{threads_before} -> {threads_idle}); new accept + 64 B echo p50 {p50:.1f} / p99 {p99:.1f} / max {worst:.1f} ms "
                  f"(no idle clients: p50 {base50:.1f} ms, so {p50 / base50:.2f}x); RSS after they left {rss_after:.0f} MB",
                  f"RSS < {RSS_LIMIT_MB} MB with {IDLE} idle, accept still answering", met,
                  {"rss_before_mb": rss_before, "rss_idle_mb": rss_idle, "rss_probed_mb": rss_probed, "rss_after_mb": rss_after,
                   "per_connection_kib": per_conn_kb, "threads_before": threads_before, "threads_idle": threads_idle,
                   "accept_echo_ms": {"p50": p50, "p99": p99, "max": worst}, "baseline_ms": {"p50": base50, "max": max(baseline)},
                   "ratio": p50 / base50})
