"""A lab agent: one lab on this host, driven by dashboards through Redis Streams only.

Three threads, each with its own retry loop, so that none of them depends on another being well:
- the courier's forwarder moves the lab's events to the courier (agent/courier.py), a process of its own
  whose shipper (agent/shipper.py) encodes them and moves them to ev:{name};
- the inbox (agent/inbox.py) reads cmd:{name}, runs each command in a small pool, answers on the
  dashboard's reply stream;
- the heartbeat keeps hb:{name} alive (PX 2500, every 0.5 s): an agent is up while the key exists, so a
  killed agent is seen as down within 2.5 s plus the dashboard's polling, and a clean stop deletes it.

Like socketserver: start() returns once the threads run; stop() blocks until they have ended (at most
about a second for the blocking read, plus the commands still running); a context manager does both.
start() does not wait for Redis: every loop keeps trying on its own, and the lab records meanwhile.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from types import TracebackType

import orjson

from lab import Lab

from .courier import Courier
from .inbox import BLOCK_MS, Inbox
from .redisconn import connect
from .retry import PROBLEMS, Outage
from .shipper import Shipper, now_ms

HEARTBEAT_SECONDS = 0.5
HEARTBEAT_TTL_MS = 2500
SOCKET_TIMEOUT = BLOCK_MS / 1000 + 1.0  # above the blocking read's 1 s, or every idle read would be a "timeout"

log = logging.getLogger("agent")


class Agent:
    def __init__(self, name: str, redis_url: str, lab: Lab, courier: bool = True) -> None:
        """Checks the URL (BadInput with a sentence when it is not one); connects only in the threads.

        `courier` False: the shipper runs as a thread of this process, encoding here (a process that
        holds many agents, each with a courier of ~25 MB, may prefer that)."""
        self.name, self.lab = name, lab
        self.client = connect(redis_url, SOCKET_TIMEOUT)
        self.boot_ms = now_ms()
        self.since = time.time()
        self.stopping = threading.Event()
        # (a Courier says what its shipper says: `sent`, `shipped`, `dropped`, `boot_ms`, `outage.since`)
        shipping: list[threading.Thread] = []
        self.shipper: Courier | Shipper
        if courier:
            self.shipper = Courier(lab.bus, name, self.boot_ms, redis_url, self.stopping)
        else:
            self.shipper = shipper = Shipper(self.client, lab.bus, name, self.boot_ms, self.stopping)
            shipping.append(threading.Thread(target=shipper.run, name=f"agent-ship-{name}", daemon=True))
        self.inbox = Inbox(self.client, lab, name, self.stopping)
        self.hb_key = f"hb:{name}"
        self.heartbeat = orjson.dumps({"name": name, "host": socket.gethostname(), "boot_ms": self.boot_ms,
                                       "pid": os.getpid(), "since": self.since})
        self.beats = 0
        self._hb_outage = Outage(log, f"agent {name}: heartbeat")
        self._threads = [threading.Thread(target=self.inbox.run, name=f"agent-cmd-{name}", daemon=True),
                         threading.Thread(target=self._beat, name=f"agent-hb-{name}", daemon=True), *shipping]
        self._started = False

    def start(self) -> None:
        self._started = True
        if isinstance(self.shipper, Courier):
            self.shipper.start()
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop reading commands, let running ones answer, ship the last events, delete hb:{name}."""
        self.stopping.set()
        self.lab.bus.wake()  # (the shipper, or the courier's forwarder, waits on the bus)
        if self._started:
            inbox, heartbeat, *shipping = self._threads
            inbox.join()
            self.inbox.close()  # running commands finish and answer before the last events ship
            if isinstance(self.shipper, Courier):
                self.shipper.stop()
            for thread in shipping:
                thread.join()
            heartbeat.join()
        else:
            self.inbox.close()
        try:
            self.client.delete(self.hb_key)
        except PROBLEMS as exc:  # it expires by itself within 2.5 s
            log.warning("agent %s: could not delete %s at stop (%s)", self.name, self.hb_key, exc)
        self.client.close()

    def __enter__(self) -> Agent:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _beat(self) -> None:
        other: bytes | None = None
        while not self.stopping.is_set():
            try:
                # GET: what the key held; a value not ours twice in a row is another agent of this name
                # (once is the key of our own previous run, still alive after a crash)
                held = self.client.set(self.hb_key, self.heartbeat, px=HEARTBEAT_TTL_MS, get=True)
                if held not in (None, self.heartbeat) and held == other:
                    log.error("agent %s: another agent uses this name (%s); give each host its own --name",
                              self.name, held[:200] if isinstance(held, bytes) else held)
                other = held if isinstance(held, bytes) else None
                self.beats += 1
                self._hb_outage.ok()
                self.stopping.wait(HEARTBEAT_SECONDS)
            except PROBLEMS as exc:
                self.stopping.wait(min(HEARTBEAT_SECONDS, self._hb_outage.failed(exc)))
