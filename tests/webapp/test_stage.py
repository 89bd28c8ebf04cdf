"""The classroom stage over the REST API and Socket.IO: one stage for every page, held by the server.

A new stage closes every endpoint (not only the caller's), reaches every connected client as a
`stage` event, and is what a late joiner reads from GET /api/stage; hostile bodies get a sentence.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import pytest
import requests

from lab.lessons.registry import LESSONS

from ..conftest import RUNNERS
from ..support import EventCollector, LiveServer, Resources, wait_until

# whatever runs the lab, the stage behaves the same: every test here runs embedded and over an agent
pytestmark = pytest.mark.parametrize("app", RUNNERS, indirect=True)


def post(client: Any, path: str, body: Any = None) -> Any:
    return client.post(path, json=body) if body is not None else client.post(path)


def test_a_stage_starts_at_one_without_a_lesson(client: Any) -> None:
    stage = client.get("/api/stage").get_json()
    assert stage["stage"] == 1 and stage["seq"] == 0 and stage["lesson"] is None
    assert stage["teacher"] == {"view": "log", "focus": None} and stage["endpoints"] == 0


def test_a_lesson_closes_every_endpoint_then_builds_its_own(client: Any) -> None:
    # "another tab" made these: a lesson closes them all the same
    made = [client.post("/api/endpoints", json={"kind": "udp-server", "port": 0}).get_json()["id"] for _ in range(3)]
    assert client.get("/api/stage").get_json()["endpoints"] == 3
    answer = client.post("/api/stage", json={"lesson": 4})
    assert answer.status_code == 201
    stage = answer.get_json()
    assert stage["stage"] == 2 and stage["lesson"]["n"] == 4 and stage["lesson"]["state"] == "ready"
    ids = {e["id"] for e in client.get("/api/endpoints").get_json()}
    assert not ids & set(made) and ids == set(stage["lesson"]["ids"].values())
    assert stage["teacher"]["view"] == "numbers"  # the lesson opens the view that shows its point
    assert stage["lesson"]["text"]["zh"]["title"] == "粘包与分帧"
    servers = [client.get(f"/api/endpoints/{stage['lesson']['ids'][k]}").get_json() for k in ("raw", "line")]
    assert [s["recv_delay_ms"] for s in servers] == [200, 200]
    # the events: the stage begins (its seq is the stage's), earlier endpoints' removals come before it
    events = client.get("/api/events?after=0&limit=10000").get_json()["events"]
    begun = [e for e in events if e["kind"] == "stage"]
    assert len(begun) == 1 and begun[0]["seq"] == stage["seq"] and begun[0]["params"]["stage"] == 2
    removed = [e["seq"] for e in events if e["kind"] == "state" and e["state"].get("removed")]
    assert len(removed) == 3 and max(removed) < stage["seq"]
    ready = [e for e in events if e["kind"] == "classroom"]
    assert ready[-1]["params"]["lesson"]["state"] == "ready"


def test_actions_count_as_steps_and_answer_with_data(client: Any) -> None:
    client.post("/api/stage", json={"lesson": 3})
    first = client.post("/api/stage/actions/stopListening")
    assert first.status_code == 200 and first.get_json()["stage"]["lesson"]["step"] == 1
    tried = client.post("/api/stage/actions/newClient").get_json()
    assert tried["result"]["code"] == "lesson-refused" and tried["result"]["cause"]["code"] == "connection-refused"
    assert tried["stage"]["lesson"]["last"]["action"] == "newClient"
    assert tried["stage"]["lesson"]["last"]["label"]["zh"] == "尝试新客户端"


def test_compare_run_takes_its_settings_and_replaces_the_previous_run(client: Any) -> None:
    client.post("/api/stage", json={"lesson": 8})
    one = client.post("/api/stage/actions/run", json={"count": 5, "interval": 0, "seed": 3}).get_json()
    run = one["stage"]["lesson"]["run"]
    assert run["settings"]["seed"] == 3 and run["settings"]["loss"] == 20 and set(run["ids"]) == {
        "tcpServer", "tcpClient", "udpServer", "udpClient"}
    two = client.post("/api/stage/actions/run", json={"count": 5, "interval": 0}).get_json()["stage"]["lesson"]["run"]
    alive = {e["id"] for e in client.get("/api/endpoints").get_json()}
    assert alive == set(two["ids"].values()) and not alive & set(run["ids"].values())


def test_a_stage_on_an_agent_that_is_not_there_is_a_sentence(request: pytest.FixtureRequest, client: Any) -> None:
    answer = client.post("/api/stage", json={"lesson": 4, "agent": "pc1"})
    if request.node.callspec.params["app"] == "embedded":  # this dashboard has its own lab: no agent to name
        assert answer.status_code == 400 and answer.get_json()["code"] == "unknown-field"
    else:
        assert answer.status_code == 404 and answer.get_json()["code"] == "no-such-agent"
        assert "pc1" in answer.get_json()["error"]


@pytest.mark.parametrize(("path", "body", "status", "code"), [
    ("/api/stage", {"lesson": 0}, 400, "no-such-lesson"),
    ("/api/stage", {"lesson": 15}, 400, "no-such-lesson"),  # (lessons 1-14)
    ("/api/stage", {"lesson": "4"}, 400, "no-such-lesson"),
    ("/api/stage", {"lesson": True}, 400, "no-such-lesson"),
    ("/api/stage", {"lesson": [4]}, 400, "no-such-lesson"),
    ("/api/stage", {"lesson": 4, "extra": "<script>"}, 400, "unknown-field"),
    ("/api/stage", [4], 400, "not-an-object"),
    ("/api/stage/actions/sendHello", None, 409, "no-lesson"),
    ("/api/stage/actions/" + "x" * 5000, None, 409, "no-lesson"),
])
def test_hostile_stage_requests_get_a_sentence(client: Any, path: str, body: Any, status: int, code: str) -> None:
    answer = post(client, path, body)
    assert answer.status_code == status, answer.get_json()
    problem = answer.get_json()
    assert problem["code"] == code and problem["error"].endswith(".") and len(problem["error"]) < 300
    assert client.get("/api/health").status_code == 200


@pytest.mark.parametrize(("body", "code"), [
    ({"view": "<img src=x onerror=alert(1)>"}, "unknown-view"),
    ({"view": "compare"}, "unknown-view"),
    ({"focus": "e1"}, "bad-focus"),
    ({"focus": []}, "bad-focus"),
    ({"focus": ["e1"] * 9}, "bad-focus"),
    ({"focus": ["x" * 41]}, "bad-focus"),
    ({"focus": [1]}, "bad-focus"),
    ({"view": "log", "admin": True}, "unknown-field"),
    ("ladder", "not-an-object"),
])
def test_hostile_teacher_choices_get_a_sentence(client: Any, body: Any, code: str) -> None:
    answer = client.put("/api/stage/teacher", json=body)
    assert answer.status_code == 400 and answer.get_json()["code"] == code
    assert client.get("/api/stage").get_json()["teacher"] == {"view": "log", "focus": None}


def test_an_unknown_action_names_the_lessons_actions(client: Any) -> None:
    client.post("/api/stage", json={"lesson": 1})
    answer = client.post("/api/stage/actions/explode")
    assert answer.status_code == 404 and "sendHello" in answer.get_json()["error"]


def test_an_action_on_a_socket_stopped_from_its_card_is_a_sentence(client: Any) -> None:
    ids = client.post("/api/stage", json={"lesson": 1}).get_json()["lesson"]["ids"]
    client.delete(f"/api/endpoints/{ids['client']}")
    answer = client.post("/api/stage/actions/sendHello")
    assert answer.status_code == 409 and answer.get_json()["code"] == "lesson-socket-gone"


def test_the_teacher_choice_is_published_once_per_change(client: Any) -> None:
    for _ in range(3):
        assert client.put("/api/stage/teacher", json={"view": "ladder", "focus": ["e1/c1"]}).status_code == 200
    events = client.get("/api/events?after=0").get_json()["events"]
    changes = [e["params"]["teacher"] for e in events if e["kind"] == "classroom"]
    assert changes == [{"view": "ladder", "focus": ["e1/c1"]}]
    assert client.get("/api/stage").get_json()["teacher"]["focus"] == ["e1/c1"]


def test_every_connected_client_sees_the_new_stage_and_a_late_joiner_reads_it(
        live_server: LiveServer, events_client: Callable[..., EventCollector]) -> None:
    watcher = events_client(live_server.url)
    stage = requests.post(f"{live_server.url}/api/stage", json={"lesson": 9}, timeout=10).json()
    begun = watcher.wait_for(kind="stage")
    assert begun["params"]["lesson"]["n"] == 9 and begun["endpoint"] == "" and begun["seq"] == stage["seq"]
    ready = wait_until(lambda: [e for e in watcher.find(kind="classroom") if e["params"]["lesson"]["state"] == "ready"])
    assert ready[-1]["params"]["lesson"]["ids"] == stage["lesson"]["ids"]
    late = requests.get(f"{live_server.url}/api/stage", timeout=5).json()
    assert late["stage"] == stage["stage"] and late["lesson"]["n"] == 9 and late["teacher"]["view"] == "log"


def test_concurrent_new_stages_leave_one_lessons_sockets_and_no_leak(client: Any, app: Any, resources: Resources) -> None:
    lessons = [1, 2, 4, 6, 9, 2, 6, 1]
    errors: list[Any] = []

    def begin(n: int) -> None:
        answer = app.test_client().post("/api/stage", json={"lesson": n})
        if answer.status_code != 201:
            errors.append(answer.get_json())

    threads = [threading.Thread(target=begin, args=(n,)) for n in lessons]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    stage = client.get("/api/stage").get_json()
    assert stage["stage"] == 1 + len(lessons)
    alive = {e["id"] for e in client.get("/api/endpoints").get_json()}
    made = {v for v in stage["lesson"]["ids"].values() if isinstance(v, str) and v.startswith("e")}
    made |= {v for vs in stage["lesson"]["ids"].values() if isinstance(vs, list) for v in vs}
    assert alive == made  # serialised: only the last lesson's sockets are left
    client.post("/api/stage", json={"lesson": None})
    # (over an agent, its command pool's workers start when first needed and live as long as the agent)
    wait_until(lambda: not [t for t in resources.new_threads() if not t.name.startswith("agent-run-")], 10)


def test_the_session_lists_the_lessons_from_the_one_registry(client: Any) -> None:
    lessons = client.get("/api/session").get_json()["lessons"]
    assert [x["n"] for x in lessons] == sorted(LESSONS)
    for x in lessons:
        assert set(x["text"]) == {"en", "zh"} and all(x["text"][lang]["title"] for lang in ("en", "zh"))
        assert all(set(a["label"]) == {"en", "zh"} for a in x["actions"])


def _ids_of(lesson: dict[str, Any]) -> set[str]:
    """Every endpoint and download id a lesson's stage names (strings and lists of them)."""
    found: set[str] = set()
    for value in lesson["ids"].values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                found.add(item)
    return found


