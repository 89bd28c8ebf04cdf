"""Textbook file request: send the file's name on one line, recv() until b'', save it. argv: port, name, where."""
import socket
import sys

with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as sock, open(sys.argv[3], "wb") as file:
    sock.sendall(sys.argv[2].encode() + b"\n")
    while True:
        data = sock.recv(4096)
        if not data:
            break
        file.write(data)
print("saved", sys.argv[3])
