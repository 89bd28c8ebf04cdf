"""Mistake: the accepted sockets are never closed (the loop ends on b'' and forgets the socket).
argv: port, clients. Prints its port first."""
import socket
import sys
import threading


def serve(conn):
    while True:
        data = conn.recv(1024)
        if not data:
            break
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
