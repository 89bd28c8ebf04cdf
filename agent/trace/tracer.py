"""What a traced program did, as the lab's own events: one EventBus, one endpoint id per socket.

The tracer never changes what the program sees: it records around the real call (tsocket.py) and
the call's result or exception goes back unchanged. Its own threads (the shipper, the heartbeat)
open sockets too (redis-py's); those are not the program's, so a thread-local flag leaves them
untraced rather than shipping the shipper's own traffic in an endless loop.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lab.events import Address, EventBus

#: Events the bus holds for the shipper; a program faster than Redis loses the oldest, counted by
#: the shipper as an `agent` event "dropped" (never silently).
CAPACITY = 50_000


class Tracer:
    def __init__(self, name: str, bus: EventBus | None = None) -> None:
        self.name = name
        self.bus = bus or EventBus(capacity=CAPACITY, pinned=5_000)  # no per-second limit: the ring bounds it
        self.on = True  # False in a fork's child: its events would share the parent's seqs and Redis client
        self._ids = itertools.count(1)
        self._local = threading.local()
        # endpoint id -> (weak reference, proto) of every traced socket not yet closed:
        # what is left when the program ends, or when the garbage collector takes one, was never closed
        self._open: dict[str, tuple[weakref.ref[Any], str]] = {}

    # -- whose sockets ---------------------------------------------------------------------------

    def traces_here(self) -> bool:
        return self.on and not getattr(self._local, "untraced", False)

    @contextmanager
    def untraced(self) -> Iterator[None]:
        """Sockets this thread creates meanwhile are the tracer's own (Redis), not the program's."""
        self._local.untraced = True
        try:
            yield
        finally:
            self._local.untraced = False

    def thread_target(self, target: Any) -> Any:
        """`target`, run with this thread's sockets untraced (the shipper's and heartbeat's threads)."""
        def run() -> None:
            with self.untraced():
                target()
        return run

    # -- sockets ---------------------------------------------------------------------------------

    def new_socket(self, sock: Any, proto: str) -> str:
        endpoint = f"s{next(self._ids)}@{self.name}"

        def collected(_ref: weakref.ref[Any]) -> None:
            self._collected(endpoint)

        self._open[endpoint] = (weakref.ref(sock, collected), proto)
        return endpoint

    def closed(self, endpoint: str) -> None:
        self._open.pop(endpoint, None)

    def _collected(self, endpoint: str) -> None:
        # The program dropped its last reference without close(): CPython closes the fd now (with a
        # ResourceWarning). The program still made the mistake, so the hint is recorded here.
        entry = self._open.pop(endpoint, None)
        if entry is not None and self.on:
            self.never_closed(endpoint, entry[1], "collected")

    def finish(self) -> None:
        """The program has ended: every traced socket still open was never closed."""
        for endpoint, (_ref, proto) in list(self._open.items()):
            self.never_closed(endpoint, proto, "exit")
        self._open.clear()

    def never_closed(self, endpoint: str, proto: str, when: str) -> None:
        self.bus.record(endpoint, "error", proto, None, None, None, 0, None,
                        f"socket {endpoint} was never closed ({when})", "close", {"when": when},
                        None, None, None, "socket-never-closed", {"socket": endpoint})

    def record(self, endpoint: str, kind: str, proto: str, local: Address | None, peer: Address | None,
               size: int, payload: bytes | None, detail: str, call: str, args: dict[str, Any],
               result: Any = None, errno: str | None = None, code: str | None = None,
               params: dict[str, Any] | None = None, ts: float | None = None, closed_by: str | None = None) -> None:
        args["thread"] = threading.current_thread().name  # a program's threads become its lanes
        self.bus.record(endpoint, kind, proto, None, local, peer, size, payload, detail, call, args, result,
                        closed_by, errno, code, params, None, None, None, ts)
