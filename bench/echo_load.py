"""The echo rows' load generator: several TCP connections to one echo server, each making 64-byte
round trips (send 64 bytes, wait for all 64 to come back, again), for a fixed time.

One connection driven round trip by round trip from a Python loop measures how fast two processes on
two shared cores wake each other, not how fast a server answers: the plain threaded echo server made
17,000 round trips/s that way in a `make bench` run, while the machine lets it make several times more.
With several connections in flight a server always has a connection's next message waiting, so the
figure is what the server itself can do. The generator is bench/echo_load.c (one epoll loop in its own
process, about a microsecond of CPU a round trip, so it leaves the cores to the servers), compiled
once per run with the machine's `cc`; without a C compiler, the same protocol from one Python process
per connection, which takes more of the cores and is said so in the figures (`generator`).

Both sides of every echo row are driven by the same generator with the same connections and time.
"""

from __future__ import annotations

import atexit
import resource
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .rounds import span

CONNECTIONS = 8
SECONDS = span(2.0, 1.0)
SOURCE = Path(__file__).with_suffix(".c")

# The Python generator: one connection per process, the protocol of echo_load.c (ready, a line on stdin,
# the round trips made).
PYTHON_CLIENT = """
import socket, sys, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
message = b"m" * 64
with socket.create_connection(("127.0.0.1", port)) as s:
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    print("ready", flush=True)
    sys.stdin.readline()
    trips, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(50):
            s.sendall(message)
            got = 0
            while got < 64:
                got += len(s.recv(64 - got))
        trips += 50
print(trips, flush=True)
"""

_built: list[str] = []


def generator() -> str:
    """'c' when echo_load.c compiled here (once per process), else 'python'."""
    if not _built:
        cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        folder = Path(tempfile.mkdtemp(prefix="socketlab-echo-load-"))
        atexit.register(shutil.rmtree, folder, True)
        program = folder / "echo_load"
        if cc and subprocess.run([cc, "-O2", "-o", str(program), str(SOURCE)], check=False, capture_output=True).returncode == 0:
            _built.append(str(program))
        else:
            _built.append("")
    return "c" if _built[0] else "python"


@dataclass
class Load:
    """What one run of the generator measured."""

    round_trips: int
    seconds: float
    generator_cpu_s: float  # user + system CPU of the generator's own process(es)

    @property
    def rate(self) -> float:
        return self.round_trips / self.seconds


def drive(port: int, connections: int | None = None, seconds: float | None = None) -> Load:
    """Round trips to 127.0.0.1:`port` from `connections` connections (CONNECTIONS) for `seconds`
    (SECONDS), all connected before the clock starts."""
    connections = connections or CONNECTIONS
    seconds = seconds or SECONDS
    if generator() == "c":
        commands = [[_built[0], str(port), str(connections), str(seconds)]]
    else:
        commands = [[sys.executable, "-c", PYTHON_CLIENT, str(port), str(seconds)] for _ in range(connections)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs = [subprocess.Popen(c, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for c in commands]
    try:
        for p in procs:
            assert p.stdout is not None
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError(f"the echo load generator did not connect to port {port}")
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        trips = sum(int(p.stdout.readline()) for p in procs if p.stdout is not None)
        for p in procs:
            p.wait(30)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            for stream in (p.stdin, p.stdout):
                if stream is not None:
                    stream.close()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    # the generator's own clock is the window (the last round trips in flight come back after it, uncounted)
    return Load(trips, seconds, cpu)
