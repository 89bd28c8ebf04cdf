"""Mistake: a timeout, but no retry: a lost answer is given up. argv: port, questions."""
import socket
import sys

with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
    sock.settimeout(0.3)
    for n in range(1, int(sys.argv[2]) + 1):
        sock.sendto(str(n).encode(), ("127.0.0.1", int(sys.argv[1])))
        try:
            answer, _ = sock.recvfrom(1024)
            print(answer.decode())
        except socket.timeout:
            print("no answer to", n)
