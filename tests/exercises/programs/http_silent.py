"""Mistake: accepts, reads the request and never answers (it waits for more from the browser).
argv: port, requests. Prints its port first."""
import socket
import sys

with socket.socket() as server:
    server.bind(("127.0.0.1", int(sys.argv[1])))
    server.listen()
    print(server.getsockname()[1], flush=True)
    for _ in range(int(sys.argv[2])):
        conn, addr = server.accept()
        with conn:
            while conn.recv(1024):
                pass
