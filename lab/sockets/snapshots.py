"""When a server's `state` snapshots go out during a burst of accepts or closes.

A room connecting (or leaving) at once: the k-th snapshot lists k connections, so one per accept or
close sends every viewer 1000^2/2 connection entries (~35 MB) for a room of 1,000. In a burst a
snapshot goes out at most every STATE_EVERY seconds: the caller says when it may hold one back
(more clients wait in the backlog, or the accept loop's tick will come), and whoever comes next
(an accept, a close, the tick, Stop) sends what is owed. Below COALESCE_FROM connections a snapshot
is small and every accept and close still sends its own, as a lesson wants.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

STATE_EVERY = 0.25
COALESCE_FROM = 32


class Snapshots:
    def __init__(self, publish: Callable[[], None], size: Callable[[], int]) -> None:
        self._publish, self._size = publish, size
        self._due = False  # a snapshot was held back: the next call that may not hold sends it
        self._at = 0.0  # monotonic time of the last one sent
        self._lock = threading.Lock()  # one at a time: a later snapshot never goes out before an earlier one

    def owe(self) -> None:
        """A change happened whose snapshot someone will send later (e.g. Stop, once every close is done)."""
        with self._lock:
            self._due = True

    def send(self, hold: bool, due: bool = False) -> None:
        """Send the snapshot owed (`due`: a change just happened), unless `hold` (the caller knows a
        later call will come) in a burst: one went out less than STATE_EVERY ago, and it is big."""
        with self._lock:
            self._due = self._due or due
            now = time.monotonic()
            if not self._due or (hold and now - self._at < STATE_EVERY and self._size() >= COALESCE_FROM):
                return
            self._due, self._at = False, now
            self._publish()
