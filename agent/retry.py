"""How an agent loop lives through a Redis outage: back off, say so once, then every few seconds.

Each loop (shipping events, the heartbeat, reading commands) owns one `Outage`. Redis may be away for
seconds (a restart) or hours (a cable): the loop keeps its own state and keeps trying, the log gets
one line when it starts failing, one every `every` seconds while it lasts, and one when it is over.
"""

from __future__ import annotations

import logging
import time

import redis

#: What a lost or stalled Redis looks like to redis-py (a SIGSTOPped Redis is a TimeoutError, a
#: restarting one a ConnectionError, a Redis still loading its data a BusyLoadingError).
UNREACHABLE: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError, OSError)
#: ... and a Redis that answers with an error (WRONGTYPE: someone wrote another type under our key).
PROBLEMS: tuple[type[Exception], ...] = (*UNREACHABLE, redis.ResponseError)


class Outage:
    def __init__(self, log: logging.Logger, what: str, first: float = 0.01, cap: float = 1.0, every: float = 5.0) -> None:
        self.log = log
        self.what = what  # "shipping events", ...
        self.first, self.cap, self.every = first, cap, every
        self.delay = 0.0
        self.since: float | None = None  # monotonic time the outage began; None while Redis answers
        self._said = 0.0
        self.count = 0  # outages lived through (tests and stats read it)

    def failed(self, exc: BaseException) -> float:
        """Note a failure; returns how long to wait before the next try (doubling up to `cap`)."""
        now = time.monotonic()
        if self.since is None:
            self.since, self._said, self.count = now, now, self.count + 1
            self.log.warning("%s: Redis is unreachable (%s); retrying", self.what, _words(exc))
        elif now - self._said >= self.every:
            self._said = now
            self.log.warning("%s: Redis still unreachable after %.0f s (%s); retrying", self.what, now - self.since, _words(exc))
        self.delay = min(self.cap, self.delay * 2 if self.delay else self.first)
        return self.delay

    def ok(self) -> bool:
        """Note a success; True when it ends an outage (the caller may need to resynchronise)."""
        if self.since is None:
            return False
        self.log.warning("%s: Redis is back after %.1f s", self.what, time.monotonic() - self.since)
        self.since, self.delay = None, 0.0
        return True


def _words(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}" if str(exc) else type(exc).__name__
