"""Abuse: answers with a valid head, then megabytes, until the browser leaves.
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
            conn.recv(1024)
            try:
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 104857600\r\n\r\n")
                for _ in range(100):
                    conn.sendall(b"x" * (1 << 20))
            except OSError:
                pass
