"""`python -m bench.echo_cpu`: the CPU a lab echo server spends per 64-byte round trip, against a plain
threaded echo server, and what recording one event costs on the lab's thread.

Each server runs in a process of its own and this process is the client, so neither server shares an
interpreter lock with the loop that drives it. On a shared machine round trips a second move with
everyone else's load; the CPU a server's process spends per round trip (user + system, from /proc, all
its threads) moves much less. The two servers take turns (plain, lab, lab, plain, ...), and the figure
is the median of the paired ratios of that run.

Lab servers, each a Lab in its own process with one tcp-server in echo mode:
- `bare`: data events over the per-second limit (1 a second): the lab's socket path alone;
- `recorded`: every event recorded.
In both a reader thread takes the events from the bus and encodes them as JSON as the Socket.IO relay
does for a viewer (in batches, paced), so what recording costs in all is counted.
- `agent` (with --agent): the lab of a lab agent (agent/agent.py) over a redis-server of its own,
  every event recorded and shipped to Redis; the CPU of the agent's process, and apart that of its
  children (the courier that encodes and ships, when there is one).

Then timeit of one `recv` event recorded as a connection's receive loop records it, kept or over the
per-second limit, beside the tracer's record (a tuple into a bounded ring).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import timeit
from typing import Any

from .b2_echo import PLAIN_SERVER, cpu_seconds
from .common import ROOT
from .fleet import redis_server

LAB_SERVER = """
import shutil, sys, tempfile, threading, time
import orjson
from lab import Lab
from lab.sockets.endpoint import Limits

mode = sys.argv[1]
work = tempfile.mkdtemp(prefix="socketlab-echo-cpu-")
per_second = 1 if mode == "bare" else 10_000_000
lab = Lab(work + "/files", work + "/downloads", limits=Limits(events_per_second=per_second))
server = lab.create({"kind": "tcp-server", "host": "127.0.0.1", "port": 0, "mode": "echo"})
lab.bus.since(0)

def relay():  # as webapp/relay.py: wait, take a batch, encode it, at most one batch every 15 ms
    last = lab.bus.last_seq
    while True:
        if not lab.bus.wait(last, 1.0):
            continue
        time.sleep(0.015)
        events, _ = lab.bus.since(last, 2000)
        if events:
            orjson.dumps([e.to_json() for e in events])
            last = events[-1].seq

running = None
if mode == "agent":  # a lab agent's lab: its shipper (or its courier's forwarder) is the reader
    from agent.agent import Agent
    running = Agent("echo", sys.argv[2], lab)
    running.start()
    print(server.to_json()["local"][1], flush=True)
else:
    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    print(server.to_json()["local"][1], reader.native_id, flush=True)
sys.stdin.read()  # (until the benchmark is done with this server)
if running is not None:
    running.stop()
lab.close()
shutil.rmtree(work, ignore_errors=True)
"""


class Server:
    """An echo server in a process of its own; its port and CPU per round trip of each round."""

    def __init__(self, name: str, argv: list[str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        port, *reader = self.proc.stdout.readline().split()
        self.port = int(port)
        self.reader = f"/proc/{self.proc.pid}/task/{reader[0]}/stat" if reader else None
        self.cpu_us: list[float] = []
        self.reader_us: list[float] = []  # (of cpu_us: the reader's, which takes and encodes the events)
        self.children_us: list[float] = []  # (beside cpu_us: the processes it started, e.g. an agent's courier)
        self.rates: list[float] = []

    def measure(self, rounds: int) -> float:
        """CPU microseconds per round trip of this server over `rounds` round trips."""
        message = b"m" * 64
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for _ in range(200):  # warm: the connection's thread is running, the first events are out
                s.sendall(message)
                got = 0
                while got < 64:
                    got += len(s.recv(64 - got))
            children = self._children()
            children_before = sum(map(cpu_seconds, children))
            before, start = cpu_seconds(self.proc.pid), time.perf_counter()
            reader_before = self._reader_cpu()
            for _ in range(rounds):
                s.sendall(message)
                got = 0
                while got < 64:
                    got += len(s.recv(64 - got))
            elapsed = time.perf_counter() - start
            cpu = (cpu_seconds(self.proc.pid) - before) / rounds * 1e6
            self.reader_us.append((self._reader_cpu() - reader_before) / rounds * 1e6)
        self.cpu_us.append(cpu)
        self.rates.append(rounds / elapsed)
        self.children_us.append((sum(map(cpu_seconds, children)) - children_before) / rounds * 1e6)
        return cpu

    def _children(self) -> list[int]:
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                return [int(pid) for pid in f.read().split()]
        except OSError:
            return []

    def _reader_cpu(self) -> float:
        if self.reader is None:
            return 0.0
        with open(self.reader) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        """End of stdin: a lab server stops what it started (an agent, its courier); then it is killed."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(15 if self.name != "plain" else 0.1)
        except subprocess.TimeoutExpired:
            pass
        self.proc.kill()
        self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


