"""A student's program for bench 19, run under the one-file tracer the dashboard serves (GET /trace.py):
a threaded TCP echo server of its own, and a client of it making `rate` socket calls a second (send and
recv on each side of a round trip: four traced calls) for `seconds`.

Before its first round trip it prints `first=<ms>`: the wall-clock time just before the call that passes
the exercise's first trace check (the server's recv() on an accepted socket), so the benchmark can time
the class board's change from it. Each message carries its send time (`t=<ms> n=<i>`), which the
teacher's log shows, for the log's lag.

`python3 socketlab_trace.py class_student.py SECONDS RATE FILE`: FILE gets `first=<ms>` too (the
program's stdout is the tracer's).
"""

import socket
import sys
import threading
import time


def serve(conn):
    with conn:
        while True:
            data = conn.recv(1024)
            if not data:
                return
            conn.sendall(data)


def accept_all(server):
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def main():
    seconds, rate, out = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    threading.Thread(target=accept_all, args=(server,), daemon=True).start()
    client = socket.create_connection(server.getsockname())
    first = int(time.time() * 1000)
    with open(out, "w") as f:
        f.write("first=%d\n" % first)
    print("first=%d" % first, flush=True)
    period = 4 / rate  # four traced calls a round trip
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < seconds:
        client.sendall(b"t=%d n=%d" % (time.time() * 1000, i))
        client.recv(1024)
        i += 1
        due = start + i * period
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    client.close()
    server.close()


if __name__ == "__main__":
    main()
