"""Mistake: every byte received, but the SHA-256 printed is of the file before it was flushed: a big buffer
"for speed", and the file read back before close(). argv: port, where to save."""
import hashlib
import socket
import sys

file = open(sys.argv[2], "wb", buffering=1 << 20)  # noqa: SIM115  (the mistake: never closed before reading back)
with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as sock:
    while True:
        data = sock.recv(4096)
        if not data:
            break
        file.write(data)
with open(sys.argv[2], "rb") as saved:
    print(hashlib.sha256(saved.read()).hexdigest())
file.close()
