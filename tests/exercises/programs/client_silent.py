"""Mistake: connected, and closed without sending the name (the reply is never asked for). argv: port."""
import socket
import sys

with socket.socket() as sock:
    sock.connect(("127.0.0.1", int(sys.argv[1])))
print("connected and left")
