"""Mistake: the relay sends each message to every client, the sender too.
argv: port, clients. Prints its port first."""
import socket
import sys
import threading

clients = []
lock = threading.Lock()


def serve(conn):
    with conn:
        while True:
            data = conn.recv(1024)
            if not data:
                break
            with lock:
                everyone = list(clients)
            for other in everyone:
                try:
                    other.sendall(data)
                except OSError:
                    pass
    with lock:
        clients.remove(conn)


workers = []
with socket.socket() as server:
    server.bind(("127.0.0.1", int(sys.argv[1])))
    server.listen()
    print(server.getsockname()[1], flush=True)
    for _ in range(int(sys.argv[2])):
        conn, addr = server.accept()
        with lock:
            clients.append(conn)
        worker = threading.Thread(target=serve, args=(conn,))
        worker.start()
        workers.append(worker)
for worker in workers:
    worker.join()
