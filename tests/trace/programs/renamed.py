"""A program that names its threads after they began: the trace says the name each call ran under."""
import socket
import threading

a, b = socket.socketpair()
b.sendall(b"1")
a.recv(1)  # as MainThread
threading.current_thread().name = "server"
b.sendall(b"2")
a.recv(1)  # as server
first_done, renamed = threading.Event(), threading.Event()


def work() -> None:
    b.sendall(b"3")
    a.recv(1)  # as worker-1
    first_done.set()
    renamed.wait()
    b.sendall(b"4")
    a.recv(1)  # as worker-2: the main thread renamed it meanwhile


worker = threading.Thread(target=work, name="worker-1")
worker.start()
first_done.wait()
worker.name = "worker-2"
renamed.set()
worker.join()
a.close()
b.close()
print("done")
