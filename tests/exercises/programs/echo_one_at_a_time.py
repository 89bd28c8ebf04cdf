"""Mistake: one client at a time (no thread): the next client waits until this one leaves.
argv: port, clients. Prints its port first."""
import socket
import sys

with socket.socket() as server:
    server.bind(("127.0.0.1", int(sys.argv[1])))
    server.listen()
    print(server.getsockname()[1], flush=True)
    for _ in range(int(sys.argv[2])):
        conn, addr = server.accept()
        with conn:
            try:
                while True:
                    data = conn.recv(1024)
                    if not data:
                        break
                    conn.sendall(data)
            except OSError:  # (the lab's client gave up waiting and left)
                pass
