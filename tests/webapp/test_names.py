"""Names over the API, as an attacker tries them: a rename flood from many addresses stays small on
every page and in every late joiner's history, the class has one limit, and a name cannot be taken
twice (by case, width or look-alike letters) or pass for the teacher; the teacher renames and clears."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from lab import stage as stage_module
from webapp import create_app, shutdown
from webapp.auth import Access

CONTROL, VIEW = "control-secret", "view-secret"
LONG = "x" * 22  # a long name (24 is the most)


@pytest.fixture
def guarded(folders: dict[str, Any]) -> Iterator[Any]:
    app = create_app({"TESTING": True, "FILES": str(folders["files"]), "DOWNLOADS": str(folders["downloads"]),
                      "ACCESS": Access(CONTROL, VIEW), "DASHBOARD_BIND": "0.0.0.0", "DASHBOARD_PORT": 5123})
    yield app
    shutdown(app)


def as_(role: str, address: str) -> dict[str, Any]:
    return {"headers": {"Authorization": f"Bearer {CONTROL if role == 'control' else VIEW}"},
            "environ_base": {"REMOTE_ADDR": address}}


def as_student(app: Any, address: str) -> dict[str, Any]:
    """A student at `address`: joined with the code (only a joined student names itself), its own token."""
    code = app.extensions["socketlab_join"].code
    joined = app.test_client().post("/api/join", json={"code": code}, environ_base={"REMOTE_ADDR": address})
    assert joined.status_code == 200, joined.get_json()
    return {"headers": {"Authorization": f"Bearer {joined.get_json()['token']}"}, "environ_base": {"REMOTE_ADDR": address}}


def address(i: int) -> str:
    return f"127.0.{i // 250}.{i % 250 + 1}"


def test_a_rename_flood_from_many_addresses_is_limited_for_the_class_and_stays_small(guarded: Any) -> None:
    client = guarded.test_client()
    codes: dict[int, int] = {}
    for i in range(200):  # 200 addresses, each renaming once (a per-address limit alone lets all through)
        answer = client.put("/api/names/me", json={"name": f"{LONG}{i:02d}"[-24:]}, **as_student(guarded, address(i)))
        codes[answer.status_code] = codes.get(answer.status_code, 0) + 1
        if answer.status_code != 200:
            assert answer.status_code == 409 and answer.get_json()["code"] == "names-too-fast"
            assert "class" in answer.get_json()["error"]
    # the class's bucket: its burst and what it refilled meanwhile pass, the rest is refused
    assert stage_module.NAMES_BURST <= codes[200] < 200 and codes[409] == 200 - codes[200]
    history = client.get("/api/events?after=0&limit=10000", **as_("view", "10.0.0.1"))
    changes = [e for e in history.get_json()["events"] if e["kind"] == "classroom"]
    assert len(changes) == codes[200]
    for event in changes:  # each carries its change, not the whole class's names
        assert event["params"]["part"] == "name" and len(event["params"]["named"]) == 2
        assert len(json.dumps(event)) < 1000
    assert len(history.data) < 1000 * len(changes) + 10_000
    # the stage itself has every name given, whole, for a late joiner
    assert len(client.get("/api/stage", **as_("view", "10.0.0.1")).get_json()["names"]) == codes[200]
    assert client.get("/api/health").status_code == 200


def test_name_changes_are_not_pinned_so_a_flood_cannot_push_out_the_lifecycle(guarded: Any) -> None:
    client = guarded.test_client()
    made = client.post("/api/endpoints", json={"kind": "tcp-server", "host": "127.0.0.1", "port": 0, "mode": "echo"},
                       **as_("control", "127.0.0.1")).get_json()
    bus = guarded.extensions["socketlab_labs"].bus
    before = bus.pinned_bytes
    for i in range(stage_module.NAMES_BURST):
        client.put("/api/names/me", json={"name": f"Student {i}"}, **as_student(guarded, address(i)))
    assert bus.pinned_bytes == before
    events = client.get("/api/events?after=0", **as_("view", "10.0.0.1")).get_json()["events"]
    assert any(e["kind"] == "listen" and e["endpoint"] == made["id"] for e in events)


def test_the_history_a_late_joiner_reads_is_cut_in_answers_of_a_budget(guarded: Any) -> None:
    client = guarded.test_client()
    for i in range(stage_module.NAMES_BURST):
        client.put(f"/api/names/{address(i)}", json={"name": f"{LONG}{i:02d}"}, **as_("control", "127.0.0.1"))
    for _ in range(60):  # whole stages (each with 60 long names) make a heavy history
        client.put("/api/stage/teacher", json={"view": "ladder"}, **as_("control", "127.0.0.1"))
        client.put("/api/stage/teacher", json={"view": "log"}, **as_("control", "127.0.0.1"))
    after, seen, sizes = 0, [], []
    while True:
        page = client.get(f"/api/events?after={after}&limit=10000", **as_("view", "10.0.0.1"))
        body = page.get_json()
        sizes.append(len(page.data))
        seen += [e["seq"] for e in body["events"]]
        if not body["more"]:
            break
        after = body["last"]
    assert seen == sorted(set(seen)) and seen[-1] == body["last"]
    assert max(sizes) < 3 << 20


@pytest.mark.parametrize("alike", ["ann", "ANN", "\u0410nn", "\uff21nn", "Ann"])
def test_a_name_is_taken_once_in_a_stage_whatever_its_case_or_look_alike_letters(guarded: Any, alike: str) -> None:
    client = guarded.test_client()
    assert client.put("/api/names/me", json={"name": "Ann"}, **as_student(guarded, "10.77.0.2")).status_code == 200
    taken = client.put("/api/names/me", json={"name": alike}, **as_student(guarded, "10.77.0.3"))
    assert taken.status_code == 409 and taken.get_json()["code"] == "name-taken"
    assert "Ann" in taken.get_json()["error"]
    # the holder may give the same name again (nothing changes), and a new stage frees it
    assert client.put("/api/names/me", json={"name": "Ann"}, **as_student(guarded, "10.77.0.2")).status_code == 200
    client.post("/api/stage", json={"lesson": None}, **as_("control", "127.0.0.1"))
    assert client.put("/api/names/me", json={"name": alike}, **as_student(guarded, "10.77.0.3")).status_code == 200


def test_a_cleared_name_is_free_again(guarded: Any) -> None:
    client = guarded.test_client()
    client.put("/api/names/me", json={"name": "Bo"}, **as_student(guarded, "10.77.0.2"))
    assert client.delete("/api/names/10.77.0.2", **as_("control", "127.0.0.1")).status_code == 200
    assert client.put("/api/names/me", json={"name": "bo"}, **as_student(guarded, "10.77.0.3")).status_code == 200


@pytest.mark.parametrize(("name", "code"), [
    ("Teacher", "name-reserved"), ("老师", "name-reserved"), ("127.0.0.1:46077", "name-looks-like-address"),
    ("\u2800\u2800", "name-bad-character"), ("a" + "\u0301" * 20, "name-too-many-marks"),
])
def test_impersonating_names_are_refused_with_a_sentence_in_both_languages(guarded: Any, name: str, code: str) -> None:
    answer = guarded.test_client().put("/api/names/me", json={"name": name}, **as_student(guarded, "10.77.0.2"))
    assert answer.status_code == 400 and answer.get_json()["code"] == code and answer.get_json()["error"]


def test_the_teacher_renames_anyone_even_to_a_reserved_word_and_clears(guarded: Any) -> None:
    client = guarded.test_client()
    client.put("/api/names/me", json={"name": "Ann"}, **as_student(guarded, "10.77.0.2"))
    assert client.put("/api/names/127.0.0.1", json={"name": "Teacher"}, **as_("control", "127.0.0.1")).status_code == 200
    renamed = client.put("/api/names/10.77.0.2", json={"name": "Ann B."}, **as_("control", "127.0.0.1"))
    assert renamed.get_json() == {"127.0.0.1": "Teacher", "10.77.0.2": "Ann B."}
    taken = client.put("/api/names/10.77.0.9", json={"name": "ann b."}, **as_("control", "127.0.0.1"))
    assert taken.status_code == 409 and taken.get_json()["code"] == "name-taken"  # unique for the teacher too
    assert client.delete("/api/names/10.77.0.2", **as_("control", "127.0.0.1")).get_json() == {"127.0.0.1": "Teacher"}
