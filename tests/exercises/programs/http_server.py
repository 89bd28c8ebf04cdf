"""Textbook HTTP/1.0 server by hand: read the request, answer with a status line, headers, a blank line
and the body, then close. argv: port, requests. Prints its port first."""
import socket
import sys

body = "<h1>Hello from my server</h1>\n".encode("utf-8")
with socket.socket() as server:
    server.bind(("127.0.0.1", int(sys.argv[1])))
    server.listen()
    print(server.getsockname()[1], flush=True)
    for _ in range(int(sys.argv[2])):
        conn, addr = server.accept()
        with conn:
            request = conn.recv(1024)
            head = (f"HTTP/1.0 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n")
            conn.sendall(head.encode("ascii") + body)
