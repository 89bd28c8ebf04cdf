"""Mistake: no timeout: a lost datagram would leave recvfrom() waiting forever. argv: port, questions."""
import socket
import sys

with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
    for n in range(int(sys.argv[2])):
        sock.sendto(f"question {n}".encode(), ("127.0.0.1", int(sys.argv[1])))
        answer, _ = sock.recvfrom(1024)
        print(answer.decode())
