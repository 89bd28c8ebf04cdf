"""Mistake: one recv() for lines sent in pieces. argv: port."""
import socket
import sys

with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as sock:
    print(sock.recv(1024).decode())
