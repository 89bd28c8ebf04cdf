"""Mistake: one recv() taken for the whole message (no loop), then close.
argv: port, clients. Prints its port first."""
import socket
import sys
import threading


def serve(conn):
    with conn:
        data = conn.recv(1024)
        conn.sendall(data)


workers = []
with socket.socket() as server:
    server.bind(("127.0.0.1", int(sys.argv[1])))
    server.listen()
    print(server.getsockname()[1], flush=True)
    for _ in range(int(sys.argv[2])):
        conn, addr = server.accept()
        worker = threading.Thread(target=serve, args=(conn,))
        worker.start()
        workers.append(worker)
for worker in workers:
    worker.join()
