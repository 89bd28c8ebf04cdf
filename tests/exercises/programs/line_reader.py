"""Textbook line reader: a buffer, recv() in a loop until b'', each whole line printed. argv: port."""
import socket
import sys

buffer = b""
with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as sock:
    while True:
        data = sock.recv(1024)
        if not data:
            break
        buffer += data
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            print(line.decode())
