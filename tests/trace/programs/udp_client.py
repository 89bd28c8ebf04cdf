"""The tutorial's UDP client: one datagram per argument, print each answer."""
import socket
import sys

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(10)
for word in sys.argv[2:]:
    sock.sendto(word.encode(), ("127.0.0.1", int(sys.argv[1])))
    data, _ = sock.recvfrom(2048)
    print("answer:", data.decode())
sock.close()
