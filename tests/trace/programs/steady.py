"""Datagrams to itself, in two halves: N of them, then waits for a line on stdin, then N more."""
import socket
import sys

n = int(sys.argv[1])
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
    sock.bind(("127.0.0.1", 0))
    me = sock.getsockname()
    for half in range(2):
        for i in range(half * n, (half + 1) * n):
            sock.sendto(str(i).encode(), me)
            sock.recvfrom(64)
        if half == 0:
            print("half", flush=True)
            sys.stdin.readline()
print("done")
