"""In the courier: a traced program's events to Redis, exactly as a lab agent ships its lab's: the
agent's Shipper to ev:{name}, and a heartbeat hb:{name} so dashboards list the program as an agent.

A traced program answers no commands (it has no lab to drive): its heartbeat says so
("commands": false), and dashboards leave it out of the agents they send commands to.

`stop()` (the program's pipe ended) ships what is left, bounded in time, and deletes the heartbeat.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import orjson

from agent.agent import HEARTBEAT_SECONDS, HEARTBEAT_TTL_MS, SOCKET_TIMEOUT
from agent.redisconn import connect
from agent.retry import PROBLEMS, Outage
from agent.shipper import BATCH_EVENTS, Shipper, now_ms
from lab.events.bus import EventBus

FLUSH_SECONDS = 5.0  # at exit, at most this long for the last events (a Redis that is away must not hang the exit)

log = logging.getLogger("agent.trace")


class RedisDelivery:
    def __init__(self, bus: EventBus, name: str, redis_url: str, program: str, pid: int) -> None:
        """Checks the URL (BadInput with a sentence when it is not one); connects only in the threads."""
        self.bus, self.name = bus, name
        self.client = connect(redis_url, SOCKET_TIMEOUT)
        self.boot_ms = now_ms()
        self.stopping = threading.Event()
        self.shipper = Shipper(self.client, bus, name, self.boot_ms, self.stopping)
        self.hb_key = f"hb:{name}"
        self.heartbeat = orjson.dumps({"name": name, "host": socket.gethostname(), "boot_ms": self.boot_ms,
                                       "pid": pid, "since": time.time(), "trace": program, "commands": False})
        self._hb_outage = Outage(log, f"traced {name}: heartbeat")
        self._threads = [threading.Thread(target=self.shipper.run, name=f"trace-ship-{name}", daemon=True),
                         threading.Thread(target=self._beat, name=f"trace-hb-{name}", daemon=True)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Ship the last events and delete hb:{name}, within FLUSH_SECONDS."""
        deadline = time.monotonic() + FLUSH_SECONDS
        self.stopping.set()
        self.bus.wake()
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        try:  # the shipper's last round sends one batch: a backlog takes several
            while self.bus.last_seq > self.shipper.sent and time.monotonic() < deadline:
                if self.shipper.ship_once() < BATCH_EVENTS and self.bus.last_seq <= self.shipper.sent:
                    break
            self.client.delete(self.hb_key)
        except PROBLEMS as exc:
            log.warning("traced %s: the last events after seq %d were not shipped (%s)", self.name,
                        self.shipper.sent, exc)
        self.client.close()

    def _beat(self) -> None:
        while not self.stopping.is_set():
            try:
                self.client.set(self.hb_key, self.heartbeat, px=HEARTBEAT_TTL_MS)
                self._hb_outage.ok()
                self.stopping.wait(HEARTBEAT_SECONDS)
            except PROBLEMS as exc:
                self.stopping.wait(min(HEARTBEAT_SECONDS, self._hb_outage.failed(exc)))
