"""Whoever can write to Redis, against a dashboard over one lab agent: a real redis-server, a real agent
(agent.agent.Agent in this process) and the dashboard's bridge (webapp/agents.py). Each test performs
the attack through Redis, as any host holding the password could, and checks what the pages get."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

import orjson
import pytest
import redis

from agent.shipper import MAX_ENTRY_BYTES
from webapp import create_app, shutdown
from webapp.agents import MAX_AGENTS

from ..redis_server import RedisServer
from ..support import Resources, wait_until
from .test_agents import make_agent


@pytest.fixture
def one(redis_server: RedisServer, tmp_path: Path, resources: Resources) -> Iterator[dict[str, Any]]:
    agent = make_agent(redis_server, tmp_path, "pc1")
    app = create_app({"TESTING": True, "REDIS": redis_server.url})
    client = app.test_client()
    wait_until(lambda: [a["name"] for a in client.get("/api/agents").get_json()] == ["pc1"], 5)
    r = redis.Redis.from_url(redis_server.url)
    yield {"app": app, "client": client, "agent": agent, "r": r, "hub": app.extensions["socketlab_labs"].hub}
    r.close()
    shutdown(app)
    agent.stop()
    agent.lab.close()
    wait_until(lambda: not resources.new_threads(), 10)


def forged(kind: str, endpoint: str = "", **fields: Any) -> bytes:
    body = {"seq": 1, "ts": time.time(), "endpoint": endpoint, "conn": None, "proto": "", "kind": kind, "local": None,
            "peer": None, "size": 0, "data": None, "hex": None, "detail": "EXAM CANCELLED - go home", "call": None,
            "args": None, "result": None, "closed_by": None, "errno": None, "code": None, "params": None,
            "message": None, "framing": None, "state": None, "agent": "pc1"}
    return json.dumps({**body, **fields}).encode()  # (not orjson: it cannot write the 2**70 below)


def events(client: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get("/api/events?after=0&limit=10000").get_json()["events"]
    return found


def test_an_agents_stream_carries_only_what_an_agent_may_say_about_its_own_sockets(one: dict[str, Any]) -> None:
    lesson = {"stage": 99, "lesson": {"title": "EXAM CANCELLED - go home"}, "names": {}}
    hostile = [forged("stage", params=lesson), forged("classroom", params=lesson),
               forged("send", "e1@pc2"),  # another agent's socket
               forged("send", "e1"),  # the embedded lab's numbering, no agent's
               forged("send", ""),  # a socket call about no socket
               forged("send", "e1@pc1", seq=2**70)]  # (orjson reads it as a float: not an event)
    for entry in hostile:
        one["r"].xadd("ev:pc1", {"e": entry})
    wait_until(lambda: one["hub"].skipped >= len(hostile), 10)
    c = one["client"]
    made = c.post("/api/endpoints", json={"kind": "udp-server", "port": 0})  # the one agent up: no "agent" needed
    assert made.status_code == 201
    wait_until(lambda: any(e["kind"] == "listen" for e in events(c)), 5)  # the agent's own events still flow
    assert not [e for e in events(c) if "EXAM" in str(e)]
    assert not [e for e in events(c) if e["kind"] in ("stage", "classroom") and e.get("agent")]
    assert one["hub"].refused["entry-not-the-agents"] >= 5
    assert c.get("/api/stats").get_json()["skipped_entries"] >= len(hostile)


def test_ten_thousand_big_entries_are_refused_and_counted(one: dict[str, Any]) -> None:
    hub, r, c = one["hub"], one["r"], one["client"]
    big = forged("recv", "e1@pc1", data="x" * 60_000)
    assert MAX_ENTRY_BYTES < len(big) < 64 << 10  # under the old cap, over the new one
    before = hub.bus.last_seq
    for round_ in range(10):  # (1,000 at a time, trimmed once read: Redis holds 60 MB, not 600)
        pipe = r.pipeline(transaction=False)
        for _ in range(1000):
            pipe.xadd("ev:pc1", {"e": big})
        pipe.execute()
        wait_until(lambda n=round_: hub.refused["entry-too-large"] >= (n + 1) * 1000, 30)
        r.xtrim("ev:pc1", maxlen=0)
    assert hub.refused["entry-too-large"] == 10_000
    assert hub.bus.last_seq - before < 100  # none of them in the dashboard's buffer (a few events of its own)
    assert c.get("/api/health").status_code == 200
    assert c.get("/api/stats").get_json()["skipped_entries"] >= 10_000


def test_heartbeats_under_junk_names_are_never_listed(one: dict[str, Any]) -> None:
    r, c = one["r"], one["client"]
    junk = ["<img src=x onerror=alert(1)>", "x" * 5000, "pc1 ", "", "pc1\n", "ünïcode"]
    for name in junk:
        r.set(f"hb:{name}", orjson.dumps({"name": name, "host": "nowhere", "boot_ms": 1}), px=30_000)
        r.xadd(f"ev:{name}", {"e": forged("send", f"e1@{name}", agent=name)})
    wait_until(lambda: one["hub"].refused["heartbeat-name"] >= len(junk), 5)
    wait_until(lambda: one["hub"].refused["stream-name"] >= len(junk), 5)
    assert [a["name"] for a in c.get("/api/agents").get_json()] == ["pc1"]
    made = c.post("/api/endpoints", json={"kind": "udp-server", "port": 0})  # no "agent": pc1 is the only one
    assert made.status_code == 201, made.get_json()
    ghost = c.post("/api/endpoints", json={"kind": "udp-server", "port": 0, "agent": "pc1 "})
    assert ghost.status_code == 404 and ghost.get_json()["code"] == "no-such-agent"  # at once, not after 5 s
    assert not [e for e in events(c) if e.get("agent") not in (None, "pc1")]
    skipped, polls = one["hub"].skipped, one["hub"].heartbeat_polls
    wait_until(lambda: one["hub"].heartbeat_polls >= polls + 2, 5)  # a junk key is counted once, not every poll
    assert one["hub"].skipped == skipped


def test_at_most_max_agents_are_listed(one: dict[str, Any]) -> None:
    r, c = one["r"], one["client"]
    pipe = r.pipeline(transaction=False)
    for i in range(MAX_AGENTS + 50):
        pipe.set(f"hb:ghost{i}", orjson.dumps({"name": f"ghost{i}", "host": "h" * 10_000, "boot_ms": 1}), px=30_000)
    pipe.execute()
    wait_until(lambda: one["hub"].refused["heartbeat-too-many"] >= 51, 10)
    wait_until(lambda: len(c.get("/api/agents").get_json()) >= MAX_AGENTS, 5)  # (counted in the poll that lists)
    listed = c.get("/api/agents").get_json()
    assert len(listed) == MAX_AGENTS and "pc1" in {a["name"] for a in listed}  # the one listed first keeps its place
    assert max(len(a["host"]) for a in listed) <= 100
