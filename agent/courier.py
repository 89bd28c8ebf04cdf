"""`python -m agent.courier`: a lab agent's events, from its lab's process to the stream ev:{name}.

A process of its own, as a traced program's courier is (agent/trace/courier.py): encoding every event
as JSON and packing the XADDs is the costly part of shipping, and done in the lab's process it held
that interpreter's lock against the sockets being watched. The lab's process (agent/agent.py, the
`Forwarder`) takes the events from its bus, numbered, and writes them here as they are, in frames
`<4-byte length><marshal of [event fields, ...]>` on this process's stdin; the Shipper
(agent/shipper.py) ships them from `Held` exactly as it shipped from the lab's bus: the same ids
`{boot_ms}-{seq}`, the same idempotent XADDs, the same resynchronising after an outage, the same
`agent` "dropped" events where events left a buffer before Redis took them.

`Held` is the outage buffer, as large as the lab's bus: while Redis is away events wait here (and
in the lab's bus, if this process is slower than the lab), and beyond it the oldest go, counted.
What Redis has taken and how the shipper stands is written back on stdout, one JSON line a change,
so the agent (and its tests) see the shipper as before. When stdin ends (the agent stopped, or died)
what is left is shipped for at most FLUSH_SECONDS, and the process exits.
"""

from __future__ import annotations

import argparse
import bisect
import logging
import marshal
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, BinaryIO, Callable

import orjson

from lab.events.bus import Event, EventBus

from . import shipper as shipping
from .config import environment, redis_url
from .frames import frames
from .redisconn import connect
from .retry import PROBLEMS
from .shipper import BATCH_EVENTS, Shipper

READY_SECONDS = 10.0  # start() returns once the courier is up (its imports done), or after this
FLUSH_SECONDS = 5.0
RESTART_SECONDS = 1.0  # a courier that died is started again after this  # at the end, at most this long for the last events (a Redis that is away must not hang it)
STATUS_SECONDS = 0.05  # how often the shipper's standing is written back, while it changes
SOCKET_TIMEOUT = 2.0  # (as the agent's: above the inbox's blocking read, which this process has not)

ROOT = Path(__file__).resolve().parents[1]

log = logging.getLogger("agent.courier")


# -- the lab's side ------------------------------------------------------------------------------------

class Outage:
    """When the courier's shipper lost Redis (None: it has not, or has it back)."""

    since: float | None = None


