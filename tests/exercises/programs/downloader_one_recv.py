"""Mistake: one recv() for a whole file: it returns what has arrived so far. argv: port, where to save."""
import hashlib
import socket
import sys

with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as sock:
    data = sock.recv(4096)
with open(sys.argv[2], "wb") as file:
    file.write(data)
print(hashlib.sha256(data).hexdigest())
