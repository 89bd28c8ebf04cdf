"""Seeded network impairment for UDP: loss, duplicates, reordering, delay and jitter.

`Impairer` only decides (no I/O): the fate of the n-th datagram depends on the seed and n alone,
so the same seed gives the same losses, copies and reorderings on every run. `DelayLine` runs
callbacks at a given time in one thread, for delayed and held-back datagrams.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from dataclasses import dataclass
from typing import Callable

from ..spec import ImpairSpec


@dataclass(frozen=True, slots=True)
class Fate:
    copies: int  # 0: lost, 1: sent once, 2: duplicated
    delay: float  # seconds before it is sent
    held: bool  # reordered: held back until the next datagram has gone


class Impairer:
    def __init__(self, spec: ImpairSpec) -> None:
        self.spec = spec
        self._rng = random.Random(spec.seed)

    def fate(self) -> Fate:
        rng, spec = self._rng, self.spec
        # Always draw the same four numbers per datagram, whatever the outcome, so that the
        # sequence of fates depends only on the seed.
        lost, duplicated, held = rng.random() < spec.loss, rng.random() < spec.duplicate, rng.random() < spec.reorder
        delay = max(0.0, spec.delay_ms + rng.uniform(-spec.jitter_ms, spec.jitter_ms)) / 1000
        if lost:
            return Fate(0, 0.0, False)
        return Fate(2 if duplicated else 1, delay, held)


class DelayLine:
    """Runs callbacks at their due time, in order, in one background thread.

    Bounded: it holds at most `max_items` callbacks and `max_bytes` of the datagrams they stand
    for. put() refuses past either (the caller drops that datagram and says so), so a flood into
    a long delay costs the lab a fixed amount of memory, not one copy of every datagram.
    """

    def __init__(self, name: str, max_items: int, max_bytes: int) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.held = 0  # callbacks waiting
        self.held_bytes = 0
        self.dropped = 0  # puts refused because the line was full
        self._heap: list[tuple[float, int, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, delay: float, callback: Callable[[], None], size: int = 0) -> bool:
        """Run `callback` in `delay` seconds; False (and nothing kept) when the line is full."""
        with self._cond:
            if self._closed or self.held >= self.max_items or self.held_bytes + size > self.max_bytes:
                self.dropped += 1
                return False
            self.held += 1
            self.held_bytes += size
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._order), size, callback))
            self._cond.notify()
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cond.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                if self._closed:
                    return
                _, _, size, callback = heapq.heappop(self._heap)
                self.held -= 1
                self.held_bytes -= size
            callback()

    def close(self) -> None:
        """Stop; what was still waiting is dropped (the socket is closing anyway)."""
        with self._cond:
            self._closed = True
            self._heap.clear()
            self.held, self.held_bytes = 0, 0
            self._cond.notify()
        if self._thread is not threading.current_thread():
            self._thread.join(5)
