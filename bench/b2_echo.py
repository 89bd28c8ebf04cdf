"""2: 20,000 round trips of 64-byte messages from a plain client through a lab TCP echo server,
all events recorded and streamed to a Socket.IO client, against a plain threaded Python echo
server in its own process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

from .common import Result, Watchers, dashboard

ROUNDS = 20_000
TARGET = 0.7
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


def round_trips(port: int) -> float:
    """Round trips per second: send 64 bytes, wait for all 64 to come back, again."""
    message = b"m" * 64
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = time.perf_counter()
        for _ in range(ROUNDS):
            s.sendall(message)
            got = 0
            while got < 64:
                got += len(s.recv(64 - got))
        return ROUNDS / (time.perf_counter() - start)


def plain_rate() -> float:
    proc = subprocess.Popen([sys.executable, "-c", PLAIN_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        return round_trips(int(proc.stdout.readline()))
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout:
            proc.stdout.close()


def run() -> Result:
    with dashboard({"SOCKETLAB_MAX_EVENTS_PER_SECOND": "10000000"}) as lab:
        server = lab.api("POST", "/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo"})
        watchers = Watchers(lab.url, 1)
        first = lab.api("GET", "/api/stats")["events"]
        plain, labbed = [], []
        for _ in range(2):  # interleaved, best of each
            plain.append(plain_rate())
            labbed.append(round_trips(server["local"][1]))
        recorded = lab.api("GET", "/api/stats")["events"] - first
        report = watchers.finish()[0]
    ratio = max(labbed) / max(plain)
    return Result(2, "echo round trips (64 B) vs a plain threaded echo server",
                  f"{ratio:.2f}x ({max(labbed):.0f} vs {max(plain):.0f} round trips/s)", f">= {TARGET}x", ratio >= TARGET,
                  {"lab_rps": labbed, "plain_rps": plain, "ratio": ratio, "events_recorded": recorded,
                   "events_streamed": report["events"], "events_dropped_for_the_client": report["gaps"]})
