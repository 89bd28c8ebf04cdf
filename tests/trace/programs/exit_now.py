"""os._exit with a socket open: no atexit, no flush; the tracer must not hang it."""
import os
import socket
import sys

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.sendto(b"x", ("127.0.0.1", int(sys.argv[1])))
print("leaving", flush=True)
os._exit(7)
