"""Connects to a port nobody listens on (argv[1]): the error comes from inside a traced call."""
import socket
import sys

client = socket.socket()
client.connect(("127.0.0.1", int(sys.argv[1])))
