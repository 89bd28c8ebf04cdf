"""Textbook UDP client: each question asked until its answer arrives (a timeout, then the same question
again). argv: port, questions."""
import socket
import sys

with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
    sock.settimeout(0.3)
    for n in range(1, int(sys.argv[2]) + 1):
        while True:
            sock.sendto(str(n).encode(), ("127.0.0.1", int(sys.argv[1])))
            try:
                answer, _ = sock.recvfrom(1024)
            except socket.timeout:
                continue  # lost: ask again
            if answer.decode() == f"answer {n}":
                print(answer.decode())
                break