class Courier:
    """The lab's side: starts the courier process, forwards the bus's events to it (one thread, paced
    as the shipper was: at most one frame every BATCH_SECONDS, a backlog frame after frame), and keeps
    what the courier says of its shipper (`sent`, `shipped`, `dropped`, `boot_ms`, `outage.since`).

    Forwarding costs the lab's process a tuple per event and one marshal per frame: the JSON, the
    fitting to an entry's size and the RESP are the courier's. A courier that is slow makes the pipe
    full: the forwarding thread then waits in write() (the sockets do not), and the bus holds the
    events meanwhile, as it held them for an unreachable Redis. A courier that died (killed, out of
    memory) is started again, after RESTART_SECONDS, and given again what Redis was not known to
    hold: its shipper resynchronises first, so nothing Redis holds is written twice.
    """

    def __init__(self, bus: EventBus, name: str, boot_ms: int, redis_url: str, stopping: threading.Event) -> None:
        self.bus, self.name, self.boot_ms, self.redis_url = bus, name, boot_ms, redis_url
        self.stopping = stopping
        self.forwarded = 0  # the newest seq written to the courier
        self.sent = 0  # the newest seq Redis is known to hold (the courier's shipper says)
        self.shipped = 0
        self.dropped = 0
        self.restarts = 0
        self.outage = Outage()
        self._proc: subprocess.Popen[bytes] | None = None
        self._listening: threading.Thread | None = None
        self._forwarding = threading.Thread(target=self._forward, name=f"agent-forward-{name}", daemon=True)

    def start(self) -> None:
        """Start the courier and forward to it; returns once it is up, so the first events go at once
        (it says its standing first thing, before it reaches Redis: this waits for no Redis)."""
        self._spawn()
        self._forwarding.start()

    def _spawn(self) -> None:
        env = environment()
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env["SOCKETLAB_REDIS"] = self.redis_url  # (not on the command line: `ps` shows that to every user)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "agent.courier", "--name", self.name, "--boot-ms", str(self.boot_ms),
             "--capacity", str(self.bus.capacity), "--sent", str(self.sent), "--shipped", str(self.shipped),
             "--dropped", str(self.dropped)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True)  # (Ctrl-C is the agent's)
        ready = threading.Event()
        self._listening = threading.Thread(target=self._listen, args=(self._proc, ready),
                                           name=f"agent-courier-{self.name}", daemon=True)
        self._listening.start()
        ready.wait(READY_SECONDS)

    def stop(self) -> None:
        """Forward what is left, end the pipe, and let the courier ship it (within its FLUSH_SECONDS)."""
        self.stopping.set()
        self.bus.wake()
        if self._proc is None:
            return
        self._forwarding.join()
        self._end(FLUSH_SECONDS + 5)

    def _end(self, timeout: float) -> None:
        """End the pipe, wait for the courier (at most `timeout`) and for what it said last."""
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        try:
            proc.stdin.close()
        except OSError:
            pass  # (a pipe the courier broke: its end is gone already)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("agent %s: its courier did not end; stopping it", self.name)
            proc.kill()
            proc.wait()
        if self._listening is not None:
            self._listening.join()
        if proc.stdout is not None:
            proc.stdout.close()

    def _forward(self) -> None:
        forwarded_at = 0.0
        while not self.stopping.is_set():
            if not self.bus.wait(self.forwarded, 0.5, cancelled=self.stopping.is_set):
                continue
            pause = forwarded_at + shipping.BATCH_SECONDS - time.monotonic()
            if pause > 0:
                self.stopping.wait(pause)
            forwarded_at = time.monotonic()
            while self._forward_once() >= BATCH_EVENTS and not self.stopping.is_set():
                pass  # a backlog: frame after frame
        for _ in range(100):  # what the lab recorded until it stopped (bounded: a lab still recording)
            if self._forward_once() < BATCH_EVENTS:
                break

    def _forward_once(self) -> int:
        events, _ = self.bus.since(self.forwarded, BATCH_EVENTS)  # (a gap in seqs is what the bus let go)
        if not events:
            return 0
        rows = [tuple(e) for e in events if type(e) is Event]  # (an agent's lab relays in no one's events)
        try:
            frame = marshal.dumps(rows)
        except ValueError:  # a field of a type marshal does not take: as its JSON form has it
            frame = marshal.dumps([_marshallable(row) for row in rows])
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        try:
            proc.stdin.write(len(frame).to_bytes(4, "big") + frame)
            proc.stdin.flush()
        except (OSError, ValueError) as exc:  # (BrokenPipeError: it died)
            self._restart(exc)
            return 0
        self.forwarded = events[-1].seq
        return len(events)

    def _restart(self, exc: BaseException) -> None:
        """The courier died: start another, and give it again what Redis was not known to hold (what the
        bus let go meanwhile becomes a "dropped" event, as after any outage)."""
        log.error("agent %s: its courier is gone (%s); starting another in %.0f s", self.name, exc, RESTART_SECONDS)
        self._end(0)
        if self.stopping.wait(RESTART_SECONDS):
            return
        self.restarts += 1
        self.forwarded = self.sent
        self._spawn()

    def _listen(self, proc: subprocess.Popen[bytes], ready: threading.Event) -> None:
        """The courier's standing, one JSON line a change, until it ends."""
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                said = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            self.boot_ms, self.shipped, self.dropped = said["boot_ms"], said["shipped"], said["dropped"]
            self.outage.since = said["outage_since"]
            self.sent = said["sent"]  # (last: a test that waits for it finds the rest current)
            ready.set()
        ready.set()  # (it ended before it said anything: nothing to wait for)


