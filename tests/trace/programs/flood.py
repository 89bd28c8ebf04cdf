"""As many socket calls as it can: datagrams to itself, N of them (argv[1])."""
import socket
import sys

with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
    sock.bind(("127.0.0.1", 0))
    me = sock.getsockname()
    for _ in range(int(sys.argv[1])):
        sock.sendto(b"0123456789", me)
        sock.recvfrom(64)
print("flooded")
