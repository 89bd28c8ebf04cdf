"""Textbook echo server: a thread per client, recv() in a loop until b'', everything closed.
argv: port (0: any), how many clients to serve before it ends. Prints its port first."""
import socket
import sys
import threading


def serve(conn):
    with conn:
        while True:
            data = conn.recv(1024)
            if not data:
                break
            conn.sendall(data)


workers = []
with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
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
