"""Mistake: recv() in a loop, but each piece printed as if it were a line. argv: port."""
import socket
import sys

with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as sock:
    while True:
        data = sock.recv(1024)
        if not data:
            break
        print(data.decode("utf-8", "replace"))
