"""Faults in a lab room of namespace hosts (tests/many_hosts/cluster.py): agents killed or cut off, Redis
frozen or lost, the dashboard killed, hostile stream entries. Each measures and prints its times.

The periodic sends (POST /send with repeat and interval_ms) keep an agent's lab recording events while
the fault lasts, so "nothing lost" is checked on events that were really in flight.
"""

from __future__ import annotations

import json
import time
from functools import partial
from typing import Any

import orjson
import pytest

from ..support import EventCollector, Resources, wait_until
from .cluster import Api, Room, agent_events, check_once_in_order

DOWN_SECONDS = 3.5  # an agent that died is shown down within this
ROUTE_SECONDS = 5.0  # and its routes answer 409 within this, counted from its death
PAYLOAD = "tick"


def echo_pair(room: Room, api: Api) -> tuple[str, str]:
    """An echo server on h2's LAN address and a client on h3 connected to it: (server id, client id)."""
    server = api.create(agent="h2", kind="tcp-server", host=room.address("h2"), port=0, mode="echo")
    client = api.create(agent="h3", kind="tcp-client", host=room.address("h2"), port=server["local"][1])
    return server["id"], client["id"]


def tick(api: Api, client: str, count: int, interval_ms: int) -> None:
    answer = api.post(f"/api/endpoints/{client}/send", {"data": PAYLOAD, "repeat": count, "interval_ms": interval_ms})
    assert answer.status_code == 200, answer.text


