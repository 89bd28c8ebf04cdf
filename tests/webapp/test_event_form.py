"""An event's JSON form is the one definition's (lab/events/bus.py: `Event`, FIELDS, JSON_FIELDS), whatever
carried it: the embedded lab, a lab agent over Redis, a traced program's courier over HTTP. Every event
of every kind each path makes is pinned: its keys, in order; each value of its field's declared type;
and its JSON byte for byte what Event.to_json makes of the same fields. The page is handed the same
list of fields (GET /api/session), and Socket.IO carries the same objects as GET /api/events."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import orjson
import pytest

from lab.events.bus import FIELDS, JSON_FIELDS, Event

from ..conftest import RUNNERS
from ..support import EventCollector, serve, wait_until
from ..trace.helpers import PROGRAMS, ROOT, TIMEOUT

HINTS = get_type_hints(Event)
RELAYED = ("agent", "agent_seq")  # what another lab's event gains on this dashboard (CONTRACT "Lab agents")


def conforms(value: Any, hint: Any) -> bool:
    """Whether `value` is of the type `hint` declares (as exactly as JSON can tell: no bool for an int)."""
    if hint is Any:
        return True
    if get_origin(hint) in (Union, types.UnionType):
        return any(conforms(value, h) for h in get_args(hint))
    if hint is type(None):
        return value is None
    if get_origin(hint) is tuple:
        args = get_args(hint)
        return type(value) is tuple and len(value) == len(args) and all(map(conforms, value, args))
    if get_origin(hint) is dict:
        return type(value) is dict
    if hint is float:
        return type(value) in (int, float)
    return type(value) is hint


def as_event(body: dict[str, Any]) -> Event:
    """The Event whose JSON form `body` says it is (SHOWN_AS, backwards)."""
    held = {name: body[name] for name in FIELDS if name in body}
    held["head"] = None if body["hex"] is None else bytes.fromhex(body["hex"])
    for name in ("local", "peer"):
        held[name] = None if body[name] is None else tuple(body[name])
    if type(body["result"]) is list:
        held["result"] = tuple(body["result"])
    return Event(**held)


def check_form(body: dict[str, Any], extra: tuple[str, ...] = (), ordered: bool = True) -> None:
    """`body` is an Event's JSON form (plus `extra`), in its order unless it came through Flask's
    jsonify, which sorts every object's keys (GET /api/events)."""
    assert (tuple(body) if ordered else sorted(body)) == (JSON_FIELDS + extra if ordered else sorted(JSON_FIELDS + extra))
    event = as_event(body)
    wrong = {name: getattr(event, name) for name, hint in HINTS.items() if not conforms(getattr(event, name), hint)}
    assert not wrong, (body["kind"], wrong)
    again = {**event.to_json(), **{name: body[name] for name in extra}}
    option = 0 if ordered else orjson.OPT_SORT_KEYS
    assert orjson.dumps(again, option=option) == orjson.dumps(body, option=option)  # (nothing made by hand)


def events(client: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get("/api/events?after=0&limit=10000").get_json()["events"]
    return found


def lab_scenario(client: Any, agent: dict[str, str]) -> None:
    """Sockets of each sort, a framed message, a refused connection, a download: most of the lab's kinds."""
    server = client.post("/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo", "framing": "line",
                                                 **agent}).get_json()
    port = server["local"][1]
    tcp = client.post("/api/endpoints", json={"kind": "tcp-client", "port": port, **agent}).get_json()
    assert client.post(f"/api/endpoints/{tcp['id']}/send", json={"data": "hi\n"}).status_code == 200
    udp = client.post("/api/endpoints", json={"kind": "udp-server", "port": 0, "mode": "echo", **agent}).get_json()
    sender = client.post("/api/endpoints", json={"kind": "udp-client", "port": udp["local"][1], **agent}).get_json()
    assert client.post(f"/api/endpoints/{sender['id']}/send", json={"data": "ff00", "encoding": "hex"}).status_code == 200
    files = client.post("/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "files", "protocol": "framed",
                                                **agent}).get_json()
    name = client.get("/api/files").get_json()[0]["name"]
    assert client.post("/api/downloads", json={"port": files["local"][1], "file": name, "protocol": "framed",
                                               **agent}).status_code == 202
    closed = client.post("/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo", **agent}).get_json()
    client.delete(f"/api/endpoints/{closed['id']}")
    assert client.post("/api/endpoints", json={"kind": "tcp-client", "port": closed["local"][1], **agent}).status_code == 409
    assert client.delete(f"/api/endpoints/{tcp['id']}").status_code in (200, 204)


