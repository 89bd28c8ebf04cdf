"""Textbook client: connect, send a name, print the reply, close. argv: port, name."""
import socket
import sys

with socket.socket() as sock:
    sock.connect(("127.0.0.1", int(sys.argv[1])))
    sock.sendall(sys.argv[2].encode())
    print(sock.recv(1024).decode())
