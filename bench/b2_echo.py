"""2: 64-byte round trips from a plain client through a lab TCP echo server watched by a Socket.IO
client, against a plain threaded Python echo server in its own process.

The pass figure is the lab as it ships: events recorded up to SOCKETLAB_MAX_EVENTS_PER_SECOND (20,000
by default) and streamed to the viewer, the rest counted and shown as suppressed, never built. Beside
it, the same rounds with every event recorded and streamed (no limit): what the relay's per-event work
(its JSON, the websocket) costs at this rate; and the lab's socket path alone (no data events, nobody
watching).

The round trips come from bench/echo_load.py: several connections at once from a generator in a
process of its own (one connection driven round trip by round trip measured how fast two processes
wake each other on two shared cores, 17,000 round trips/s from a plain server that can make several
times more), the same generator, connections and time for both servers. The machine's other load
still moves the rates from one second to the next, so the two servers take turns (bench/rounds.py),
and the pass figure is the median of the paired ratios; beside it, the CPU time each server's process spends per round trip (from
/proc: user + system), which the machine's load moves much less and which shows where a lab's extra
time goes (the socket calls cost the same on both sides; the rest is the lab's and the viewer's)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

from . import echo_load
from .common import Result, Watchers, dashboard
from .rounds import Goal, Rounds, at_least, in_turns, ratios, span

PAIRS = span(5, 3)
GOAL = at_least(0.6)
# The ratio means something only against a fast baseline: against a plain server slowed to 17,000 round
# trips/s by the machine (60 us each) the lab's extra microseconds hide in the wait. The goal holds in
# a run where the plain server makes at least this many; a slower run says so and does not count as met.
PLAIN_AT_LEAST = 100_000
PLAIN_SERVER = """
import socket, threading
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
print(listener.getsockname()[1], flush=True)

def handle(conn):
    with conn:
        while data := conn.recv(4096):
            conn.sendall(data)

while True:
    conn, _ = listener.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
"""
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (its threads included)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass
class Side:
    """One echo server measured: its port and the pids whose CPU time it costs."""

    port: int
    pids: list[int]
    rates: list[float]
    cpu_us: list[float]  # CPU microseconds per round trip, summed over `pids`
    generator_cpu_us: list[float] = field(default_factory=list)  # the load generator's, per round trip
    connections: int = echo_load.CONNECTIONS  # the generator's connections at once

    def measure(self) -> float:
        """Round trips a second from bench/echo_load.py's connections, and the CPU they cost."""
        before = sum(map(cpu_seconds, self.pids))
        load = echo_load.drive(self.port, self.connections)
        self.rates.append(load.rate)
        trips = max(1, load.round_trips)
        self.cpu_us.append((sum(map(cpu_seconds, self.pids)) - before) / trips * 1e6)
        self.generator_cpu_us.append(load.generator_cpu_s / trips * 1e6)
        return load.rate


