"""The classic mistakes, each caught so the program goes on: recv on a listening socket, send of a
str, bind to a port in use, connect refused; and one socket left open at the end."""
import socket

server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
port = server.getsockname()[1]
try:
    server.recv(1024)
except OSError as exc:
    print("recv on listening:", exc.errno)
client = socket.create_connection(("127.0.0.1", port))
try:
    client.send("hello")
except TypeError as exc:
    print("send str:", exc)
other = socket.socket()
try:
    other.bind(("127.0.0.1", port))
except OSError as exc:
    print("bind in use:", exc.errno)
other.close()
free = socket.socket()
free.bind(("127.0.0.1", 0))
closed_port = free.getsockname()[1]
free.close()
refused = socket.socket()
try:
    refused.connect(("127.0.0.1", closed_port))
except ConnectionRefusedError as exc:
    print("refused:", exc.errno)
refused.close()
client.close()
print("left open:", server.fileno() > 0)  # server is never closed
