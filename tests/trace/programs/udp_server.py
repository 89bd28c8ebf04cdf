"""The tutorial's UDP server: answer each datagram in capitals; "quit" ends it. Prints its port."""
import socket

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
while True:
    data, addr = sock.recvfrom(2048)
    sock.sendto(data.upper(), addr)
    if data == b"quit":
        break
sock.close()
print("udp server done")
