"""The one relay task: the only code that emits Socket.IO messages.

It wakes when the bus has new events and emits them as one `events` message, at most one every
BATCH_WINDOW (so under load a batch carries all that came in meanwhile). python-socketio's emit is not thread-safe per client, and
per-event emits are ~15x slower than batches: hence one task, batches, and nothing else emitting.

A client whose outgoing queue is already long (a slow or stalled browser) is skipped for a
batch rather than queued more: it sees a gap in seq numbers, which the page counts as dropped.
So server memory per client stays bounded and the others are not delayed.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from lab.events.bus import READ_BYTES, EventBus

from . import socketio_internals as internals

log = logging.getLogger(__name__)

# At most one batch every BATCH_WINDOW seconds, paced from the previous one: under load a batch
# carries what came in meanwhile, and the first event after a quiet spell goes at once rather than
# waiting a whole window. Measured (bench 8: 20 lab agents, 10 viewers): waiting 20 ms after the
# first event, p50 26 / p99 62 ms; paced at 20 ms, p50 17-18 / p99 53-55; paced at 15 ms, p50 16 /
# p99 44 (twice), 0 lost, bench 3 (50 clients) p99 18 ms. (Waiting 10 ms after the first event had
# doubled the messages and made loaded viewers skip 3514 events.)
BATCH_WINDOW = 0.015
BATCH_MAX = 2000  # events per message
QUEUE_MAX = 8  # packets waiting for one client before it is skipped


class Relay:
    def __init__(self, server: Any, bus: EventBus, namespace: str = "/",
                 every_second: Callable[[], None] | None = None) -> None:
        self.server = server  # the socketio.Server this app owns
        # housekeeping that closes clients (conns.LiveGate.reap): here, because this is the thread
        # that talks to clients; the bus wait below times out every second when the lab is quiet
        self.every_second = every_second
        self.bus = bus
        self.namespace = namespace
        self.batches = 0
        self.skipped = 0  # batches not sent to some slow client
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="socketio-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.bus.wake()
        if self._thread is not None:
            self._thread.join(5)

    def run(self) -> None:
        last = self.bus.last_seq
        chores_due = time.monotonic()
        gathered_at = 0.0
        while not self._stop.is_set():
            if self.every_second is not None and time.monotonic() >= chores_due:
                chores_due = time.monotonic() + 1.0
                try:
                    self.every_second()
                except Exception:  # housekeeping must never stop the relay
                    log.exception("relay housekeeping failed")
            if not self.bus.wait(last, timeout=1.0, cancelled=self._stop.is_set):
                continue
            pause = gathered_at + BATCH_WINDOW - time.monotonic()
            if pause > 0:
                self._stop.wait(pause)
            gathered_at = time.monotonic()
            events, _ = self.bus.since(last, BATCH_MAX, READ_BYTES)  # (the rest: the next batch)
            if not events:
                last = self.bus.last_seq  # everything waiting was already dropped from the buffer
                continue
            last = events[-1].seq
            if not self._clients():
                continue  # nobody is watching: nothing to encode (a late joiner catches up over REST)
            try:
                self.server.emit("events", [e.to_json() for e in events], namespace=self.namespace,
                                 skip_sid=self._slow_clients() or None)
                self.batches += 1
            except Exception:  # a broken client must never stop the relay for everyone else
                log.exception("relay emit failed")

    def _clients(self) -> dict[str, str]:
        """Socket.IO sid -> Engine.IO sid of every connected client of the namespace."""
        return internals.clients(self.server, self.namespace)

    def _slow_clients(self) -> list[str]:
        slow = [sid for sid, eio_sid in self._clients().items() if internals.queued(self.server, eio_sid) > QUEUE_MAX]
        self.skipped += len(slow)
        return slow