def all_echoed(api: Api, client: str, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Wait until the dashboard holds every send of `client` and every echoed byte; returns its events."""
    def done() -> list[dict[str, Any]] | None:
        events = api.events()
        sends = [e for e in events if e["kind"] == "send" and e["endpoint"] == client]
        echoed = sum(e["size"] for e in events if e["kind"] == "recv" and e["endpoint"] == client)
        return events if len(sends) == count and echoed == count * len(PAYLOAD) else None

    found: list[dict[str, Any]] = wait_until(done, timeout, 0.2)
    return found


def caught_up(collector: EventCollector, name: str, last: int) -> bool:
    return agent_events(collector.events, name)[-1:] == [last]


def shown_down(api: Api, collector: EventCollector, name: str, since: float) -> float:
    """Seconds from `since` until GET /api/agents says down and the Socket.IO client got the `agent` down event."""
    wait_until(lambda: api.agents()[name]["state"] == "down", DOWN_SECONDS + 2, 0.05)
    wait_until(lambda: [e for e in collector.find(kind="agent", agent=name) if e["args"]["event"] == "down"],
               DOWN_SECONDS + 2, 0.05)
    return time.monotonic() - since


def refused_for_down(api: Api, endpoint: str, since: float) -> float:
    """Every route of `endpoint` answers 409 agent-down; returns seconds from `since` to the last answer."""
    for method, path, body in (("GET", f"/api/endpoints/{endpoint}", None),
                               ("POST", f"/api/endpoints/{endpoint}/send", {"data": "x"}),
                               ("DELETE", f"/api/endpoints/{endpoint}", None)):
        answer = api.http.request(method, api.url + path, json=body, timeout=10)
        assert answer.status_code == 409 and answer.json()["code"] == "agent-down", (method, path, answer.text)
        assert "h2" in answer.json()["error"]  # the sentence names the agent
    return time.monotonic() - since


def test_an_agent_killed_with_sigkill_is_down_within_3_5_s_and_its_routes_answer_409(room: Room) -> None:
    for name in ("h2", "h3"):
        room.start_agent(name)
    dash, api = room.start_dashboard()
    room.wait_up(api, "h2", "h3")
    server, _ = echo_pair(room, api)
    collector = EventCollector(dash.url)
    try:
        killed = time.monotonic()
        room.kill_agent("h2")
        down = shown_down(api, collector, "h2", killed)
        refused = refused_for_down(api, server, killed)
        print(f"\nSIGKILL: down after {down:.2f} s, routes 409 after {refused:.2f} s")
        assert down <= DOWN_SECONDS and refused <= ROUTE_SECONDS
        assert api.agents()["h3"]["state"] == "up"  # the others go on
    finally:
        collector.close()


def test_an_agent_whose_link_is_cut_is_down_within_3_5_s_and_back_when_the_link_is(room: Room) -> None:
    for name in ("h2", "h3"):
        room.start_agent(name)
    dash, api = room.start_dashboard()
    room.wait_up(api, "h2", "h3")
    server, _ = echo_pair(room, api)
    collector = EventCollector(dash.url)
    try:
        cut = time.monotonic()
        room.link("h2", up=False)  # the agent lives on, but Redis (on h1) is out of its reach
        down = shown_down(api, collector, "h2", cut)
        refused = refused_for_down(api, server, cut)
        print(f"\nlink cut: down after {down:.2f} s, routes 409 after {refused:.2f} s")
        assert down <= DOWN_SECONDS and refused <= ROUTE_SECONDS
        mended = time.monotonic()
        room.link("h2", up=True)
        room.wait_up(api, "h2")
        assert api.get(f"/api/endpoints/{server}").status_code == 200  # its lab kept the endpoint all along
        print(f"link mended: up again after {time.monotonic() - mended:.2f} s")
    finally:
        collector.close()


def test_redis_stopped_for_5_s_loses_and_repeats_nothing(room: Room) -> None:
    count = 160
    for name in ("h2", "h3"):
        room.start_agent(name)
    dash, api = room.start_dashboard()
    room.wait_up(api, "h2", "h3")
    _, client = echo_pair(room, api)
    collector = EventCollector(dash.url)
    try:
        tick(api, client, count, 50)  # 8 s of sends and echoes, the outage in the middle
        wait_until(lambda: len(collector.find(kind="send", endpoint=client)) >= 20, 10)
        room.redis.pause()  # SIGSTOP: connections stay open, nothing answers: the worst kind of outage
        time.sleep(5)  # the outage itself (its length is the point of the test, not a wait for something)
        room.redis.resume()
        resumed = time.monotonic()
        events = all_echoed(api, client, count)
        print(f"\nRedis frozen 5 s: all {count} sends and echoes at the dashboard {time.monotonic() - resumed:.2f} s after")
        for name in ("h2", "h3"):
            seqs = agent_events(events, name)
            assert seqs[0] == 1, f"{name}: its first events are missing"
            check_once_in_order(seqs, f"{name} through GET /api/events")
            wait_until(partial(caught_up, collector, name, seqs[-1]), 10)  # live, the same last event
            check_once_in_order(agent_events(collector.events, name), f"{name} live through Socket.IO")
            print(f"{name}: {len(seqs)} events, agent_seq 1..{seqs[-1]}, none lost or repeated")
        assert not [e for e in events if e["kind"] == "agent" and e["args"].get("event") == "dropped"]
    finally:
        collector.close()


def test_redis_restarted_empty_gives_back_command_groups_heartbeats_and_events(room: Room) -> None:
    """What is necessarily lost when Redis dies without a copy: whatever only it held. The entries of
    ev:* that no dashboard had read yet (the bridge reads within milliseconds, so usually none), commands
    not yet taken by an agent (their callers got agent-timeout within 5 s), replies not yet read.
    What the agents recorded while it was away is still in their buses, and is shipped again."""
    count = 160
    for name in ("h2", "h3"):
        room.start_agent(name)
    dash, api = room.start_dashboard()
    room.wait_up(api, "h2", "h3")
    _, client = echo_pair(room, api)
    collector = EventCollector(dash.url)
    try:
        tick(api, client, count, 50)
        wait_until(lambda: len(collector.find(kind="send", endpoint=client)) >= 20, 10)
        room.redis.kill()
        room.redis.start()  # empty, same address: no streams, no groups, no heartbeats
        restarted = time.monotonic()
        room.wait_up(api, "h2", "h3")
        # a command works again: the agent made its group anew (at 0, so this command is not lost)
        fresh = wait_until(lambda: api.post("/api/endpoints", {"agent": "h2", "kind": "udp-server", "host": room.address("h2"),
                                                               "port": 0}), 10, 0.1)
        commanded = time.monotonic() - restarted
        assert fresh.status_code == 201, fresh.text
        collector.wait_for(10, kind="listen", endpoint=fresh.json()["id"])  # new events flow
        hands = room.redis.client()  # and the new Redis holds what the agents made anew, not a stale dashboard view
        try:
            assert wait_until(lambda: hands.exists("hb:h2", "hb:h3") == 2, 5)
            assert [g["name"] for g in hands.xinfo_groups("cmd:h2")] == [b"agent"]
        finally:
            hands.close()
        events = all_echoed(api, client, count)
        print(f"\nRedis restarted empty: command answered {commanded:.2f} s after, all {count} sends at the dashboard "
              f"{time.monotonic() - restarted:.2f} s after")
        for name in ("h2", "h3"):
            seqs = agent_events(events, name)
            assert seqs == sorted(set(seqs)), f"{name}: events repeated or out of order"
            lost = seqs[-1] - seqs[0] + 1 - len(seqs)
            print(f"{name}: {len(seqs)} events, agent_seq {seqs[0]}..{seqs[-1]}, {lost} lost with the old Redis")
    finally:
        collector.close()


def test_a_dashboard_killed_and_restarted_loses_and_repeats_nothing_for_a_client_that_resumes(room: Room) -> None:
    count = 200
    for name in ("h2", "h3"):
        room.start_agent(name)
    dash, api = room.start_dashboard()
    room.wait_up(api, "h2", "h3")
    _, client = echo_pair(room, api)
    before = EventCollector(dash.url)
    tick(api, client, count, 40)  # 8 s of sends: the dashboard dies and comes back meanwhile
    wait_until(lambda: len(before.find(kind="send", endpoint=client)) >= 20, 10)
    room.kill_dashboard(dash)
    killed = time.monotonic()
    seen = list(before.events)
    before.close()
    dash2, api2 = room.start_dashboard()
    after = EventCollector(dash2.url)  # connected first, so nothing falls between catching up and live
    try:
        resume = {name: max(agent_events(seen, name)) for name in ("h2", "h3")}
        page = api2.events_page(resume=json.dumps(resume))
        print(f"\ndashboard killed: a new one answered the catch-up {time.monotonic() - killed:.2f} s after")
        all_echoed(api2, client, count)
        wait_until(lambda: sum(e["size"] for e in after.find(kind="recv", endpoint=client))
                   + sum(e["size"] for e in seen + page["events"] if e["kind"] == "recv" and e["endpoint"] == client)
                   >= count * len(PAYLOAD), 10)
        live = [e for e in after.events if e["seq"] > page["last"]]  # older ones came in the catch-up
        got = seen + page["events"] + live
        for name in ("h2", "h3"):
            seqs = agent_events(got, name)
            assert seqs[0] == 1
            check_once_in_order(seqs, f"{name} before the kill, caught up, then live")
            print(f"{name}: {len(seqs)} events, {len(agent_events(page['events'], name))} of them from the catch-up")
        assert len([e for e in got if e["kind"] == "send" and e["endpoint"] == client]) == count
    finally:
        after.close()


FLOOD = 10_000
HOSTILE: list[tuple[str, dict[Any, Any]]] = [
    ("not JSON", {b"e": b"\xff{not json"}),
    ("1 MB", {b"e": orjson.dumps({"kind": "recv", "seq": 1, "endpoint": "e1@h2", "ts": 1.0, "agent": "h2", "data": "x" * (1 << 20)})}),
    ("unknown kind", {b"e": orjson.dumps({"kind": "rm -rf", "seq": 1, "endpoint": "e1@h2", "ts": 1.0, "agent": "h2"})}),
    ("another agent's name", {b"e": orjson.dumps({"kind": "recv", "seq": 1, "endpoint": "e1@h3", "ts": 1.0, "agent": "h3"})}),
    ("missing fields", {b"e": orjson.dumps({"kind": "recv"})}),
    ("no event field", {b"x": b"1"}),
    ("a list", {b"e": b"[1, 2, 3]"}),
]


@pytest.mark.parametrize("where", ["after the agent's entries", "before the agent starts"])
def test_hostile_stream_entries_are_counted_and_skipped(resources: Resources, room: Room, where: str) -> None:
    """Entries written by hand to ev:h2, with Redis's own ids (as `XADD ev:h2 * ...` does), then a flood
    of junk: each is skipped and counted by the dashboard, which goes on relaying h2's real events (and
    the agent numbers its next entries above them: before agent/shipper.py checked, the hand-written
    id made every later XADD look "already there", and h2's events were silently lost)."""
    from webapp import create_app, shutdown

    hands = room.redis.client()
    junk = len(HOSTILE) + FLOOD

    def write() -> None:
        for _, fields in HOSTILE:
            hands.xadd("ev:h2", fields)
        pipe = hands.pipeline(transaction=False)
        for n in range(FLOOD):
            pipe.xadd("ev:h2", {b"e": b"junk %d" % n})
        pipe.execute()

    if where == "before the agent starts":
        write()
    room.start_agent("h2")
    app = create_app({"TESTING": True, "REDIS": room.redis.url})  # in this process, to read its counter
    try:
        hub = app.extensions["socketlab_labs"].hub
        client = app.test_client()
        wait_until(lambda: hub.agents.get("h2", {}).get("state") == "up", 10)
        first = client.post("/api/endpoints", json={"agent": "h2", "kind": "udp-server", "host": room.address("h2"), "port": 0})
        assert first.status_code == 201, first.text
        wait_until(lambda: any(e.get("endpoint") == "e1@h2" for e in client.get("/api/events?after=0").get_json()["events"]), 10)
        if where == "after the agent's entries":
            write()
        wait_until(lambda: hub.skipped == junk, 10)
        second = client.post("/api/endpoints", json={"agent": "h2", "kind": "udp-server", "host": room.address("h2"), "port": 0})
        assert second.status_code == 201, second.text
        ep = second.get_json()["id"]
        wait_until(lambda: any(e.get("endpoint") == ep and e["kind"] == "listen"
                               for e in client.get("/api/events?after=0").get_json()["events"]), 10)
        events = client.get("/api/events?after=0").get_json()["events"]
        check_once_in_order(agent_events(events, "h2"), "h2 around the hostile entries")
        assert agent_events(events, "h2")[0] == 1
        assert client.get("/api/agents").get_json()[0]["state"] == "up"
        assert hub.skipped == junk
        print(f"\n{len(HOSTILE)} hostile entries and {FLOOD} junk ones {where}: skipped and counted, relaying went on")
    finally:
        shutdown(app)
        hands.close()
        room.close()
    resources.settled(10)  # the in-process dashboard's bridge, poller and reply threads are gone, and their sockets