def _marshallable(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """An event's fields that marshal takes: any other value as JSON has it (orjson's, str() of the rest)."""
    fields = []
    for value in row:
        try:
            marshal.dumps(value)
            fields.append(value)
        except ValueError:
            fields.append(orjson.loads(orjson.dumps(value, default=str)))
    return tuple(fields)


# -- the courier's side --------------------------------------------------------------------------------


class Held:
    """The events the lab forwarded, by their own seqs (ascending; a gap is events the lab's bus let go
    before they were forwarded), at most `capacity`: the oldest leave first. What the Shipper reads
    (wait, since, last_seq, wake) as it reads an EventBus."""

    def __init__(self, capacity: int, after: int = 0) -> None:
        """`after`: the newest seq Redis is known to hold already (a courier started again)."""
        self._events: deque[Event] = deque(maxlen=max(1, capacity))
        self._cond = threading.Condition()
        self._last = after

    @property
    def last_seq(self) -> int:
        return self._last

    def add(self, events: list[Event]) -> None:
        if not events:
            return
        with self._cond:
            self._events.extend(events)
            self._last = events[-1].seq
            self._cond.notify_all()

    def since(self, after: int, limit: int = 1000) -> tuple[list[Event], int]:
        """Events after `after`, oldest first, at most `limit` and up to the next gap, and how many are
        missing before the first of them (the gap is counted once, where it is)."""
        with self._cond:
            events = self._events
            at = bisect.bisect_right(events, after, key=lambda e: e.seq)
            found: list[Event] = []
            expected = after + 1
            for i in range(at, min(len(events), at + max(0, limit))):
                event = events[i]
                if found and event.seq != expected:
                    break  # (the next gap: counted on the next call, where it is)
                found.append(event)
                expected = event.seq + 1
        if not found:
            return [], 0
        return found, found[-1].seq - after - len(found)

    def wait(self, after: int, timeout: float, cancelled: Callable[[], bool] = lambda: False) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._last > after or cancelled(), timeout) and self._last > after

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()


def read_frames(stream: BinaryIO, held: Held) -> None:
    """Events from the lab's process, until its pipe ends."""
    for frame in frames(stream):
        held.add([Event(*row) for row in marshal.loads(frame)])


class Standing:
    """Writes the shipper's standing to stdout whenever it changed (one JSON line), for the agent."""

    def __init__(self, shipper: Shipper, out: BinaryIO) -> None:
        self.shipper, self.out = shipper, out
        self._said: bytes = b""

    def say(self) -> None:
        s = self.shipper
        line = orjson.dumps({"sent": s.sent, "shipped": s.shipped, "dropped": s.dropped, "boot_ms": s.boot_ms,
                             "outage_since": s.outage.since}) + b"\n"
        if line != self._said:
            self.out.write(line)
            self.out.flush()
            self._said = line

    def run(self, stopping: threading.Event) -> None:
        while not stopping.wait(STATUS_SECONDS):
            self.say()


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # (Ctrl-C stops the agent; its end of the pipe then ends this)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    parser = argparse.ArgumentParser(prog="python -m agent.courier")
    parser.add_argument("--name", required=True)
    parser.add_argument("--boot-ms", type=int, required=True)
    parser.add_argument("--capacity", type=int, required=True)
    # where an earlier courier of this agent stood (it died): Redis holds every seq up to --sent
    parser.add_argument("--sent", type=int, default=0)
    parser.add_argument("--shipped", type=int, default=0)
    parser.add_argument("--dropped", type=int, default=0)
    options = parser.parse_args(argv)
    held = Held(options.capacity, options.sent)
    client = connect(redis_url(environment()), SOCKET_TIMEOUT)  # (the URL from the environment: never in argv)
    stopping = threading.Event()
    shipper = Shipper(client, held, options.name, options.boot_ms, stopping)
    shipper.sent, shipper.shipped, shipper.dropped = options.sent, options.shipped, options.dropped
    standing = Standing(shipper, sys.stdout.buffer)
    shipping = threading.Thread(target=shipper.run, name=f"agent-ship-{options.name}", daemon=True)
    saying = threading.Thread(target=standing.run, args=(stopping,), name="agent-standing", daemon=True)
    standing.say()  # (first: the agent's start() waits for it)
    shipping.start()
    saying.start()
    try:
        read_frames(sys.stdin.buffer, held)
    finally:
        deadline = time.monotonic() + FLUSH_SECONDS
        stopping.set()
        held.wake()
        shipping.join(FLUSH_SECONDS)
        try:  # the shipper's last round sends one batch: a backlog takes several
            while held.last_seq > shipper.sent and time.monotonic() < deadline:
                if shipper.ship_once() < BATCH_EVENTS and held.last_seq <= shipper.sent:
                    break
        except PROBLEMS as exc:
            log.warning("agent %s: events after seq %d were not shipped at stop (%s)", options.name, shipper.sent, exc)
        saying.join()
        standing.say()
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
