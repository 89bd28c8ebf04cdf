"""Mistake: send() of a str. argv: port, name."""
import socket
import sys

with socket.socket() as sock:
    sock.connect(("127.0.0.1", int(sys.argv[1])))
    sock.send(sys.argv[2])
    print(sock.recv(1024).decode())
