"""Mistake: a relay without threads: it serves one client until it leaves, so the others' messages wait.
argv: port, clients. Prints its port first."""
import socket
import sys

clients = []
with socket.socket() as server:
    server.bind(("127.0.0.1", int(sys.argv[1])))
    server.listen()
    print(server.getsockname()[1], flush=True)
    for _ in range(int(sys.argv[2])):
        conn, addr = server.accept()
        clients.append(conn)
        with conn:
            while True:
                data = conn.recv(1024)
                if not data:
                    break
                for other in clients:
                    if other is not conn:
                        other.sendall(data)
        clients.remove(conn)
