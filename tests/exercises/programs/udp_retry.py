"""Textbook UDP client with a timeout and retries. argv: port, questions."""
import socket
import sys

with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
    sock.settimeout(0.5)
    for n in range(int(sys.argv[2])):
        question = f"question {n}".encode()
        while True:
            sock.sendto(question, ("127.0.0.1", int(sys.argv[1])))
            try:
                answer, _ = sock.recvfrom(1024)
            except socket.timeout:
                continue
            print(answer.decode())
            break
