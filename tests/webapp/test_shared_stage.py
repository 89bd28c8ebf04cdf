"""One classroom stage for every dashboard over the same lab agents (webapp/agents.py, lab/stage.py).

Two dashboards behind a load balancer, or one that restarts: the teacher's lesson, its steps, the
teacher's view and the students' names are the same on each, and a hostile `stage` entry changes
nothing. Real agents, a real redis-server, real dashboards (Flask apps, each with its own bridge).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import orjson
import pytest
import redis

from webapp import create_app, shutdown

from ..redis_server import RedisServer
from ..support import Resources, wait_until
from .test_agents import make_agent


def dashboard(server: RedisServer) -> Any:
    app = create_app({"TESTING": True, "REDIS": server.url})
    client = app.test_client()
    wait_until(lambda: [a["state"] for a in client.get("/api/agents").get_json()] == ["up"], 5)
    return app


@pytest.fixture
def two(redis_server: RedisServer, tmp_path: Path, resources: Resources) -> Iterator[dict[str, Any]]:
    agent = make_agent(redis_server, tmp_path, "pc1")
    apps = [dashboard(redis_server), dashboard(redis_server)]
    yield {"apps": apps, "a": apps[0].test_client(), "b": apps[1].test_client(), "redis": redis_server}
    for app in apps:
        shutdown(app)
    agent.stop()
    agent.lab.close()
    wait_until(lambda: not resources.new_threads(), 10)


def same_stage(x: Any, y: Any) -> bool:
    """The stage as every page sees it (`seq` is each dashboard's own numbering of its events)."""
    a, b = x.get("/api/stage").get_json(), y.get("/api/stage").get_json()
    return all(a[k] == b[k] for k in ("stage", "teacher", "lesson", "names"))


def stage_events(client: Any) -> list[dict[str, Any]]:
    found = client.get("/api/events?after=0&limit=10000").get_json()["events"]
    return [e for e in found if e["kind"] in ("stage", "classroom")]


def following(a: Any, b: Any) -> None:
    """Wait until B follows A's changes (B's bridge takes the stage once it runs)."""
    assert a.put("/api/stage/teacher", json={"view": "split"}).status_code == 200
    wait_until(lambda: b.get("/api/stage").get_json()["teacher"]["view"] == "split", 5)


def test_a_lesson_begun_on_one_dashboard_is_the_stage_of_the_other(two: dict[str, Any]) -> None:
    a, b = two["a"], two["b"]
    following(a, b)
    begun = a.post("/api/stage", json={"lesson": 1})
    assert begun.status_code == 201, begun.get_json()
    assert begun.get_json()["lesson"]["state"] == "ready"
    wait_until(lambda: same_stage(a, b), 5)
    on_b = b.get("/api/stage").get_json()
    assert on_b["stage"] == 2 and on_b["lesson"]["n"] == 1 and on_b["teacher"]["view"] == "ladder"
    # B's pages were told with the same events, in order: a new stage, then the lesson built
    kinds = [(e["kind"], e["params"]["lesson"]["state"] if e["params"]["lesson"] else None) for e in stage_events(b)]
    assert kinds[-2:] == [("stage", "building"), ("classroom", "ready")], kinds
    # the lesson's button pressed on B runs on the sockets A's lesson built; A sees the step
    done = b.post("/api/stage/actions/sendHello")
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["stage"]["lesson"]["step"] == 1
    wait_until(lambda: a.get("/api/stage").get_json()["lesson"]["step"] == 1, 5)
    # the teacher's view chosen on A, and a student's name given on B, are everyone's
    assert a.put("/api/stage/teacher", json={"view": "numbers"}).status_code == 200
    assert b.put("/api/names/10.0.0.7", json={"name": "Ann"}).status_code == 200
    wait_until(lambda: same_stage(a, b) and a.get("/api/stage").get_json()["names"] == {"10.0.0.7": "Ann"}, 5)
    assert b.get("/api/stage").get_json()["teacher"]["view"] == "numbers"


def test_two_changes_made_at_once_on_two_dashboards_both_stay(two: dict[str, Any]) -> None:
    """Each dashboard shares its whole stage, but says which part it changed, and the others take only
    that part: a name given on another dashboard, whose snapshot still has the view it had before the
    teacher changed it here, leaves the teacher's view alone (CI once saw them overwrite each other)."""
    a, b = two["a"], two["b"]
    following(a, b)
    assert a.put("/api/stage/teacher", json={"view": "numbers"}).status_code == 200
    wait_until(lambda: b.get("/api/stage").get_json()["teacher"]["view"] == "numbers", 5)
    stale = {**b.get("/api/stage").get_json(), "teacher": {"view": "split", "focus": None},
             "names": {"10.0.0.7": "Ann"}, "part": "name", "named": ["10.0.0.7", "Ann"]}
    writer = redis.Redis.from_url(two["redis"].url)
    try:  # (as a third dashboard would write it, had it named Ann before it saw the view change)
        writer.xadd("stage", {"from": "elsewhere", "e": orjson.dumps({"kind": "classroom", "detail": "named",
                                                                      "params": stale})})
    finally:
        writer.close()
    for x in (a, b):
        wait_until(lambda x=x: x.get("/api/stage").get_json()["names"] == {"10.0.0.7": "Ann"}, 5)
        assert x.get("/api/stage").get_json()["teacher"]["view"] == "numbers"
    assert same_stage(a, b)


def test_a_dashboard_that_starts_late_begins_on_the_class_s_stage(two: dict[str, Any]) -> None:
    a = two["a"]
    assert a.post("/api/stage", json={"lesson": 2}).status_code == 201
    assert a.post("/api/stage/actions/oneMore").status_code == 200
    late_app = dashboard(two["redis"])
    try:
        late = late_app.test_client()
        wait_until(lambda: same_stage(a, late), 5)
        assert late.get("/api/stage").get_json()["lesson"]["step"] == 1
        assert [e["kind"] for e in stage_events(late)] == ["stage"]  # one event: where the class is
        assert late.post("/api/stage/actions/sendAll").status_code == 200  # and it can lead from there
        wait_until(lambda: a.get("/api/stage").get_json()["lesson"]["step"] == 2, 5)
    finally:
        shutdown(late_app)


HOSTILE = [
    {"e": b"not json"},
    {"e": b"[1, 2]"},
    {"e": b"x" * (70 << 10)},
    {"e": orjson.dumps({"kind": "stage", "params": {"stage": -1, "teacher": {"view": "log"}, "names": {}}})},
    {"e": orjson.dumps({"kind": "stage", "params": {"stage": 9, "teacher": {"view": "<script>"}, "names": {}}})},
    {"e": orjson.dumps({"kind": "stage", "params": {"stage": 9, "teacher": {"view": "log"}, "names": {"1.2.3.4": 5}}})},
    {"e": orjson.dumps({"kind": "stage", "params": {"stage": 9, "teacher": {"view": "log"}, "names": {},
                                                    "lesson": {"n": 99, "ids": {}, "step": 0}}})},
    {"e": orjson.dumps({"kind": "stage", "params": {"stage": 9, "teacher": {"view": "log"},
                                                    "names": {"1.2.3.4": "\u202eevil"}}})},
    {"e": orjson.dumps({"kind": "agent", "params": {"stage": 9, "teacher": {"view": "log"}, "names": {}}})},
    {"e": orjson.dumps({"kind": "classroom", "params": {"stage": 9, "teacher": {"view": "log", "focus": ["x" * 99]},
                                                        "names": {}, "started": 1.0}})},
    {"e": orjson.dumps({"kind": "classroom", "params": {"stage": 9, "teacher": {"view": "log"}, "names": {},
                                                        "started": [1]}})},
    {"e": orjson.dumps({"kind": "classroom", "params": {"stage": 9, "teacher": {"view": "log"}, "names": {},
                                                        "started": 1.0, "part": "name", "named": "1.2.3.4"}})},
    {"e": orjson.dumps({"kind": "classroom", "params": {"stage": 9, "teacher": {"view": "log"}, "names": {},
                                                        "started": 1.0, "part": "name",
                                                        "named": ["1.2.3.4", "\u202eevil"]}})},
    {"nothing": b"here"},
]


def test_hostile_stage_entries_change_nothing(two: dict[str, Any]) -> None:
    a, b = two["a"], two["b"]
    assert a.post("/api/stage", json={"lesson": 1}).status_code == 201
    wait_until(lambda: same_stage(a, b), 5)
    before = b.get("/api/stage").get_json()
    skipped = b.get("/api/stats").get_json()["skipped_entries"]
    writer = redis.Redis.from_url(two["redis"].url)
    try:
        for fields in HOSTILE:
            writer.xadd("stage", fields)  # type: ignore[arg-type]
    finally:
        writer.close()
    wait_until(lambda: b.get("/api/stats").get_json()["skipped_entries"] >= skipped + len(HOSTILE), 5)
    after = b.get("/api/stage").get_json()
    assert all(after[k] == before[k] for k in ("stage", "teacher", "lesson", "names"))
    # and the shared stage still works both ways
    assert b.post("/api/stage/actions/sendHello").status_code == 200
    wait_until(lambda: a.get("/api/stage").get_json()["lesson"]["step"] == 1, 5)


def test_an_exercise_begun_on_one_dashboard_is_checked_on_the_other_too(two: dict[str, Any]) -> None:
    a, b = two["a"], two["b"]
    following(a, b)
    began = a.post("/api/stage", json={"exercise": "echo-server"})
    assert began.status_code == 201
    wait_until(lambda: (b.get("/api/stage").get_json()["exercise"] or {}).get("key") == "echo-server", 5)
    assert b.get("/api/stage").get_json()["stage"] == began.get_json()["stage"]
    wait_until(lambda: b.get("/api/exercise/results").get_json()["running"], 5)
    assert b.get("/api/exercise/results").get_json()["exercise"] == "echo-server"
    assert a.post("/api/stage", json={}).status_code == 201
    wait_until(lambda: b.get("/api/stage").get_json()["exercise"] is None, 5)
    assert not b.get("/api/exercise/results").get_json()["running"]
