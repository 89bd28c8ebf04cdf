"""The dashboard's list of agents read by request threads while the heartbeat thread changes it.

The heartbeat thread adds agents as their `hb:<name>` keys appear, marks them down as the keys go, and
forgets the one down longest when the list is full; request threads meanwhile list them (`up()` for
every command, `/api/agents`). A dict changed during an iteration raises "dictionary changed size
during iteration", which a request would answer as an error.
"""

from __future__ import annotations

import sys
import threading
from typing import Iterator

import orjson
import pytest

from agent.redisconn import connect
from webapp.agents import MAX_AGENTS, AgentLabs

from ..redis_server import RedisServer
from ..support import wait_until

ROUNDS = 8  # heartbeat polls with new names in each (a poll every 0.5 s)
PER_ROUND = 60  # so that after a few rounds the list is full and the oldest down agents are forgotten


@pytest.fixture
def tiny_switch_interval() -> Iterator[None]:
    """Threads take turns every microsecond instead of every 5 ms: the interleavings a loaded
    classroom server meets now and then happen in every run."""
    saved = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(saved)


def test_listing_agents_while_heartbeats_change_the_list(redis_server: RedisServer, tiny_switch_interval: None) -> None:
    labs = AgentLabs(redis_server.url)
    writer = connect(redis_server.url, socket_timeout=5)
    failures: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                labs.hub.up()
                labs.agents()
            except Exception as exc:  # noqa: BLE001  (what a request thread would have met)
                failures.append(exc)
                return

    readers = [threading.Thread(target=read, name=f"reader-{i}") for i in range(4)]
    for thread in readers:
        thread.start()
    try:
        previous: list[str] = []
        for round_ in range(ROUNDS):
            names = [f"pc{round_}-{i}" for i in range(PER_ROUND)]
            with writer.pipeline() as pipe:
                for name in previous:
                    pipe.delete(f"hb:{name}")  # those agents go down
                for name in names:
                    pipe.set(f"hb:{name}", orjson.dumps({"host": name, "boot_ms": round_}), px=60_000)
                pipe.execute()
            previous = names
            polls = labs.hub.heartbeat_polls
            wait_until(lambda polls=polls: labs.hub.heartbeat_polls >= polls + 2 or failures, 10)  # (a whole poll saw them)
            if failures:
                break
    finally:
        done.set()
        for thread in readers:
            thread.join(10)
        labs.close()
        writer.close()
    assert not failures, f"a reader met {failures[0]!r}"
    assert len(labs.hub.agents) <= MAX_AGENTS
    assert set(labs.hub.up()) <= set(previous)  # (the older rounds' agents are down)