def paired(lab: Server, plain: Server, pairs: int, rounds: int) -> dict[str, Any]:
    ratios = []
    for i in range(pairs):
        if i % 2:
            ratios.append(lab.measure(rounds) / plain.measure(rounds))
        else:
            p = plain.measure(rounds)
            ratios.append(lab.measure(rounds) / p)
    return {"cpu_ratio_median": statistics.median(ratios), "cpu_ratios": [round(r, 2) for r in ratios],
            "lab_cpu_us": statistics.median(lab.cpu_us), "plain_cpu_us": statistics.median(plain.cpu_us),
            "lab_threads_cpu_us": statistics.median(c - r for c, r in zip(lab.cpu_us, lab.reader_us, strict=True)),
            "reader_cpu_us": statistics.median(lab.reader_us),
            "children_cpu_us": statistics.median(lab.children_us),
            "lab_rps": statistics.median(lab.rates), "plain_rps": statistics.median(plain.rates)}


def record_costs() -> dict[str, float]:
    """ns per call: one `recv` event recorded as a connection's receive loop records it, on the lab's
    thread, and (apart) what making it costs the reader that takes it, kept or over the per-second
    limit; beside them, the tracer's record (a tuple into a bounded ring)."""
    from agent.trace.tracer import Tracer
    from lab.events.bus import EventBus

    data = b"m" * 64
    local, peer = ("127.0.0.1", 5000), ("127.0.0.1", 40000)
    number = 100_000
    out: dict[str, float] = {}
    if not hasattr(EventBus, "record_call"):  # (a lab that records in full on the socket's thread)
        args = {"bufsize": 65536}
        for name, limit in (("record_kept_ns", 10**9), ("record_over_limit_ns", 1)):
            bus = EventBus(capacity=10_000, max_per_second=limit)

            def record(n: int = 64, bus: EventBus = bus) -> None:
                bus.record(time.time(), "e1", "c1", "tcp", "recv", local, peer, n, data,
                           f"recv(65536) returned {n} bytes", "recv", args, n, None, None, None, None, None, None, None)

            out[name] = min(timeit.repeat(record, number=number, repeat=5)) / number * 1e9
    else:
        from lab.sockets.connection import RECV
        where = ("e1", "c1", "tcp", local, peer)
        batch = 2_000  # (recorded, then taken by a reader in one go: as the relay takes them)
        for name, limit in (("kept", 10**9), ("over_limit", 1)):
            bus = EventBus(capacity=10_000, max_per_second=limit)
            best_record, best_make = float("inf"), float("inf")
            gc.disable()  # (as timeit does)
            try:
                for _ in range(5):
                    recording = making = 0.0
                    for _ in range(number // batch):
                        start = time.perf_counter()
                        for _ in range(batch):
                            bus.record_call(RECV, time.time(), where, 64, data)
                        middle = time.perf_counter()
                        bus.since(bus.last_seq)
                        recording, making = recording + middle - start, making + time.perf_counter() - middle
                    best_record, best_make = min(best_record, recording), min(best_make, making)
            finally:
                gc.enable()
            out[f"record_{name}_ns"] = best_record / number * 1e9
            out[f"reader_makes_{name}_ns"] = best_make / number * 1e9
    tracer = Tracer("t")
    traced = ("e1", "tcp", local, peer)

    def tracer_record() -> None:
        tracer.put((time.time(), "MainThread", traced, "recv", 65536, 64, data, None))

    out["tracer_put_ns"] = min(timeit.repeat(tracer_record, number=number, repeat=5)) / number * 1e9
    return {k: round(v) for k, v in out.items()}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.echo_cpu")
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=20_000)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--agent", action="store_true", help="also a lab agent's lab over Redis (needs redis-server)")
    parser.add_argument("--no-record", action="store_true", help="skip the timing of record()")
    options = parser.parse_args()
    figures: dict[str, Any] = {"load": os.getloadavg()}
    with contextlib.ExitStack() as stack:
        plain = Server("plain", [sys.executable, "-c", PLAIN_SERVER])
        stack.callback(plain.close)
        modes = [("bare", []), ("recorded", [])]
        if options.agent:
            modes.append(("agent", [stack.enter_context(redis_server())]))
        for mode, more in modes:
            lab = Server(mode, [sys.executable, "-c", LAB_SERVER, mode, *more])
            try:
                figures[mode] = paired(lab, plain, options.pairs, options.rounds)
            finally:
                lab.close()
            f = figures[mode]
            print(f"lab echo, {mode:8}: {f['cpu_ratio_median']:.2f}x the plain server's CPU per round trip "
                  f"(median of {options.pairs} pairs {f['cpu_ratios']}); {f['lab_cpu_us']:.1f} vs "
                  f"{f['plain_cpu_us']:.1f} us (of the lab's: {f['lab_threads_cpu_us']:.1f} its socket threads, "
                  f"{f['reader_cpu_us']:.1f} the reader; beside them {f['children_cpu_us']:.1f} its children); "
                  f"{f['lab_rps']:.0f} vs {f['plain_rps']:.0f} round trips/s",
                  flush=True)
            plain.cpu_us.clear()
            plain.rates.clear()
    if options.no_record:
        return 0
    figures["record"] = record_costs()
    print("record one recv event: " + ", ".join(f"{k} {v}" for k, v in figures["record"].items()))
    if options.json:
        with open(options.json, "w") as f:
            json.dump(figures, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
