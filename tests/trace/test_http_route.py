"""POST /api/traces/<name>/events, the route a traced program's courier posts to without Redis:
a control token, the bridge's checks, a traced program's own kinds and sockets only, each event once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from webapp import create_app, shutdown
from webapp.auth import Access

CONTROL, VIEW = "control-token-17", "view-token-17"
ROUTE = "/api/traces/alice/events"


@pytest.fixture()
def app(tmp_path: Any) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "FILES": str(tmp_path / "f"), "DOWNLOADS": str(tmp_path / "d")})
    app.config["ACCESS"] = Access(CONTROL, VIEW)
    yield app
    shutdown(app)


def event(seq: int, **fields: Any) -> dict[str, Any]:
    base = {"seq": seq, "ts": 1700000000.0 + seq, "endpoint": "s1@alice", "conn": None, "proto": "udp", "kind": "send",
            "local": ["127.0.0.1", 4000], "peer": ["127.0.0.1", 4000], "size": 1, "data": "x", "hex": "78",
            "detail": "sendto() of 1 bytes", "call": "sendto", "args": {"bytes": 1, "thread": "MainThread"},
            "result": 1, "closed_by": None, "errno": None, "code": None, "params": None, "message": None,
            "framing": None, "state": None, "agent": "alice"}
    base.update(fields)
    return base


def post(client: FlaskClient, body: Any, token: str | None = CONTROL, route: str = ROUTE, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(route, json=body, headers=headers, **kw)


def relayed(client: FlaskClient) -> list[dict[str, Any]]:
    found = client.get("/api/events?after=0&limit=10000", headers={"Authorization": f"Bearer {VIEW}"}).get_json()
    return [e for e in found["events"] if e.get("agent") == "alice" and e["kind"] != "agent"]


def listed(client: FlaskClient) -> dict[str, dict[str, Any]]:
    answer = client.get("/api/agents", headers={"Authorization": f"Bearer {VIEW}"})
    assert answer.status_code == 200
    return {a["name"]: a for a in answer.get_json()}


def comings(client: FlaskClient, name: str = "alice") -> list[tuple[str, str | None]]:
    found = client.get("/api/events?after=0&limit=10000", headers={"Authorization": f"Bearer {VIEW}"}).get_json()
    return [(e["args"]["event"], e["args"].get("why")) for e in found["events"]
            if e["kind"] == "agent" and e.get("agent") == name and e["args"].get("trace")]


def test_a_control_token_is_needed_and_a_viewer_is_refused(app: Flask) -> None:
    client = app.test_client()
    batch = {"boot": 1, "events": [event(1)]}
    assert post(client, batch, token=None).status_code == 401
    refused = post(client, batch, token=VIEW)
    assert refused.status_code == 403 and refused.get_json()["code"] == "view-only"
    assert relayed(client) == []
    taken = post(client, batch)
    assert taken.status_code == 200 and taken.get_json() == {"taken": 1, "already": 0, "refused": 0, "every": 0.05}
    assert [e["agent_seq"] for e in relayed(client)] == [1]


def test_a_batch_posted_again_counts_once_and_a_new_run_starts_afresh(app: Flask) -> None:
    client = app.test_client()
    first = {"boot": 5, "events": [event(1), event(2)]}
    assert post(client, first).get_json()["taken"] == 2
    again = post(client, {"boot": 5, "events": [event(1), event(2), event(3)]}).get_json()  # (its answer was lost)
    assert again == {"taken": 1, "already": 2, "refused": 0, "every": 0.05}
    assert post(client, {"boot": 6, "events": [event(1)]}).get_json()["taken"] == 1  # the program ran again
    assert [e["agent_seq"] for e in relayed(client)] == [1, 2, 3, 1]


@pytest.mark.parametrize("body, status, code", [
    ([1, 2], 400, "trace-batch-invalid"),
    ({"boot": "1", "events": []}, 400, "trace-batch-invalid"),
    ({"boot": True, "events": []}, 400, "trace-batch-invalid"),
    ({"boot": 1, "events": {"0": {}}}, 400, "trace-batch-invalid"),
    ({"boot": 1, "events": [], "end": "yes"}, 400, "trace-batch-invalid"),
    ({"boot": 1, "events": [], "end": 1}, 400, "trace-batch-invalid"),
    ({"boot": 1, "events": [event(i + 1) for i in range(2001)]}, 413, "trace-batch-too-large"),
])
def test_hostile_batches_are_refused_in_words(app: Flask, body: Any, status: int, code: str) -> None:
    answer = post(app.test_client(), body)
    assert answer.status_code == status and answer.get_json()["code"] == code, answer.get_json()
    assert answer.get_json()["error"].endswith(".")


def test_hostile_events_are_skipped_one_by_one(app: Flask) -> None:
    client = app.test_client()
    hostile = [
        "not an event", None, [], {"seq": 1},
        event(1, kind="no-such-kind"),
        event(2, kind="state", state={"kind": "tcp-server", "id": "e1"}),  # a lab endpoint's snapshot: not a program's
        event(3, endpoint="e1"),  # a lab endpoint's lane
        event(4, endpoint="s1@bob"),  # another program's socket
        event(5, agent="bob"),
        {**event(6), "seq": "6"},
        event(7, data="x" * 70_000),  # bigger than any event the tracer makes
    ]
    answer = post(client, {"boot": 1, "events": [*hostile, event(8)]})
    assert answer.status_code == 200 and answer.get_json() == {"taken": 1, "already": 0, "refused": len(hostile),
                                                                 "every": 0.05}
    assert [e["agent_seq"] for e in relayed(client)] == [8]
    assert post(client, "x", route="/api/traces/not a name/events").status_code in (400, 404)
    bad_name = post(client, {"boot": 1, "events": []}, route="/api/traces/" + "n" * 41 + "/events")
    assert bad_name.status_code == 400 and bad_name.get_json()["code"] == "agent-name-invalid"
    deep = post(client, None, data="[" * 100_000, content_type="application/json")
    assert deep.status_code == 400


def test_a_traced_program_is_listed_up_with_its_open_sockets_then_ended(app: Flask) -> None:
    client = app.test_client()
    assert listed(client) == {}
    began = time.time() - 5  # (its first batch arrives after its first calls)
    post(client, {"boot": 3, "events": [event(1, ts=began), event(2, endpoint="s2@alice", ts=began + 1),
                                        event(3, kind="close", ts=began + 2)]}, environ_base={"REMOTE_ADDR": "10.0.0.7"})
    alice = listed(client)["alice"]
    assert (alice["state"], alice["host"], alice["endpoints"], alice["trace"]) == ("up", "10.0.0.7", 1, True)
    post(client, {"boot": 3, "events": []})  # the courier's "still running"
    assert comings(client) == [("up", None)]  # (once)
    found = client.get("/api/events?after=0&limit=100", headers={"Authorization": f"Bearer {VIEW}"}).get_json()
    up = next(e for e in found["events"] if e["kind"] == "agent")
    assert up["ts"] == began  # when the run began, as its first call says: the page sorts it first
    post(client, {"boot": 3, "events": [], "end": True})
    assert listed(client)["alice"]["state"] == "down" and listed(client)["alice"]["endpoints"] == 0
    post(client, {"boot": 3, "events": [event(4)], "end": True})  # a retry of the last batch, late: still ended
    assert listed(client)["alice"]["state"] == "down" and [e["agent_seq"] for e in relayed(client)] == [1, 2, 3, 4]
    post(client, {"boot": 4, "events": [event(1)]})  # run again
    assert listed(client)["alice"]["state"] == "up"
    post(client, {"boot": 3, "events": [event(5)]})  # the older run's very late batch changes nothing listed
    assert listed(client)["alice"]["state"] == "up"
    assert comings(client) == [("up", None), ("down", "ended"), ("up", None)]


@pytest.mark.parametrize("ts", [1e12, 1.0, -5.0])
def test_a_hostile_clock_does_not_date_a_program_s_start(app: Flask, ts: float) -> None:
    client = app.test_client()
    before = time.time()
    post(client, {"boot": 1, "events": [event(1, ts=ts)]})
    found = client.get("/api/events?after=0&limit=100", headers={"Authorization": f"Bearer {VIEW}"}).get_json()
    up = next(e for e in found["events"] if e["kind"] == "agent")
    assert before <= up["ts"] <= time.time()  # now: not in 1970, not in the year 33658


def test_a_program_that_goes_silent_is_gone_and_comes_back(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from webapp import traces
    client = app.test_client()
    clock = [1000.0]
    monkeypatch.setattr(traces.time, "monotonic", lambda: clock[0])
    post(client, {"boot": 1, "events": [event(1)]})
    clock[0] += traces.SILENT_SECONDS + 0.1  # its courier was killed with it (kill -9 of both)
    assert listed(client)["alice"]["state"] == "down"
    post(client, {"boot": 1, "events": [event(2)]})  # it was only the network
    assert listed(client)["alice"]["state"] == "up"
    assert comings(client) == [("up", None), ("down", "silent"), ("up", None)]


def test_a_flood_of_program_names_stays_bounded(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from webapp import traces
    monkeypatch.setattr(traces, "MAX_PROGRAMS", 50)
    client = app.test_client()
    for i in range(200):
        assert post(client, {"boot": 1, "events": []}, route=f"/api/traces/p{i}/events").status_code == 200
    names = listed(client)
    assert len(names) == 50 and "p199" in names and "p0" not in names
    clock = [time.monotonic() + traces.SILENT_SECONDS + 1]
    monkeypatch.setattr(traces.time, "monotonic", lambda: clock[0])
    assert {a["state"] for a in listed(client).values()} == {"down"}  # all gone silent, each said once
    assert len(comings(client, "p199")) == 2 and len(comings(client, "p0")) == 1  # (p0 left the list up)


def test_a_batch_is_judged_whole_before_any_of_it_is_relayed(app: Flask) -> None:
    client = app.test_client()
    huge = post(client, {"boot": 1, "events": [event(1), event(2, result=2**64), event(3)]})
    assert huge.status_code == 400 and huge.get_json()["code"] == "number-too-large", huge.get_json()
    assert relayed(client) == []  # nothing of it, so the courier's retry cannot relay anything twice
    # a lone surrogate is JSON, but no event the page's transport can carry: that one event is refused
    surrogate = {"boot": 1, "events": [event(1), event(2, data="\ud800"), event(3)]}
    for _ in range(2):  # (the courier's retry)
        answer = post(client, surrogate)
        assert answer.status_code == 200
    assert answer.get_json() == {"taken": 0, "already": 2, "refused": 1, "every": 0.05}
    assert [e["agent_seq"] for e in relayed(client)] == [1, 3]


def test_the_dashboard_paces_its_programs_as_the_class_grows(app: Flask) -> None:
    """Each answer says how long the program's next batch may gather: 50 ms for a program alone (the
    projector follows at once), longer as more programs post, so a class of 100 does not make 2,000
    requests a second; never over 0.5 s."""
    client = app.test_client()
    answer = post(client, {"boot": 1, "events": []})
    assert answer.status_code == 200 and answer.get_json()["every"] == 0.05
    for n in range(2, 41):
        post(client, {"boot": 1, "events": []}, route=f"/api/traces/p{n}/events")
    assert post(client, {"boot": 1, "events": []}).get_json()["every"] == pytest.approx(40 / 200)
    for n in range(41, 161):
        post(client, {"boot": 1, "events": []}, route=f"/api/traces/p{n}/events")
    assert post(client, {"boot": 1, "events": []}).get_json()["every"] == 0.5


@pytest.mark.parametrize(("said", "every"), [
    (b'{"every": 0.2}', 0.2), (b'{"every": 30}', 1.0), (b'{"every": 0}', 0.05), (b'{"every": -1}', 0.05),
    (b'{"every": true}', 0.3), (b'{"every": "fast"}', 0.3), (b'{"every": NaN}', 0.3), (b"{}", 0.3),
    (b"[1, 2]", 0.3), (b"not json", 0.3), (b"", 0.3)])
def test_a_tracer_takes_the_pace_within_bounds_whatever_the_answer(said: bytes, every: float) -> None:
    """What a dashboard (or anything answering in its place) says cannot make a tracer post in a busy
    loop nor fall silent: within 50 ms..1 s, and unchanged (here 0.3 s) when it says nothing usable."""
    from agent.trace.onefile import pace

    assert pace(said, 0.3) == every
