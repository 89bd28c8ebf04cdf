"""The tutorial's echo client, which keeps its connection open until a line comes on stdin."""
import socket
import sys

with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as sock:
    for word in sys.argv[2:]:
        sock.sendall(word.encode())
        got = b""
        while len(got) < len(word.encode()):
            got += sock.recv(1024)
        print("echo:", got.decode(), flush=True)
    sys.stdin.readline()
