"""`python -m agent.trace.courier`: the traced program's events, from its pipe to Redis or a dashboard.

Started by `python -m agent.trace` (outbox.py) with the pipe as its stdin: it reads frames of
records until the pipe ends (the program exited, by any way, even os._exit or a kill), turns them
into the lab's events (unpack.py), and ships them with the delivery asked for. When the pipe ends
it ships what is left, for at most its delivery's flush time, and exits.

Ctrl-C in the terminal goes to the program and to this process alike: this one ignores it, so the
program's last events still arrive when the program stops on it.
"""

from __future__ import annotations

import argparse
import logging
import marshal
import os
import signal
import sys
import time
from typing import BinaryIO, Protocol

from lab.events.bus import EventBus

from ..frames import frames
from .config import CourierConfig, environment
from .unpack import dropped as record_dropped
from .unpack import unpack

CAPACITY = 50_000  # events held while Redis or the dashboard is away; beyond it the oldest are counted as dropped
NICE = 10  # a lower priority than the program's, on a machine whose cores are all busy

log = logging.getLogger("agent.trace")


class Delivery(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


def read_frames(stream: BinaryIO, bus: EventBus) -> None:
    """Records from the program, until its pipe ends; the program's own drops become one event each time."""
    reported = 0
    for frame in frames(stream):
        try:
            records, dropped = marshal.loads(frame)
        except (EOFError, ValueError, TypeError):
            continue
        if isinstance(records, list):
            unpack(bus, records)
        if isinstance(dropped, int) and dropped > reported:
            count, reported = dropped - reported, dropped
            record_dropped(bus, time.time(), count)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:  # the program comes first: this catches up when the program waits (a human, the network)
        os.nice(NICE)
    except OSError:
        pass
    logging.basicConfig(level=logging.WARNING, format="python -m agent.trace: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m agent.trace.courier")
    parser.add_argument("--name", required=True)
    parser.add_argument("--program", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--over-redis", action="store_true", help="to the Redis of SOCKETLAB_REDIS (never in argv)")
    parser.add_argument("--dashboard", default="")
    parser.add_argument("--ready-fd", type=int, default=-1, help="written to (and closed) once this courier is up")
    options = parser.parse_args(argv)
    given = CourierConfig.from_env(environment())
    bus = EventBus(capacity=CAPACITY, pinned=5_000)
    delivery: Delivery
    if options.over_redis:
        from .delivery import RedisDelivery
        delivery = RedisDelivery(bus, options.name, given.redis, options.program, options.pid)
    else:
        from .posting import HttpDelivery
        delivery = HttpDelivery(bus, options.name, options.dashboard, given.token)
    delivery.start()
    if options.ready_fd >= 0:  # the program waits for this before it starts
        os.write(options.ready_fd, b"1")
        os.close(options.ready_fd)
    try:
        read_frames(sys.stdin.buffer, bus)
    finally:
        delivery.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
