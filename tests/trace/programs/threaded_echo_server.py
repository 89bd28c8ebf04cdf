"""A student's threaded echo server: one thread per client, N clients (argv[1]), then it ends.
Prints its port first."""
import socket
import sys
import threading


def serve(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(1024):
            conn.sendall(data)


workers = []
with socket.socket() as server:
    server.bind(("127.0.0.1", 0))
    server.listen()
    print(server.getsockname()[1], flush=True)
    for _ in range(int(sys.argv[1])):
        conn, addr = server.accept()
        worker = threading.Thread(target=serve, args=(conn,))
        worker.start()
        workers.append(worker)
for worker in workers:
    worker.join()
print("server done")
