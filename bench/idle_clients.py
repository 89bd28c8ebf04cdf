"""`python -m bench.idle_clients HOST PORT N`: N idle TCP clients of one lab server, in their own process.

Connects N sockets (each connect() returns once the kernel finished the handshake), prints "ready N"
and then holds them, sending nothing, until its standard input closes; then closes them all.
Another process than the lab's, as the students of a room would be: the lab's RSS counts only its side.
"""

from __future__ import annotations

import socket
import sys


def main() -> None:
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    clients: list[socket.socket] = []
    try:
        for _ in range(n):
            clients.append(socket.create_connection((host, port), timeout=30))
        print(f"ready {len(clients)}", flush=True)
        sys.stdin.read()  # until the benchmark closes our stdin
    finally:
        for s in clients:
            s.close()


if __name__ == "__main__":
    main()
