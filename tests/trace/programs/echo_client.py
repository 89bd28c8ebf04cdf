"""The tutorial's TCP echo client: send each argument, print what comes back."""
import socket
import sys

port = int(sys.argv[1])
with socket.create_connection(("127.0.0.1", port)) as sock:
    for word in sys.argv[2:]:
        sock.sendall(word.encode())
        got = b""
        while len(got) < len(word.encode()):  # a recv may return part of a send
            got += sock.recv(1024)
        print("echo:", got.decode())
