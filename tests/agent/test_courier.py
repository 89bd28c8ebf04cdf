"""The agent's courier: its lab's events encoded and shipped by a process of its own, from what the
lab's process forwarded; a gap the lab's bus left is one `agent` "dropped" event, where it is."""

from __future__ import annotations

import os
import threading
import time

import redis

from agent import Agent
from agent.courier import Held
from agent.shipper import Shipper
from lab import Lab
from lab.events.bus import Event

from ..redis_server import RedisServer
from ..support import wait_until
from .conftest import NAME
from .helpers import stream
from .test_agent import ECHO, echo_round_trips


def event(seq: int, kind: str = "recv") -> Event:
    return Event(seq, time.time(), "e1", "c1", "tcp", kind, None, None, 1, b"x", f"event {seq}")


def test_held_gives_events_up_to_each_gap_and_counts_the_gap_where_it_is() -> None:
    held = Held(capacity=100)
    held.add([event(s) for s in (1, 2, 3, 7, 8, 10)])  # the lab's bus let 4-6 and 9 go before they were forwarded
    assert [([e.seq for e in found], dropped) for found, dropped in
            (held.since(0), held.since(3), held.since(8), held.since(10))] == [
        ([1, 2, 3], 0), ([7, 8], 3), ([10], 1), ([], 0)]
    assert [e.seq for e in held.since(0, limit=2)[0]] == [1, 2]
    assert held.last_seq == 10


def test_held_keeps_the_newest_and_counts_the_oldest_that_left() -> None:
    held = Held(capacity=3)
    held.add([event(s) for s in range(1, 7)])
    found, dropped = held.since(0)
    assert [e.seq for e in found] == [4, 5, 6] and dropped == 3


def test_the_gaps_become_dropped_events_in_the_stream(r: redis.Redis) -> None:
    held = Held(capacity=100)
    held.add([event(s) for s in (1, 2, 5, 6)])
    shipper = Shipper(r, held, "gappy", 1000, threading.Event())
    while shipper.ship_once():
        pass
    entries = stream(r, "gappy")
    assert [(entry_id, e["kind"]) for entry_id, e in entries] == [
        ("1000-1", "recv"), ("1000-2", "recv"), ("1000-3", "agent"), ("1000-5", "recv"), ("1000-6", "recv")]
    assert entries[2][1]["args"] == {"event": "dropped", "count": 2}
    assert shipper.sent == 6 and shipper.dropped == 2


def test_the_agents_events_are_encoded_in_another_process(agent: Agent, agent_lab: Lab, r: redis.Redis) -> None:
    server = agent_lab.create(ECHO)
    echo_round_trips(server.local[1], 10)
    wait_until(lambda: any(e.kind == "close" for e in agent_lab.bus.since(0, 10_000)[0]))
    last = agent_lab.bus.last_seq
    wait_until(lambda: r.xlen(f"ev:{NAME}") >= last and agent.shipper.sent == last)
    courier = agent.shipper._proc
    assert courier is not None and courier.pid != os.getpid() and courier.poll() is None
    assert not any(t.name.startswith("agent-ship-") for t in threading.enumerate())  # (no shipper in this process)
    assert [e["seq"] for _, e in stream(r, NAME)] == list(range(1, last + 1))


def test_a_courier_that_dies_is_replaced_and_nothing_is_lost_or_written_twice(
        agent: Agent, agent_lab: Lab, r: redis.Redis) -> None:
    server = agent_lab.create(ECHO)
    echo_round_trips(server.local[1], 5)
    wait_until(lambda: agent.shipper.sent == agent_lab.bus.last_seq > 0)
    first = agent.shipper._proc
    assert first is not None
    first.kill()  # (the courier alone: the lab and the agent go on)
    first.wait()
    echo_round_trips(server.local[1], 5)  # recorded while no courier runs
    wait_until(lambda: agent.shipper.restarts == 1, timeout=15)
    echo_round_trips(server.local[1], 5)
    wait_until(lambda: any(e.kind == "close" for e in agent_lab.bus.since(0, 10_000)[0][-3:]))
    last = agent_lab.bus.last_seq
    wait_until(lambda: agent.shipper.sent == last, timeout=15)
    entries = stream(r, NAME)
    assert [entry_id for entry_id, _ in entries] == [f"{agent.boot_ms}-{seq}" for seq in range(1, last + 1)]
    assert [e["seq"] for _, e in entries] == list(range(1, last + 1))
    assert not [e for _, e in entries if e["kind"] == "agent"]  # nothing the bus let go: no "dropped"


def test_an_agent_may_ship_from_its_own_process(redis_server: RedisServer, agent_lab: Lab, r: redis.Redis) -> None:
    with Agent(NAME, redis_server.url, agent_lab, courier=False) as running:
        server = agent_lab.create(ECHO)
        echo_round_trips(server.local[1], 5)
        wait_until(lambda: any(e.kind == "close" for e in agent_lab.bus.since(0, 10_000)[0]))
        last = agent_lab.bus.last_seq
        wait_until(lambda: running.shipper.sent == last)
        assert any(t.name == f"agent-ship-{NAME}" for t in threading.enumerate())
    assert [e["seq"] for _, e in stream(r, NAME)] == list(range(1, last + 1))
