"""Forks: the child uses a socket and exits; the parent waits and sends one datagram itself."""
import os
import socket
import sys

port = int(sys.argv[1])
pid = os.fork()
if pid == 0:
    child = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    child.sendto(b"from the child", ("127.0.0.1", port))
    child.close()
    os._exit(0)
_, status = os.waitpid(pid, 0)
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as parent:
    parent.sendto(b"from the parent", ("127.0.0.1", port))
print("child status", os.waitstatus_to_exitcode(status))
sys.exit(3)