class PlainServer:
    def __enter__(self) -> Side:
        self.proc = subprocess.Popen([sys.executable, "-c", PLAIN_SERVER], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        return Side(int(self.proc.stdout.readline()), [self.proc.pid], [], [])

    def __exit__(self, *_: object) -> None:
        self.proc.kill()
        self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


def take_turns(plain: Side, lab: Side, pairs: int = PAIRS, goal: Goal = GOAL) -> Rounds:
    """Each server in turn, `pairs` times, interleaved; the rounds' ratios (lab / plain)."""
    plain_rates, lab_rates = in_turns([plain.measure, lab.measure], pairs)
    return Rounds(ratios(lab_rates, plain_rates), goal)


def summary(rounds: Rounds, plain: Side, lab: Side, what: str = "lab") -> tuple[str, dict[str, Any]]:
    cpu_lab, cpu_plain = statistics.median(lab.cpu_us), statistics.median(plain.cpu_us)
    text = (f"{rounds.text()}; {statistics.median(lab.rates):,.0f} vs {statistics.median(plain.rates):,.0f} round trips/s "
            f"({_connections(lab.connections)}, the {echo_load.generator()} load generator); "
            f"CPU per round trip {cpu_lab:.0f} us ({what}) vs {cpu_plain:.0f} us (plain server)")
    return text, {"ratio": rounds.median, "paired": rounds.figures_json(), "pair_ratios": list(rounds.figures),
                  f"{what}_rps": lab.rates, "plain_rps": plain.rates, "plain_rps_median": statistics.median(plain.rates),
                  f"{what}_cpu_us": lab.cpu_us, "plain_cpu_us": plain.cpu_us,
                  "generator": {"kind": echo_load.generator(), "connections": lab.connections,
                                "seconds_a_round": echo_load.SECONDS,
                                "cpu_us_per_round_trip": statistics.median(plain.generator_cpu_us + lab.generator_cpu_us)}}


def _connections(n: int) -> str:
    return "one connection, round trip by round trip" if n == 1 else f"{n} connections at once"


def fast_enough(plain_rps: float) -> tuple[bool, str]:
    """Whether the run's plain server was fast enough for the goal to mean something, and what to say if not."""
    if plain_rps >= PLAIN_AT_LEAST:
        return True, ""
    return False, (f"; not counted: the plain server ran at {plain_rps:,.0f} round trips/s, "
                   f"under the {PLAIN_AT_LEAST:,} the goal is set for (a loaded machine)")


# The lab as it ships (its default per-second limit), and every event recorded and streamed.
SHIPPED: dict[str, str] = {}
ALL_EVENTS = {"SOCKETLAB_MAX_EVENTS_PER_SECOND": "10000000"}


def watched(env: dict[str, str]) -> tuple[Rounds, Side, Side, dict[str, int]]:
    """The lab's echo with `env`, one viewer watching, in turns with the plain server; and what the
    lab did with the events of those rounds."""
    with dashboard(env) as lab, PlainServer() as plain:
        server = lab.api("POST", "/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo"})
        watchers = Watchers(lab.url, 1)
        first = lab.api("GET", "/api/stats")
        labbed = Side(server["local"][1], [lab.pid], [], [])
        rounds = take_turns(plain, labbed)
        last = lab.api("GET", "/api/stats")
        report = watchers.finish()[0]
    return rounds, plain, labbed, {"events_recorded": last["events"] - first["events"],
                                   "events_suppressed": last["suppressed"] - first["suppressed"],
                                   "events_streamed": report["events"], "events_dropped_for_the_client": report["gaps"]}


def run() -> Result:
    rounds, plain, labbed, events = watched(SHIPPED)
    text, figures = summary(rounds, plain, labbed)
    every, every_plain, every_lab, every_events = watched(ALL_EVENTS)
    fast, why_not = fast_enough(figures["plain_rps_median"])
    ceiling = socket_path_alone()
    return Result(2, "echo round trips (64 B), a viewer watching, vs a plain threaded echo server",
                  f"{text}; {events['events_streamed']:,} events streamed, {events['events_suppressed']:,} over the "
                  f"per-second limit counted; every event streamed: {every.median:.2f}x "
                  f"({statistics.median(every_lab.rates):,.0f} vs {statistics.median(every_plain.rates):,.0f}/s); "
                  f"the lab's socket path alone (no data events, no viewer): {ceiling['ratio']:.2f}x, "
                  f"CPU {statistics.median(ceiling['lab_cpu_us']):.0f} us{why_not}",
                  f"{GOAL.text}, median of paired rounds, the plain server at >= {PLAIN_AT_LEAST:,}/s",
                  rounds.met and fast,
                  {**figures, **events, "every_event": {**summary(every, every_plain, every_lab)[1], **every_events},
                   "socket_path_alone": ceiling})


def socket_path_alone() -> dict[str, Any]:
    """The ceiling under the figure: the same lab echo server with its data events suppressed (the
    events-per-second limit at 1) and nobody watching, so what is left is the lab's own socket loop
    (recv, framing, the mode, a send with a deadline), measured against the plain server the same way."""
    with dashboard({"SOCKETLAB_MAX_EVENTS_PER_SECOND": "1"}) as lab, PlainServer() as plain:
        server = lab.api("POST", "/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo"})
        bare = Side(server["local"][1], [lab.pid], [], [])
        rounds = take_turns(plain, bare, span(3, 2))
    return summary(rounds, plain, bare)[1]
