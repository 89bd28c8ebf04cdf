"""Textbook downloader: connect, recv() in a loop until b'', write every piece, print the file's SHA-256.
argv: port, where to save."""
import hashlib
import socket
import sys

with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as sock, open(sys.argv[2], "wb") as file:
    while True:
        data = sock.recv(4096)
        if not data:
            break
        file.write(data)

with open(sys.argv[2], "rb") as file:
    print(hashlib.sha256(file.read()).hexdigest())
