"""13: the cost of tracing a student's program: an echo round trip (a client and a server thread in
one unmodified program, 4 socket calls per round trip: sendall, recv, sendall, recv), run plainly
and under `python -m agent.trace` shipping every event to Redis, interleaved in this same run."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from .common import ROOT, Result
from .fleet import redis_server

ROUNDS = 20_000
TARGET = 1.5
PROGRAM = f"""
import socket, threading, time
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()

def serve():
    conn, _ = listener.accept()
    with conn:
        while data := conn.recv(4096):
            conn.sendall(data)

server = threading.Thread(target=serve)
server.start()
message = b"m" * 64
with socket.create_connection(listener.getsockname()) as s:
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    start = time.perf_counter()
    for _ in range({ROUNDS}):
        s.sendall(message)
        got = 0
        while got < 64:
            got += len(s.recv(64 - got))
    print((time.perf_counter() - start) / {ROUNDS})
server.join()
listener.close()
"""


def seconds_per_round_trip(program: Path, redis_url: str | None) -> float:
    traced = ["-m", "agent.trace", "--redis", redis_url, "--name", "bench"] if redis_url else []
    out = subprocess.run([sys.executable, *traced, str(program)], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=300).stdout
    return float(out.strip())


def run() -> Result:
    with tempfile.TemporaryDirectory(prefix="socketlab-trace-") as folder, redis_server() as url:
        program = Path(folder) / "echo_round_trips.py"
        program.write_text(PROGRAM)
        plain, traced = [], []
        for _ in range(3):  # interleaved, best of each: the two share the machine's state
            plain.append(seconds_per_round_trip(program, None))
            traced.append(seconds_per_round_trip(program, url))
    ratio = min(traced) / min(plain)
    per_call_us = (min(traced) - min(plain)) / 4 * 1e6
    return Result(13, "a traced echo round trip (client and server in one student program, 4 calls) vs the same untraced",
                  f"{ratio:.2f}x ({min(traced) * 1e6:.1f} vs {min(plain) * 1e6:.1f} us per round trip; "
                  f"{per_call_us:.1f} us per traced call)", f"<= {TARGET}x", ratio <= TARGET,
                  {"plain_s": plain, "traced_s": traced, "ratio": ratio, "per_call_us": per_call_us})
