"""Redis away while the lab keeps recording: SIGSTOPped (it takes connections and never answers),
and killed then restarted empty. The lab's bus is the agent's outage buffer."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import redis

from agent import Agent
from lab import Lab
from lab.events.bus import EventBus

from ..redis_server import RedisServer
from ..support import wait_until
from .conftest import NAME
from .helpers import call, stream
from .test_agent import ECHO, echo_round_trips

OUTAGE_SECONDS = 5.0  # the outage the issue names (the scenario's length, not a wait for something)
BUS_SHARE = 6000  # events recorded during it: well inside the bus's 10,000


def assert_every_event_once_in_order(r: redis.Redis, agent: Agent, lab: Lab) -> None:
    last = lab.bus.last_seq
    wait_until(lambda: r.xlen(f"ev:{NAME}") >= last, timeout=15)
    entries = stream(r, NAME)
    assert [entry_id for entry_id, _ in entries] == [f"{agent.boot_ms}-{seq}" for seq in range(1, last + 1)]
    assert [e["seq"] for _, e in entries] == list(range(1, last + 1))


def test_redis_stopped_for_5_s_loses_and_duplicates_nothing(redis_server: RedisServer, agent: Agent, agent_lab: Lab,
                                                            r: redis.Redis) -> None:
    server = agent_lab.create(ECHO)
    echo_round_trips(server.local[1], 5)
    wait_until(lambda: r.xlen(f"ev:{NAME}") == agent_lab.bus.last_seq)
    before = agent_lab.bus.last_seq
    redis_server.pause()
    try:
        ends = time.monotonic() + OUTAGE_SECONDS
        rounds = 0
        # The lab works on while Redis is frozen, within what its bus holds (10,000 events; beyond that
        # events are dropped and counted, the test below); then the outage lasts out its 5 s.
        while time.monotonic() < ends and agent_lab.bus.last_seq - before < BUS_SHARE:
            echo_round_trips(server.local[1], 10)
            rounds += 1
        threading.Event().wait(max(0.0, ends - time.monotonic()))  # (the scenario's length, not a sync)
        assert agent.shipper.outage.since is not None, "the shipper did not notice the outage"
    finally:
        redis_server.resume()
    assert agent_lab.bus.last_seq > before + rounds * 20
    assert_every_event_once_in_order(r, agent, agent_lab)
    wait_until(lambda: agent.shipper.outage.since is None)
    assert agent.shipper.dropped == 0
    ok, _ = call(r, NAME, "files.list")  # commands work again too
    assert ok


def test_redis_restarted_empty_gets_group_heartbeat_and_new_events_back(redis_server: RedisServer, agent: Agent,
                                                                       agent_lab: Lab, r: redis.Redis) -> None:
    server = agent_lab.create(ECHO)
    echo_round_trips(server.local[1], 3)
    wait_until(lambda: r.xlen(f"ev:{NAME}") == agent_lab.bus.last_seq)
    shipped_before = agent_lab.bus.last_seq
    redis_server.restart_empty()  # what the old Redis held (ev:, cmd:, the group, hb:) is gone with it
    r.connection_pool.reset()
    echo_round_trips(server.local[1], 3)
    wait_until(lambda: r.exists(f"hb:{NAME}"), timeout=10)
    ok, listed = call(r, NAME, "endpoints.list")  # the group exists again, at 0, so this is read
    assert ok and [e["id"] for e in listed] == [f"e1@{NAME}"]
    assert agent.inbox.groups_created == 2
    last = agent_lab.bus.last_seq
    wait_until(lambda: stream(r, NAME) and stream(r, NAME)[-1][1]["seq"] == last, timeout=10)
    # Everything recorded after the restart is there, once, in order; what was shipped before it was lost
    # with that Redis, and is not sent again (dashboards read on from the ids they had).
    seqs = [e["seq"] for _, e in stream(r, NAME)]
    assert seqs == list(range(shipped_before + 1, last + 1))


def test_what_the_bus_drops_during_an_outage_is_counted_in_one_agent_event(
        redis_server: RedisServer, folders: dict[str, Path], r: redis.Redis) -> None:
    lab = Lab(folders["files"], folders["downloads"], bus=EventBus(capacity=50, pinned=10), id_suffix=f"@{NAME}")
    try:
        with Agent(NAME, redis_server.url, lab) as running:
            redis_server.pause()
            try:
                for i in range(300):  # data events, not pinned: the ring keeps the last 50
                    lab.bus.publish(f"e1@{NAME}", "recv", payload=f"{i}".encode(), size=len(f"{i}"))
                wait_until(lambda: running.shipper.outage.since is not None, timeout=10)
            finally:
                redis_server.resume()
            wait_until(lambda: running.shipper.sent == 300, timeout=15)
            entries = stream(r, NAME)
            markers = [e for _, e in entries if e["kind"] == "agent"]
            data = [e for _, e in entries if e["kind"] == "recv"]
            assert len(markers) >= 1 and all(m["args"]["event"] == "dropped" for m in markers)
            # every seq is in the stream, or counted in a marker: none lost silently, none twice
            assert sum(m["args"]["count"] for m in markers) + len(data) == 300
            assert len({e["seq"] for e in data}) == len(data)
            ids = [entry_id for entry_id, _ in entries]
            assert ids == sorted(ids, key=lambda i: int(i.split("-")[1])) and len(set(ids)) == len(ids)
            assert running.shipper.dropped == sum(m["args"]["count"] for m in markers)
    finally:
        lab.close()
