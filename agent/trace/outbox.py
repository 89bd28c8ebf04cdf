"""The program's side of the courier: a pipe, and one thread that empties the tracer's records into it.

The courier (courier.py) is a process of its own, started before the program runs: it turns the
records into events and ships them (Redis or HTTP), so that neither the encoding nor the network
holds this interpreter's lock while the program's threads make their calls. What crosses the pipe
is frames, `<4-byte length><marshal of (records, dropped so far)>`, about every BATCH_SECONDS.

A courier that is slow makes the pipe full: this thread then waits in write() (the program does
not), the records pile up to the tracer's capacity, and the rest are counted as dropped. A courier
that died breaks the pipe: tracing stops there, and the program goes on as if it were untraced.
"""

from __future__ import annotations

import marshal
import os
import select
import subprocess
import sys
import threading

from .config import courier_environment
from .tracer import Tracer

BATCH_SECONDS = 0.01  # records gather this long: one write carries them all
FRAME_RECORDS = 5000  # at most this many per frame (a backlog takes several, back to back)
IDLE_SECONDS = 0.5  # asleep when nothing happens; the first record wakes it at once
READY_SECONDS = 10.0  # the program starts once its courier is up (imports, delivery started), or after this


class Outbox:
    def __init__(self, tracer: Tracer, courier_args: list[str], token: str = "", redis_url: str = "") -> None:
        self.tracer = tracer
        read_end, self.fd = os.pipe()  # (both ends close-on-exec: the program's own children never see them)
        ready_read, ready_write = os.pipe()
        env = courier_environment(token, redis_url)  # (not on the command line: `ps` shows that to every user)
        try:
            self.courier = subprocess.Popen([sys.executable, "-m", "agent.trace.courier", *courier_args,
                                             "--ready-fd", str(ready_write)],
                                            stdin=read_end, stdout=subprocess.DEVNULL, env=env, pass_fds=(ready_write,),
                                            start_new_session=True)  # (Ctrl-C in the terminal is for the program)
        finally:
            os.close(read_end)
            os.close(ready_write)
        try:  # a program's first calls come faster than a courier imports its modules: wait for it
            readable, _, _ = select.select([ready_read], [], [], READY_SECONDS)
            if readable:
                os.read(ready_read, 1)  # (b"" when it died: the first frame's write then stops tracing)
        finally:
            os.close(ready_read)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="trace-outbox", daemon=True)
        self._dropped_sent = 0
        self._closed = False

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        tracer = self.tracer
        while not self.stopping.is_set() and self.fd >= 0:
            if self._forward():
                self.stopping.wait(BATCH_SECONDS)
                continue
            tracer.idle = True
            if tracer.records:  # (appended before it saw `idle`: it did not wake us)
                tracer.idle = False
                continue
            tracer.wakeup.wait(IDLE_SECONDS)
            tracer.wakeup.clear()

    def _forward(self) -> bool:
        """Write what the tracer holds (one frame); False when there was nothing to write."""
        records = self.tracer.records
        popleft = records.popleft
        batch = [popleft() for _ in range(min(len(records), FRAME_RECORDS))]
        dropped = self.tracer.dropped()  # (all so far)
        if not batch and dropped == self._dropped_sent:
            return False
        self._dropped_sent = dropped
        frame = marshal.dumps((batch, dropped))
        try:
            _write_all(self.fd, len(frame).to_bytes(4, "big") + frame)
        except OSError:  # the courier is gone (EPIPE): nobody ships any more, so stop recording
            self.tracer.on = False
            self._close_fd()
        return True

    def close(self, wait_seconds: float) -> None:
        """At exit (atexit, after the program's own threads): forward the rest, end the pipe, and give
        the courier `wait_seconds` to ship it, so that when the program returns its events are out."""
        if self._closed:
            return
        self._closed = True
        self.stopping.set()
        self.tracer.wakeup.set()
        self.thread.join(wait_seconds)
        if not self.thread.is_alive():  # (alive: stuck in a write to a courier that does not read)
            while self.fd >= 0 and self._forward():
                pass
        self._close_fd()
        try:
            self.courier.wait(wait_seconds)
        except subprocess.TimeoutExpired:
            pass  # it goes on alone, within its own deadline; the program does not wait longer

    def forget(self) -> None:
        """In a fork's child: the pipe is the parent's (the child's copy must not keep it open)."""
        self._closed = True
        self._close_fd()

    def _close_fd(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
