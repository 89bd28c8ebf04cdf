"""One timer for the whole lab: periodic sends wait in a heap, not in a thread each.

Invariants:
- at most one timer thread and `max_workers` worker threads exist, whatever the number of tasks;
  all of them end by themselves when there is nothing to do, and close() ends them at once;
- a task's step never runs twice at the same time: it goes back into the heap only when its step
  has returned, so a slow send delays that task, not the timer;
- a step runs in a worker, never in the timer thread, so a send that blocks (up to the send
  deadline) holds one worker while the other tasks keep their times.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from typing import Callable

from ..errors import TooLarge

WORKERS = 4  # steps running at once; each may block up to the send deadline
WORKER_LINGER = 0.5  # seconds an idle worker waits for the next step before it ends


class Task:
    """A step run every `interval` seconds until it returns False or the task is cancelled."""

    def __init__(self, owner: str, interval: float, step: Callable[[], bool]) -> None:
        self.owner = owner
        self.interval = interval
        self.step = step
        self.cancelled = False
        self.running = False


class Scheduler:
    def __init__(self, name: str = "lab-scheduler", max_workers: int = WORKERS) -> None:
        self.name = name
        self.max_workers = max_workers
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Task]] = []
        self._ready: deque[Task] = deque()
        self._tasks: set[Task] = set()  # every task not finished: waiting, ready or running
        self._order = itertools.count()
        self._timer: threading.Thread | None = None
        self._workers: set[threading.Thread] = set()
        self._idle = 0
        self._closed = False

    # -- what endpoints call ------------------------------------------------------------------

    def every(self, owner: str, interval: float, step: Callable[[], bool], *, per_owner: int, total: int) -> Task:
        """Schedule `step` every `interval` seconds, the first one interval from now.

        Raises TooLarge, with a sentence, when `owner` already has `per_owner` tasks or the lab `total`.
        """
        task = Task(owner, interval, step)
        with self._cond:
            self._check_room(owner, per_owner, total)
            self._tasks.add(task)
            self._push(task, time.monotonic() + interval)
        return task

    def check_room(self, owner: str, *, per_owner: int, total: int) -> None:
        """Raise TooLarge now if every() would (so a request can be refused before it sends anything)."""
        with self._cond:
            self._check_room(owner, per_owner, total)

    def _check_room(self, owner: str, per_owner: int, total: int) -> None:
        if self._closed:
            raise TooLarge("lab-shutting-down")
        mine = sum(1 for t in self._tasks if t.owner == owner)
        if mine >= per_owner:
            raise TooLarge("too-many-periodic-per-endpoint", count=mine)
        if len(self._tasks) >= total:
            raise TooLarge("too-many-periodic", count=len(self._tasks))

    def count(self, owner: str | None = None) -> int:
        with self._cond:
            return sum(1 for t in self._tasks if owner is None or t.owner == owner)

    def cancel(self, owner: str, timeout: float = 10.0) -> None:
        """Cancel every task of `owner`; wait (up to `timeout`) for a step of it that is running,
        so that nothing is sent for an endpoint after its close() (unless called from that step)."""
        me = threading.current_thread()
        deadline = time.monotonic() + timeout
        with self._cond:
            for task in self._tasks:
                if task.owner == owner:
                    task.cancelled = True
            self._heap = [entry for entry in self._heap if not entry[2].cancelled]
            heapq.heapify(self._heap)
            self._ready = deque(t for t in self._ready if not t.cancelled)
            self._tasks = {t for t in self._tasks if not t.cancelled or t.running}
            while me not in self._workers and any(t.owner == owner for t in self._tasks):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            self._cond.notify_all()

    def close(self) -> None:
        """Drop every task and end the threads (a running step is waited for, up to its deadline)."""
        with self._cond:
            self._closed = True
            for task in self._tasks:
                task.cancelled = True
            self._heap.clear()
            self._ready.clear()
            self._tasks = {t for t in self._tasks if t.running}
            self._cond.notify_all()
            threads = [t for t in (self._timer, *self._workers) if t is not None]
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(10)

    # -- inside -------------------------------------------------------------------------------

    def _push(self, task: Task, due: float) -> None:
        """Put a task in the heap and make sure the timer runs (called with the lock held)."""
        heapq.heappush(self._heap, (due, next(self._order), task))
        if self._timer is None:
            self._timer = threading.Thread(target=self._run_timer, name=self.name, daemon=True)
            self._timer.start()
        self._cond.notify_all()

    def _run_timer(self) -> None:
        """Move due tasks to the workers; end when no task waits in the heap."""
        with self._cond:
            while not self._closed and self._heap:
                due = self._heap[0][0]
                now = time.monotonic()
                if due > now:
                    self._cond.wait(due - now)
                    continue
                _, _, task = heapq.heappop(self._heap)
                self._ready.append(task)
                if self._idle == 0 and len(self._workers) < self.max_workers:
                    worker = threading.Thread(target=self._run_worker, name=f"{self.name}-worker", daemon=True)
                    self._workers.add(worker)
                    worker.start()
                else:
                    self._cond.notify_all()
            self._timer = None

    def _run_worker(self) -> None:
        me = threading.current_thread()
        with self._cond:
            try:
                while not self._closed:
                    if not self._ready:
                        self._idle += 1
                        self._cond.wait(WORKER_LINGER)
                        self._idle -= 1
                        if not self._ready:
                            return
                        continue
                    task = self._ready.popleft()
                    task.running = True
                    self._cond.release()
                    again = False
                    try:
                        again = not task.cancelled and task.step()
                    finally:  # a step that raises (a bug) ends its task, and goes on to the excepthook
                        self._cond.acquire()
                        task.running = False
                        if not again:
                            self._tasks.discard(task)
                            self._cond.notify_all()
                    if again and not task.cancelled and not self._closed:
                        self._push(task, time.monotonic() + task.interval)
                    else:
                        self._tasks.discard(task)
                        self._cond.notify_all()  # cancel() may be waiting for this step
            finally:
                self._workers.discard(me)
