"""One thread for every connection whose calls all finish at once: epoll over their sockets.

Why not a thread each, as for the rest: with several busy connections, a thread each spends its time
handing the interpreter lock over, not in Python. Every return from recv() or send() waits for the
lock that another connection's thread holds, and each wait is a sleep and a wake-up. Measured with
`python -m bench.echo_gil --design threads selector` (8 connections, 64-byte round trips, about the
lab's Python a round trip): 27,650 round trips/s with 4.9 context switches each from threads, 88,859
with none from one thread over epoll, on this project's 2-core VM. So an echo connection is served
here, and every other one keeps its thread, as socketserver's threading servers do.

Invariants:
- the reactor's thread waits only in epoll. A connection whose next call would wait (a send that the
  peer's window cannot take at once, a send lock another thread holds) leaves for a thread of its own,
  for good, and that thread finishes the call (Connection.react). The events are the same either way:
  what a student sees is the socket calls, not which thread made them;
- a connection is unregistered before its socket is closed, so a number the kernel hands out again
  never reaches the wrong connection;
- at most one thread at a time. It ends by itself when it serves no connection and starts with the
  next one (as the lab's scheduler's threads do), so a lab at rest has no reactor thread.
"""

from __future__ import annotations

import logging
import select
import threading
from typing import Protocol

log = logging.getLogger(__name__)


class Reacting(Protocol):
    """What the reactor needs of a connection it serves."""

    def fileno(self) -> int: ...
    def react(self) -> None: ...  # its socket is readable (or closed): one recv() and what follows


class Reactor:
    def __init__(self, name: str = "lab-reactor") -> None:
        self.name = name
        self.ident: int | None = None  # the serving thread's, for the calls that must not wait in it
        self._lock = threading.Lock()
        self._served: dict[int, Reacting] = {}  # fd -> connection
        self._epoll: select.epoll | None = None
        self._thread: threading.Thread | None = None
        self._ended: threading.Thread | None = None  # the last thread that ended (or is ending) idle

    def add(self, conn: Reacting) -> None:
        """Serve `conn` from now on; its socket must be open (and stay blocking: the reactor reads
        with MSG_DONTWAIT, and a connection that leaves goes on with blocking calls)."""
        fd = conn.fileno()
        with self._lock:
            starting = self._thread is None
            if starting:
                self._epoll = select.epoll()
                self._thread = threading.Thread(target=self._serve, args=(self._epoll,), name=self.name, daemon=True)
            assert self._epoll is not None and self._thread is not None
            self._served[fd] = conn
            self._epoll.register(fd, select.EPOLLIN)
            if starting:  # (registered first: the new thread's first poll sees it)
                self._thread.start()

    def remove(self, conn: Reacting) -> None:
        """Stop serving `conn` (from the reactor's thread: it ends or leaves), before its socket closes."""
        fd = conn.fileno()
        with self._lock:
            if self._served.get(fd) is conn:
                del self._served[fd]
                assert self._epoll is not None
                self._epoll.unregister(fd)

    def serving(self) -> int:
        return len(self._served)

    def settle(self, timeout: float) -> bool:
        """When it serves nobody, wait (at most `timeout`) for the thread that served the last one to
        end: a closed lab leaves no thread behind. False if it had not."""
        with self._lock:
            ended = self._ended if self._thread is None else None
        if ended is None or ended is threading.current_thread():
            return True
        ended.join(timeout)
        return not ended.is_alive()

    def _serve(self, epoll: select.epoll) -> None:
        self.ident = threading.get_ident()
        served = self._served
        try:
            while True:
                for fd, _ in epoll.poll():
                    conn = served.get(fd)
                    if conn is not None:
                        try:
                            conn.react()  # (which says what went wrong itself: this is the net under it)
                        except Exception:
                            log.exception("the reactor's connection %r failed", conn)
                            self.remove(conn)
                with self._lock:
                    if not served:  # the last one ended or left: end (add() starts another)
                        self._thread, self._epoll, self._ended = None, None, threading.current_thread()
                        return
        finally:
            epoll.close()
