"""The tutorial's downloader: connect, read until EOF, print the size and the SHA-256."""
import hashlib
import socket
import sys

sock = socket.socket()
sock.connect(("127.0.0.1", int(sys.argv[1])))
chunks = []
while True:
    chunk = sock.recv(4096)
    if not chunk:
        break
    chunks.append(chunk)
sock.close()
body = b"".join(chunks)
print(len(body), hashlib.sha256(body).hexdigest())
