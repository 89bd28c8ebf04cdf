"""Four hosts on a bridged LAN, a lab agent on each, Redis on h1, the dashboard in the root namespace:
a TCP echo between two hosts and a UDP broadcast to three, driven through the REST API only, and
seen live by a Socket.IO client and by Chromium, each event naming the agent it came from."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from ..support import EventCollector, Resources, wait_until
from .cluster import Api, Room, agent_events, check_once_in_order

NAMES = ("h1", "h2", "h3", "h4")
HELLO = "hello across the bridge"
SHOUT = "hello everyone"


def start(room: Room) -> tuple[Any, Api]:
    for name in NAMES:
        room.start_agent(name)
    dash, api = room.start_dashboard()
    room.wait_up(api, *NAMES)
    return dash, api


def drive(room: Room, api: Api) -> dict[str, str]:
    """The echo (server on h1's LAN address, client on h2) and the broadcast (client on h1, servers on
    h2, h3, h4 at 0.0.0.0 and one port, each in its own namespace); returns the endpoint ids."""
    server = api.create(agent="h1", kind="tcp-server", host=room.address("h1"), port=0, mode="echo")
    client = api.create(agent="h2", kind="tcp-client", host=room.address("h1"), port=server["local"][1])
    assert api.post(f"/api/endpoints/{client['id']}/send", {"data": HELLO}).json() == {"sent": len(HELLO)}
    first = api.create(agent="h2", kind="udp-server", host="0.0.0.0", port=0, mode="echo")
    port = first["local"][1]
    listeners = [first] + [api.create(agent=n, kind="udp-server", host="0.0.0.0", port=port, mode="echo") for n in ("h3", "h4")]
    caller = api.create(agent="h1", kind="udp-client", host=room.lan.broadcast, port=port, broadcast=True)
    assert api.post(f"/api/endpoints/{caller['id']}/send", {"data": SHOUT}).status_code == 200
    return {"server": server["id"], "client": client["id"], "caller": caller["id"],
            **{f"listener-{e['id'].split('@')[1]}": e["id"] for e in listeners}}


def check_events(room: Room, ids: dict[str, str], find: Any) -> None:
    """`find(**match)` -> the events seen so far that match; each must name the agent that owns its endpoint."""
    h1, h2 = room.address("h1"), room.address("h2")
    assert ids["server"] == "e1@h1" and ids["client"] == "e1@h2"
    echoed = wait_until(lambda: find(kind="recv", endpoint=ids["client"]), 10)
    assert echoed[0]["agent"] == "h2" and echoed[0]["data"] == HELLO and echoed[0]["peer"][0] == h1
    got = find(kind="recv", endpoint=ids["server"])
    assert got[0]["agent"] == "h1" and got[0]["peer"][0] == h2  # from h2's address: it crossed the bridge
    for name in ("h2", "h3", "h4"):
        heard = wait_until(partial(find, kind="recv", endpoint=ids[f"listener-{name}"]), 10)
        assert heard[0]["agent"] == name and heard[0]["data"] == SHOUT and heard[0]["peer"][0] == h1
    replies = wait_until(lambda: len(found := find(kind="recv", endpoint=ids["caller"])) >= 3 and found, 10)
    assert {r["peer"][0] for r in replies} == {room.address(n) for n in ("h2", "h3", "h4")}
    assert all(r["agent"] == "h1" for r in replies)


def test_echo_and_broadcast_across_four_hosts_seen_live_by_a_socketio_client(resources: Resources, room: Room) -> None:
    dash, api = start(room)
    collector = EventCollector(dash.url)
    try:
        ids = drive(room, api)
        check_events(room, ids, collector.find)
        check_events(room, ids, lambda **m: [e for e in api.events() if all(e.get(k) == v for k, v in m.items())])
        for name in NAMES:  # live, per agent: in the order each agent recorded them, each once
            check_once_in_order(agent_events(collector.events, name), f"{name} as the Socket.IO client saw it")
        ups = [e for e in api.events() if e["kind"] == "agent" and e["args"]["event"] == "up"]  # (before we connected)
        assert sorted(e["agent"] for e in ups) == list(NAMES)
        listed = api.agents()
        assert [listed[n]["state"] for n in NAMES] == ["up"] * 4
        assert (listed["h1"]["endpoints"], listed["h2"]["endpoints"]) == (2, 2)
    finally:
        collector.close()
        room.close()
    resources.settled(10)  # every reader thread, pipe and socket of the room and the client is gone


def test_echo_and_broadcast_across_four_hosts_seen_in_chromium(room: Room, context: Any) -> None:
    from playwright.sync_api import expect

    dash, api = start(room)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(dash.url + "/")
    expect(page.get_by_test_id("socket-state")).to_have_attribute("data-state", "connected")
    began = time.monotonic()
    ids = drive(room, api)
    for endpoint in ids.values():  # a log row for every endpoint of every host, arrived live
        rows = page.locator(f'[data-testid="event-row"][data-endpoint="{endpoint}"]')
        expect(rows.first).to_be_attached()
        assert endpoint in rows.first.inner_text() or endpoint.split("@")[1] in rows.first.inner_text()
    print(f"\nall rows of 4 hosts on the page {time.monotonic() - began:.2f} s after the first command")
    page.get_by_test_id("view-ladder").click()  # the diagram: a lane for each host's endpoint, with its LAN address
    for endpoint, name in ((ids["server"], "h1"), (ids["client"], "h2")):
        lane = page.locator(f'[data-testid="ladder-lane"][data-lane="{endpoint}"]')
        # its id as the lab numbered it, and its agent's tag (the id's "@h1" is the tag's to say)
        expect(lane.locator(".lane-id")).to_have_text(endpoint.split("@")[0])
        expect(lane.get_by_test_id("lane-agent")).to_have_text(name)
        expect(lane).to_contain_text(room.address(name))
    assert not problems, problems