@pytest.mark.parametrize(("first", "actions", "then"), [
    (2, ["oneMore", "sendAll"], 10),  # eight lanes, then a wire lesson
    (5, ["downloadRaw", "downloadFramed"], 11),  # downloads, then a wire lesson
    (10, ["connect"], 11),
    (1, ["sendHello"], 3),
])
def test_a_new_stage_holds_nothing_of_the_one_before(client: Any, first: int, actions: list[str], then: int) -> None:
    """From a new stage's `stage` event on, no event is about a socket or download of an earlier stage,
    whatever runs the lab: the closes that the new stage made come before its `stage` event."""
    earlier = client.post("/api/stage", json={"lesson": first}).get_json()
    assert earlier["lesson"]["state"] == "ready", earlier["lesson"]
    for key in actions:
        assert client.post(f"/api/stage/actions/{key}").status_code == 200
    if first == 5:  # (its downloads run in the background: the next stage stops them, or they are done)
        wait_until(lambda: all(d["state"] != "running" for d in client.get("/api/downloads").get_json()), 20)
    seen = {e["endpoint"] for e in client.get("/api/events?after=0&limit=10000").get_json()["events"] if e["endpoint"]}
    old = _ids_of(earlier["lesson"]) | seen
    stage = client.post("/api/stage", json={"lesson": then}).get_json()
    assert stage["lesson"]["state"] in ("ready", "failed")

    def since_the_stage() -> list[dict[str, Any]]:
        return client.get(f"/api/events?after={stage['seq'] - 1}&limit=10000").get_json()["events"]

    wait_until(lambda: any(e["kind"] == "classroom" for e in since_the_stage()))
    # a marker: a lab's events arrive in the order it recorded them, so once one it records now is here,
    # whatever it recorded before (the ended stage's closes, had any been left to come) is here too
    marker = client.post("/api/endpoints", json={"kind": "udp-server", "port": 0}).get_json()["id"]
    wait_until(lambda: any(e["endpoint"] == marker for e in since_the_stage()))
    client.delete(f"/api/endpoints/{marker}")
    events = since_the_stage()
    assert events[0]["kind"] == "stage"
    stale = [(e["seq"], e["kind"], e["endpoint"], e.get("conn")) for e in events if e["endpoint"] in old]
    assert not stale, stale


def test_a_new_stage_waits_for_an_agent_that_ships_its_closes_late(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An agent's events travel apart from the stage (its shipper, Redis, the bridge): shipped a
    third of a second late, the closes of the sockets a new stage closed still come before its
    `stage` event, so every page takes them for the stage that ended (embedded: there is no shipper)."""
    import agent.shipper

    earlier = client.post("/api/stage", json={"lesson": 2}).get_json()
    wait_until(lambda: any(e["kind"] == "accept" for e in client.get("/api/events?after=0&limit=10000").get_json()["events"]))
    monkeypatch.setattr(agent.shipper, "BATCH_SECONDS", 0.3)
    stage = client.post("/api/stage", json={"lesson": 1}).get_json()
    events = client.get("/api/events?after=0&limit=10000").get_json()["events"]
    removed = {e["endpoint"] for e in events if e["kind"] == "state" and e["state"].get("removed") and e["seq"] < stage["seq"]}
    assert removed == _ids_of(earlier["lesson"])
