"""The classic mistake: one recv() taken for the whole message, which arrived in two pieces.
A client thread and a server in one program, so the pieces arrive in a known order."""
import select
import socket
import threading

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
second_sent = threading.Event()


def client() -> None:
    with socket.create_connection(listener.getsockname()) as c:
        c.sendall(b"first half, ")
        c.recv(1024)  # the server's answer to the first piece
        c.sendall(b"second half")
        second_sent.set()
        try:
            c.recv(1024)
        except ConnectionResetError:  # (a close with unread bytes resets the connection)
            pass


thread = threading.Thread(target=client, name="client")
thread.start()
conn, _ = listener.accept()
message = conn.recv(1024)  # the mistake: one recv for the whole message
print("server got:", message)
conn.sendall(b"ok")
second_sent.wait()
select.select([conn], [], [], 5)  # the second piece is there, unread
conn.close()
thread.join()
listener.close()
