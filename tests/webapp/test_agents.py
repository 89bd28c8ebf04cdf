"""A dashboard over lab agents (webapp/agents.py), with real agents and a real redis-server.

The agents run in this process (agent.agent.Agent, each with its own Lab): the Redis traffic, the
streams, the commands and the 5 s bound are real; killing processes and cutting links is in
tests/many_hosts/.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import orjson
import pytest
import redis

from agent.agent import Agent
from lab import Lab
from webapp import create_app, shutdown

from ..redis_server import RedisServer
from ..support import Resources, wait_until


def make_agent(server: RedisServer, tmp_path: Path, name: str) -> Agent:
    lab = Lab(tmp_path / name / "files", tmp_path / name / "downloads", id_suffix=f"@{name}")
    agent = Agent(name, server.url, lab)
    agent.start()
    return agent


@pytest.fixture
def room(redis_server: RedisServer, tmp_path: Path, resources: Resources) -> Iterator[dict[str, Any]]:
    agents = {name: make_agent(redis_server, tmp_path, name) for name in ("pc1", "pc2")}
    app = create_app({"TESTING": True, "REDIS": redis_server.url})
    client = app.test_client()
    wait_until(lambda: len([a for a in client.get("/api/agents").get_json() if a["state"] == "up"]) == 2, 5)
    yield {"app": app, "client": client, "agents": agents, "redis": redis_server}
    shutdown(app)
    for agent in agents.values():
        if not agent.stopping.is_set():
            agent.stop()
        agent.lab.close()
    wait_until(lambda: not resources.new_threads(), 10)


def events(client: Any, **match: Any) -> list[dict[str, Any]]:
    found = client.get("/api/events?after=0&limit=10000").get_json()["events"]
    return [e for e in found if all(e.get(k) == v for k, v in match.items())]


def test_every_route_works_on_agents_with_ids_unique_across_them(room: dict[str, Any]) -> None:
    c = room["client"]
    server = c.post("/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo", "agent": "pc1"})
    assert server.status_code == 201 and server.get_json()["id"] == "e1@pc1"
    port = server.get_json()["local"][1]
    client = c.post("/api/endpoints", json={"kind": "tcp-client", "port": port, "agent": "pc2"}).get_json()
    assert client["id"] == "e1@pc2"  # each agent numbers its own; the suffix keeps them apart
    assert c.post(f"/api/endpoints/{client['id']}/send", json={"data": "hello"}).get_json() == {"sent": 5}
    wait_until(lambda: events(c, kind="recv", endpoint="e1@pc2"), 5)
    assert sorted(e["id"] for e in c.get("/api/endpoints").get_json()) == ["e1@pc1", "e1@pc2"]
    assert "socket.socket" in c.get("/api/endpoints/e1@pc1/code").get_json()["python"]
    conn = wait_until(lambda: c.get("/api/endpoints/e1@pc1").get_json()["connections"], 5)[0]["id"]
    assert c.delete(f"/api/endpoints/e1@pc1/connections/{conn}").status_code == 200
    assert c.post("/api/endpoints/e1@pc1/stop-listening").get_json()["state"] != "listening"
    for e in events(c):
        assert e["kind"] == "agent" or e["agent"] in ("pc1", "pc2") and isinstance(e["agent_seq"], int)
    recv = events(c, kind="recv", endpoint="e1@pc1")[0]
    assert recv["agent"] == "pc1" and recv["data"] == "hello"
    assert c.delete("/api/endpoints/e1@pc2").status_code == 200
    assert c.get("/api/endpoints/e1@pc2").status_code == 404  # the agent's own sentence, through Redis
    counts = lambda: {a["name"]: a["endpoints"] for a in c.get("/api/agents").get_json()}  # noqa: E731
    wait_until(lambda: counts() == {"pc1": 1, "pc2": 0}, 5)  # (from the agents' state events, as they arrive)


def test_a_download_and_its_file_cross_redis(room: dict[str, Any]) -> None:
    c = room["client"]
    files = c.get("/api/files?agent=pc1").get_json()
    small = min(files, key=lambda f: f["size"])
    server = c.post("/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "files", "protocol": "framed",
                                            "agent": "pc1"}).get_json()
    download = c.post("/api/downloads", json={"host": "127.0.0.1", "port": server["local"][1], "file": small["name"],
                                              "protocol": "framed", "agent": "pc2"})
    assert download.status_code == 202
    dl_id = download.get_json()["id"]
    wait_until(lambda: c.get(f"/api/downloads/{dl_id}").get_json()["state"] == "done", 10)
    saved = c.get(f"/api/downloads/{dl_id}/file")
    assert saved.status_code == 200 and len(saved.data) == small["size"]


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"kind": "udp-server", "port": 0}, 409, "agent-needed"),
    ({"kind": "udp-server", "port": 0, "agent": "nobody"}, 404, "no-such-agent"),
    ({"kind": "udp-server", "port": 0, "agent": "<script>" * 20}, 404, "no-such-agent"),
])
def test_choosing_an_agent_is_said_in_a_sentence(room: dict[str, Any], body: dict[str, Any], status: int, code: str) -> None:
    answer = room["client"].post("/api/endpoints", json=body)
    assert answer.status_code == status and answer.get_json()["code"] == code


def test_an_agent_that_stops_is_down_and_its_routes_answer_409(room: dict[str, Any]) -> None:
    c = room["client"]
    made = c.post("/api/endpoints", json={"kind": "udp-server", "port": 0, "agent": "pc2"}).get_json()
    t0 = time.monotonic()
    room["agents"]["pc2"].stop()
    wait_until(lambda: events(c, kind="agent", agent="pc2")[-1]["args"]["event"] == "down", 3.5)
    down = time.monotonic() - t0
    answer = c.get(f"/api/endpoints/{made['id']}")
    assert answer.status_code == 409 and answer.get_json()["code"] == "agent-down" and "pc2" in answer.get_json()["error"]
    assert {a["name"]: a["state"] for a in c.get("/api/agents").get_json()} == {"pc1": "up", "pc2": "down"}
    print(f"down after {down:.2f} s")


def test_an_agent_that_never_answers_is_a_sentence_within_five_seconds(room: dict[str, Any]) -> None:
    r = redis.Redis.from_url(room["redis"].url)
    r.set("hb:ghost", orjson.dumps({"name": "ghost", "host": "nowhere", "boot_ms": 1}), px=20_000)
    c = room["client"]
    wait_until(lambda: any(a["name"] == "ghost" for a in c.get("/api/agents").get_json()), 3)
    t0 = time.monotonic()
    answer = c.post("/api/endpoints", json={"kind": "udp-server", "port": 0, "agent": "ghost"})
    took = time.monotonic() - t0
    assert answer.status_code == 409 and answer.get_json()["code"] == "agent-timeout"
    assert took < 6  # 5 s bound, plus this machine's noise
    r.delete("hb:ghost")
    r.close()


@pytest.mark.parametrize("entry", [b"not json", b"x" * (1 << 20), orjson.dumps({"kind": "nope", "seq": 1}),
                                   orjson.dumps({"kind": "send", "seq": 1, "endpoint": "e1", "ts": 1, "agent": "pc2"}),
                                   orjson.dumps([1, 2, 3]), b""])
def test_a_hostile_stream_entry_is_counted_and_skipped(room: dict[str, Any], entry: bytes) -> None:
    r = redis.Redis.from_url(room["redis"].url)
    r.xadd("ev:pc1", {"e": entry})  # (an auto id: after the agent's own, as anyone with Redis access could)
    r.xadd("ev:pc1", {"wrong": b"field"})
    r.close()
    hub = room["app"].extensions["socketlab_labs"].hub
    wait_until(lambda: hub.skipped >= 2, 10)
    c = room["client"]
    made = c.post("/api/endpoints", json={"kind": "udp-server", "port": 0, "agent": "pc1"}).get_json()
    wait_until(lambda: events(c, kind="listen", endpoint=made["id"]), 10)  # relaying goes on


def test_a_second_dashboard_sees_the_same_events_each_once(room: dict[str, Any]) -> None:
    other = create_app({"TESTING": True, "REDIS": room["redis"].url})
    try:
        c1, c2 = room["client"], other.test_client()
        c1.post("/api/endpoints", json={"kind": "udp-server", "port": 0, "agent": "pc1"})
        wait_until(lambda: events(c2, kind="listen", agent="pc1"), 5)
        seen1 = [(e["agent"], e["agent_seq"]) for e in events(c1) if e["kind"] != "agent"]
        seen2 = [(e["agent"], e["agent_seq"]) for e in events(c2) if e["kind"] != "agent"]
        assert len(set(seen2)) == len(seen2) and set(seen2) <= set(seen1) | set(seen2)
        assert [s for s in seen1 if s in set(seen2)] == [s for s in seen2 if s in set(seen1)]  # same order
    finally:
        shutdown(other)


def test_resume_gives_what_a_page_missed_once(room: dict[str, Any]) -> None:
    c = room["client"]
    made = c.post("/api/endpoints", json={"kind": "udp-server", "port": 0, "agent": "pc1"}).get_json()
    c.post("/api/endpoints", json={"kind": "udp-client", "port": made["local"][1], "agent": "pc1"})
    mine = wait_until(lambda: [e for e in events(c, agent="pc1") if e["kind"] != "agent"], 5)
    middle = mine[len(mine) // 2]["agent_seq"]
    answer = c.get(f'/api/events?after=0&resume={{"pc1": {middle}}}').get_json()
    rest = [e["agent_seq"] for e in answer["events"] if e.get("agent") == "pc1" and e["kind"] != "agent"]
    assert rest == [e["agent_seq"] for e in mine if e["agent_seq"] > middle] and answer["boot"]
    assert c.get("/api/events?after=0&resume=[1]").status_code == 400
    for hostile in ('{"pc1": [1]}', '{"pc1": [true, 1]}', '{"pc1": "1"}', '{"pc1": [1, 2, 3]}', '{"pc1": [1, "x"]}'):
        assert c.get(f"/api/events?after=0&resume={hostile}").status_code == 400, hostile


def test_resume_keeps_the_events_of_an_agent_that_restarted_meanwhile(room: dict[str, Any], tmp_path: Path) -> None:
    """pc1 restarts (its seqs begin at 1 again, later in time): a page that saw its old run up to seq N
    gets every event of the new run, even those numbered N or below."""
    c = room["client"]
    made = c.post("/api/endpoints", json={"kind": "udp-server", "port": 0, "agent": "pc1"}).get_json()
    for _ in range(3):
        c.post("/api/endpoints", json={"kind": "udp-client", "port": made["local"][1], "agent": "pc1"})
    old_run = wait_until(lambda: [e for e in events(c, agent="pc1") if e["kind"] not in ("agent", "stage")], 5)
    last = old_run[-1]
    old = room["agents"]["pc1"]
    old.stop()
    old.lab.close()
    room["agents"]["pc1"] = make_agent(room["redis"], tmp_path / "again", "pc1")
    wait_until(lambda: [a["state"] for a in c.get("/api/agents").get_json()] == ["up", "up"], 5)
    c.post("/api/endpoints", json={"kind": "udp-server", "port": 0, "agent": "pc1"})
    new_run = wait_until(lambda: [e for e in events(c, agent="pc1") if e["ts"] > last["ts"] and e["kind"] == "listen"
                                  and e["agent_seq"] is not None and e["agent_seq"] <= last["agent_seq"]], 5)
    answer = c.get(f'/api/events?after=0&resume={{"pc1": [{last["agent_seq"]}, {last["ts"]}]}}').get_json()
    kept = {(e["agent_seq"], e["ts"]) for e in answer["events"] if e.get("agent") == "pc1"}
    assert {(e["agent_seq"], e["ts"]) for e in new_run} <= kept
    assert not {(e["agent_seq"], e["ts"]) for e in old_run} & kept  # the old run: shown before


def test_a_lesson_runs_on_the_chosen_agent(room: dict[str, Any]) -> None:
    c = room["client"]
    stage = c.post("/api/stage", json={"lesson": 1, "agent": "pc2"})
    assert stage.status_code == 201, stage.get_json()
    ids = stage.get_json()["lesson"]["ids"]
    assert ids["server"].endswith("@pc2")
    assert c.post("/api/stage/actions/sendHello").status_code == 200
    wait_until(lambda: events(c, kind="recv", endpoint=ids["client"]), 5)


@pytest.mark.parametrize(("body", "code"), [
    ({"kind": "tcp-server", "port": 0, "link": {"rate_kbit": 10**40}}, "number-too-large"),
    ({"kind": "udp-server", "port": 0, "impair": {"seed": -2**63 - 1}}, "number-too-large"),
    ({"kind": "tcp-server", "port": 2**64}, "number-too-large"),
    ({"kind": "tcp-server", "port": 0, "reply": "\ud800"}, "json-not-encodable"),  # (orjson cannot write it)
])
def test_what_an_agent_cannot_be_sent_is_a_sentence(room: dict[str, Any], body: dict[str, Any], code: str) -> None:
    answer = room["client"].post("/api/endpoints", json={**body, "agent": "pc1"})
    assert answer.status_code == 400 and answer.get_json()["code"] == code, answer.get_json()
    assert room["client"].get("/api/health").status_code == 200


def test_a_program_cannot_post_under_a_lab_agents_name(room: dict[str, Any]) -> None:
    """Its lanes would be taken for that lab's: 409 with a sentence, nothing relayed; its own name works."""
    c = room["client"]
    event = {"seq": 1, "ts": 1.0, "endpoint": "s1@pc1", "kind": "setup", "agent": "pc1", "call": "socket"}
    refused = c.post("/api/traces/pc1/events", json={"boot": 1, "events": [event]})
    assert refused.status_code == 409 and refused.get_json()["code"] == "trace-name-is-agent"
    assert not events(c, endpoint="s1@pc1")
    ok = c.post("/api/traces/ann/events", json={"boot": 1, "events": []})
    assert ok.status_code == 200
