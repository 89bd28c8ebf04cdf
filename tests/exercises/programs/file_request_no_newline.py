"""Mistake: the name sent without its newline; the server waits for the end of the line, and this client
gives up after a timeout. argv: port, name, where."""
import socket
import sys

with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as sock, open(sys.argv[3], "wb") as file:
    sock.settimeout(1.0)
    sock.sendall(sys.argv[2].encode())
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                break
            file.write(data)
    except socket.timeout:
        print("no answer")
