"""`python -m bench.echo_gil`: why a thread per connection cannot keep up with 8 busy connections once
each message costs a few microseconds of Python: the plain threaded echo server of the echo rows, given
`work` iterations of Python per round trip (a list comprehension, about 50 ns an iteration), driven
by the echo rows' load generator with 1 and with 8 connections.

For each it prints the round trips a second, the server's CPU a round trip split into user and system
time, and its context switches a round trip (voluntary and not, from the server's own getrusage, which
counts the threads that served and ended). With 8 connections, a few microseconds of Python a round
trip turn every return from recv() or send() into a wait for the interpreter lock that another
connection's thread holds: the system time and the switches a round trip jump, and the rate falls to
what the lab's echo server makes (bench row 2). With one connection the same work costs only itself.

`--design selector` serves the same echo from one thread over a selector (epoll), as an event loop
would: the design that takes the connections' threads out of the interpreter lock's way. Its figures
beside the threads' say whether it would be the way out for the lab (it is the measure behind keeping
"the lab's real blocking sockets in threads"; bench/notes.md).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from dataclasses import dataclass

from . import echo_load
from .b2_echo import PLAIN_SERVER

# The echo rows' plain server (bench/b2_echo.py) itself, with `work` iterations of Python before each echo,
# and a thread that answers a line on stdin with the process's usage, "utime stime nvcsw nivcsw"
# (RUSAGE_SELF: every thread, ended ones too).
USAGE = """
import resource, sys, threading
work = int(sys.argv[1])

def usage():
    for _ in sys.stdin:
        u = resource.getrusage(resource.RUSAGE_SELF)
        print(u.ru_utime, u.ru_stime, u.ru_nvcsw, u.ru_nivcsw, flush=True)

threading.Thread(target=usage, daemon=True).start()
"""
ECHO = "            conn.sendall(data)"
assert ECHO in PLAIN_SERVER
WORK = "[0 for _ in range(work)]"
THREADS = USAGE + PLAIN_SERVER.replace(ECHO, f"            {WORK}\n" + ECHO)
# The same echo from one thread: each ready connection's bytes read, the same work, and sent back (all of
# it at once, as a 64-byte answer always goes; what would not is sent blocking, so no byte is lost).
SELECTOR = USAGE + f"""
import selectors, socket
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
print(listener.getsockname()[1], flush=True)
selector = selectors.DefaultSelector()

def serve():
    while True:
        for key, _ in selector.select():
            conn = key.fileobj
            data = conn.recv(4096)
            if not data:
                selector.unregister(conn)
                conn.close()
                continue
            {WORK}
            sent = conn.send(data, socket.MSG_DONTWAIT)
            if sent < len(data):
                conn.setblocking(True)
                conn.sendall(data[sent:])

threading.Thread(target=serve, daemon=True).start()
while True:
    conn, _ = listener.accept()
    selector.register(conn, selectors.EVENT_READ)
"""
SERVERS = {"threads": THREADS, "selector": SELECTOR}


@dataclass
class Usage:
    user: float
    system: float
    switches: int

    def __sub__(self, other: Usage) -> Usage:
        return Usage(self.user - other.user, self.system - other.system, self.switches - other.switches)


class WorkServer:
    """The plain echo server with `work` iterations of Python a round trip, in a process of its own: a
    thread per connection, or one thread over a selector (`design`)."""

    def __init__(self, work: int, design: str = "threads") -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SERVERS[design], str(work)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def usage(self) -> Usage:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        user, system, voluntary, forced = self.proc.stdout.readline().split()
        return Usage(float(user), float(system), int(voluntary) + int(forced))

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


@dataclass
class Figure:
    design: str
    work: int
    connections: int
    rate: float
    user_us: float
    system_us: float
    switches: float  # context switches a round trip


def measure(work: int, connections: int, rounds: int, seconds: float | None = None, design: str = "threads") -> Figure:
    """The medians of `rounds` runs of the generator against one server with `work`."""
    server = WorkServer(work, design)
    rates, users, systems, switches = [], [], [], []
    try:
        for _ in range(rounds):
            before = server.usage()
            load = echo_load.drive(server.port, connections, seconds)
            spent = server.usage() - before
            trips = max(1, load.round_trips)
            rates.append(load.rate)
            users.append(spent.user / trips * 1e6)
            systems.append(spent.system / trips * 1e6)
            switches.append(spent.switches / trips)
    finally:
        server.close()
    return Figure(design, work, connections, statistics.median(rates), statistics.median(users), statistics.median(systems),
                  statistics.median(switches))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.echo_gil", description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=int, nargs="+", default=[0, 20, 50, 100], help="iterations of Python a round trip")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--design", choices=list(SERVERS), nargs="+", default=["threads"],
                        help="a thread per connection, one thread over a selector, or both in turn")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args(argv)
    print(f"load generator: {echo_load.generator()}")
    print("| design | work | connections | round trips/s | user us | system us | switches a round trip |")
    print("|---|---|---|---|---|---|---|")
    for work in args.work:
        for connections in args.connections:
            for design in args.design:  # (the designs in turn, each work and connections: the same minute's machine)
                f = measure(work, connections, args.rounds, design=design)
                print(f"| {f.design} | {f.work} | {f.connections} | {f.rate:,.0f} | {f.user_us:.1f} | {f.system_us:.1f} "
                      f"| {f.switches:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