LAB_KINDS = {"listen", "accept", "connect", "send", "recv", "message", "close", "error", "state", "header", "done"}


@pytest.mark.parametrize("app", RUNNERS, indirect=True)
def test_the_labs_events_take_the_form_of_the_one_definition(app: Any, client: Any) -> None:
    agent = {"agent": "a1"} if app.config.get("REDIS") else {}
    assert tuple(client.get("/api/session").get_json()["event_fields"]) == JSON_FIELDS
    with serve(app) as live:
        viewer = EventCollector(live.url)
        try:
            lab_scenario(client, agent)
            found = wait_until(lambda: (got := events(client)) and LAB_KINDS <= {e["kind"] for e in got} and got, 15)
            last = found[-1]["seq"]
            streamed = wait_until(lambda: viewer.find(seq=last) and viewer.find(), 10)
        finally:
            viewer.sio.disconnect()
    assert LAB_KINDS <= {e["kind"] for e in streamed}
    for body in found:
        check_form(body, RELAYED if agent or body["kind"] == "agent" else (), ordered=False)
    for body in streamed:  # (Socket.IO: the same objects, and JSON keeps their order)
        check_form(body, RELAYED if agent or body["kind"] == "agent" else ())
    if agent:  # what the agent wrote to Redis: the same form, with its name
        client_of_redis = app.extensions["socketlab_labs"].hub.redis
        shipped = [orjson.loads(fields[b"e"]) for _id, fields in client_of_redis.xrange("ev:a1", "-", "+")]
        assert LAB_KINDS <= {e["kind"] for e in shipped}
        for body in shipped:
            check_form(body, ("agent",))


def test_a_traced_programs_events_take_the_form_of_the_one_definition(app: Any, client: Any) -> None:
    server = client.post("/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo"}).get_json()
    kinds = {"setup", "connect", "send", "recv", "listen", "error", "close", "agent"}
    with serve(app) as live:
        viewer = EventCollector(live.url)
        try:
            for program, *args in (("echo_client.py", str(server["local"][1]), "hello"), ("mistakes.py",)):
                done = subprocess.run([sys.executable, "-m", "agent.trace", "--dashboard", live.url, "--name", "form",
                                       str(PROGRAMS / program), *args], cwd=ROOT, capture_output=True, timeout=TIMEOUT,
                                      check=False)
                assert done.returncode == 0, done.stderr
            traced = wait_until(lambda: (got := [e for e in events(client) if e.get("agent") == "form"])
                                and kinds <= {e["kind"] for e in got} and got, 15)
            streamed = wait_until(lambda: (got := viewer.find(agent="form")) and len(got) == len(traced) and got, 10)
        finally:
            viewer.sio.disconnect()
    for body in traced:
        check_form(body, RELAYED, ordered=False)
    for body in streamed:
        check_form(body, RELAYED)
    assert any(e["kind"] == "agent" and e["args"].get("trace") for e in traced)  # (up and down: the dashboard's own)


def test_what_differs_between_an_event_and_its_json_is_only_the_preview() -> None:
    # the preview is held as bytes and shown as text and hex; every other field under its own name
    assert JSON_FIELDS == tuple(key for name in FIELDS[:] for key in (("data", "hex") if name == "head" else (name,)))
    event = Event(1, 2.5, "e1", "c1", "tcp", "recv", ("127.0.0.1", 1), ("127.0.0.1", 2), 3, b"\xffok", "d",
                  "accept", {"bufsize": 3}, ("127.0.0.1", 2))
    assert event.to_json() == {
        "seq": 1, "ts": 2.5, "endpoint": "e1", "conn": "c1", "proto": "tcp", "kind": "recv", "local": ["127.0.0.1", 1],
        "peer": ["127.0.0.1", 2], "size": 3, "data": "\ufffdok", "hex": "ff 6f 6b", "detail": "d", "call": "accept",
        "args": {"bufsize": 3}, "result": ["127.0.0.1", 2], "closed_by": None, "errno": None, "code": None,
        "params": None, "message": None, "framing": None, "state": None}
    check_form(event.to_json())


def test_a_field_named_wrongly_is_a_programmers_error(tmp_path: Path) -> None:
    from lab.events.bus import EventBus

    bus = EventBus()
    with pytest.raises(TypeError):
        bus.publish("e1", "send", detial="a typo")
    with pytest.raises(TypeError):
        bus.record(1.0, "e1", None, "tcp", "send", None, None, 0, None, "", colour="red")  # type: ignore[call-arg]
    assert bus.last_seq == 0
