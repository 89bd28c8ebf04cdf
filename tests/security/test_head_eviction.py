"""The gunicorn worker's room for heads (webapp/worker.py), with real sockets and its own code: when
an address has too many heads waiting, the oldest is refused unless its head came meanwhile. A probe
from an attacked address once lost so (bench 7: 1 health probe of 297): accepted, its head in the
socket, then a burst of attacker connections before the poll that would have read it."""

from __future__ import annotations

import selectors
import socket
from collections import Counter
from typing import Any, Iterator

import pytest

from webapp.conns import ConnBudget, ConnLimits
from webapp.worker import HeadConn, HeadFirstWorker

HEAD = b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"


class Worker(HeadFirstWorker):
    """The worker's head logic alone: no gunicorn arbiter, and "a thread" is a list."""

    def __init__(self, limits: ConnLimits) -> None:  # (no super(): nothing of gunicorn's start-up)
        self.budget = ConnBudget(limits)
        self.waiting: dict[HeadConn, None] = {}
        self.waiting_from: Counter[str] = Counter()
        self.poller = selectors.DefaultSelector()
        self.nr_conns = 0
        self.handed: list[HeadConn] = []

    def enqueue_req(self, conn: Any) -> None:
        if conn.head_ready:
            self.handed.append(conn)
        else:
            self._wait_for_head(conn)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    yield server
    server.close()


def arrive(worker: Worker, listener: socket.socket, clients: list[socket.socket], head: bytes = b"") -> HeadConn:
    """A client connects (and sends `head` before the worker looks): the worker accepts it."""
    client = socket.create_connection(listener.getsockname())
    clients.append(client)
    if head:
        client.sendall(head)
    sock, address = listener.accept()
    conn = HeadConn(None, sock, address, listener.getsockname())
    worker.nr_conns += 1
    worker.enqueue_req(conn)
    return conn


def close_all(worker: Worker, clients: list[socket.socket]) -> None:
    for conn in [*worker.waiting, *worker.handed]:
        conn.close()
    for client in clients:
        client.close()
    worker.poller.close()


def test_the_oldest_head_that_came_meanwhile_goes_on_and_a_slow_one_makes_room(listener: socket.socket) -> None:
    worker = Worker(ConnLimits(pending_per_address=2))
    clients: list[socket.socket] = []
    try:
        probe = arrive(worker, listener, clients)  # its head is not there yet: it waits
        slow = arrive(worker, listener, clients, b"GET / HTTP/1.1\r\n")  # half a head
        assert list(worker.waiting) == [probe, slow]
        clients[0].sendall(HEAD)  # the probe's head comes, before any poll reads it
        third = arrive(worker, listener, clients)  # one too many from 127.0.0.1
        assert worker.handed == [probe] and probe.head == HEAD  # not refused: it went on, whole
        assert list(worker.waiting) == [slow, third] and dict(worker.budget.refused) == {}
        arrive(worker, listener, clients)  # one more: now the oldest waiting is the slow one
        assert slow not in worker.waiting and dict(worker.budget.refused) == {"too-many-pending-from-address": 1}
        clients[1].settimeout(5)
        assert clients[1].recv(100).startswith(b"HTTP/1.1 429")  # refused with a sentence
    finally:
        close_all(worker, clients)


def test_a_head_already_there_never_waits(listener: socket.socket) -> None:
    worker = Worker(ConnLimits(pending_per_address=1))
    clients: list[socket.socket] = []
    try:
        arrive(worker, listener, clients, b"GET / HTTP/1.1\r\n")  # a slow one holds the address's only place
        quick = arrive(worker, listener, clients, HEAD)
        assert worker.handed == [quick] and len(worker.waiting) == 1 and dict(worker.budget.refused) == {}
    finally:
        close_all(worker, clients)
