"""Joining the class over the API: names for addresses, the short code, the Join panel's data.

A student (a token of its own, from the short code) may name itself and nothing more; names are per
stage, short, one line, free of invisible controls; the short code is traded for a student's token,
never for the view or control token. (Guessing the code, and the students' tokens: test_students.py.)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, Iterator

import pytest

from webapp import create_app, shutdown
from webapp.auth import Access

CONTROL, VIEW = "control-secret", "view-secret"


@pytest.fixture
def guarded(folders: dict[str, Any]) -> Iterator[Any]:
    app = create_app({"TESTING": True, "FILES": str(folders["files"]), "DOWNLOADS": str(folders["downloads"]),
                      "ACCESS": Access(CONTROL, VIEW), "DASHBOARD_BIND": "0.0.0.0", "DASHBOARD_PORT": 5123,
                      "JOIN_CODE": "K7Q2XM"})
    yield app
    shutdown(app)


def as_(who: str, address: str = "10.77.0.2") -> dict[str, Any]:
    """Request arguments for "control", "view", or "student" (a student joined from `address`)."""
    token = {"control": CONTROL, "view": VIEW}.get(who) or who
    return {"headers": {"Authorization": f"Bearer {token}"}, "environ_base": {"REMOTE_ADDR": address}}


def student(app: Any, address: str = "10.77.0.2") -> str:
    """A student's own token, joined from `address` with the code (no name)."""
    answer = app.test_client().post("/api/join", json={"code": "K7Q2XM"}, environ_base={"REMOTE_ADDR": address})
    assert answer.status_code == 200, answer.get_json()
    return str(answer.get_json()["token"])


def test_a_student_names_itself_and_can_do_nothing_else(guarded: Any) -> None:
    client = guarded.test_client()
    me = student(guarded)
    answer = client.put("/api/names/me", json={"name": "Ann"}, **as_(me))
    assert answer.status_code == 200 and answer.get_json() == {"10.77.0.2": "Ann"}
    for method, path, body in (("PUT", "/api/names/10.77.0.3", {"name": "Bob"}), ("POST", "/api/stage", {"lesson": 1}),
                               ("DELETE", "/api/names/10.77.0.2", None), ("PUT", "/api/stage/teacher", {"view": "log"})):
        refused = client.open(path, method=method, json=body, **as_(me))
        assert refused.status_code == 403 and refused.get_json()["code"] == "student-only"
    stage = client.get("/api/stage", **as_(me)).get_json()
    assert stage["names"] == {"10.77.0.2": "Ann"}


def test_the_shared_view_token_names_nobody(guarded: Any) -> None:
    """Names are given by joined students (whose number is bounded), not by whoever holds the
    projector's link: the view token gets 403 on its own name too."""
    client = guarded.test_client()
    for method in ("PUT", "DELETE"):
        refused = client.open("/api/names/me", method=method, json={"name": "Ann"} if method == "PUT" else None,
                              **as_("view"))
        assert refused.status_code == 403 and refused.get_json()["code"] == "view-only"
    assert client.get("/api/names", **as_("view")).get_json() == {}


def test_a_controller_renames_and_clears_and_a_new_stage_forgets(guarded: Any) -> None:
    client = guarded.test_client()
    client.put("/api/names/me", json={"name": "Ann"}, **as_(student(guarded)))
    assert client.put("/api/names/10.77.0.2", json={"name": "Anne"}, **as_("control")).get_json() == {"10.77.0.2": "Anne"}
    assert client.put("/api/names/[::1]", json={"name": "teacher"}, **as_("control")).status_code == 200
    assert client.delete("/api/names/10.77.0.2", **as_("control")).get_json() == {"::1": "teacher"}
    bad = client.put("/api/names/not-an-ip", json={"name": "x"}, **as_("control"))
    assert bad.status_code == 400 and bad.get_json()["code"] == "name-bad-address"
    client.post("/api/stage", json={"lesson": None}, **as_("control"))
    assert client.get("/api/names", **as_("control")).get_json() == {}
    events = client.get("/api/events?after=0", **as_("control")).get_json()["events"]
    # a name change carries the change only (the whole stage would be the whole class's names each time)
    assert [e["params"] for e in events if e["kind"] == "classroom"][:2] == [
        {"stage": 1, "part": "name", "named": ["10.77.0.2", "Ann"]},
        {"stage": 1, "part": "name", "named": ["10.77.0.2", "Anne"]}]


@pytest.mark.parametrize(("name", "code"), [
    ("A" * 10_000, "name-too-long"),
    ("Ann\u202eevil", "name-bad-character"),  # RIGHT-TO-LEFT OVERRIDE: "Ann" would show as another name
    ("\u2067Ann", "name-bad-character"),  # RIGHT-TO-LEFT ISOLATE
    ("Ann\u200b", "name-bad-character"),  # ZERO WIDTH SPACE: two names that look the same
    ("Ann\nBob", "name-bad-character"),
    ("\x00", "name-bad-character"),
    ("   ", "name-empty"),
    (42, "name-not-text"),
    ("😀" * 25, "name-too-long"),
])
def test_hostile_names_are_refused_with_a_sentence(guarded: Any, name: Any, code: str) -> None:
    answer = guarded.test_client().put("/api/names/me", json={"name": name}, **as_(student(guarded)))
    assert answer.status_code == 400 and answer.get_json()["code"] == code
    assert answer.get_json()["error"] and len(answer.get_json()["error"]) < 200


@pytest.mark.parametrize(("name", "shown"), [
    ("<img src=x onerror=1>", "<img src=x onerror=1>"),  # text, escaped by the page
    ("👩\u200d💻 Ana", "👩\u200d💻 Ana"),  # the joiner inside an emoji is kept
    ("  Li   Wei ", "Li Wei"),
    ("小明", "小明"),
])
def test_names_that_are_text_are_kept_as_text(guarded: Any, name: str, shown: str) -> None:
    answer = guarded.test_client().put("/api/names/me", json={"name": name}, **as_(student(guarded)))
    assert answer.status_code == 200 and answer.get_json() == {"10.77.0.2": shown}


def test_renaming_oneself_is_limited_to_once_a_second(guarded: Any) -> None:
    client = guarded.test_client()
    me, other_one = student(guarded), student(guarded, "10.77.0.9")
    assert client.put("/api/names/me", json={"name": "Ann"}, **as_(me)).status_code == 200
    fast = client.put("/api/names/me", json={"name": "Bob"}, **as_(me))
    assert fast.status_code == 409 and fast.get_json()["code"] == "name-too-fast"
    other = client.put("/api/names/me", json={"name": "Bob"}, **as_(other_one, "10.77.0.9"))
    assert other.status_code == 200  # per address


def test_the_short_code_buys_a_token_of_the_students_own(guarded: Any) -> None:
    client = guarded.test_client()
    tokens = set()
    for typed in ("K7Q2XM", "k7q2xm", " k7q-2xm "):
        answer = client.post("/api/join", json={"code": typed}, environ_base={"REMOTE_ADDR": "10.77.0.5"})
        assert answer.status_code == 200
        body = answer.get_json()
        assert body["token"] not in (VIEW, CONTROL) and body["url"] == f"/?token={body['token']}"
        assert body["name"].startswith("student-")
        tokens.add(body["token"])
    assert len(tokens) == 3  # one each
    wrong = client.post("/api/join", json={"code": "AAAAAA"}, environ_base={"REMOTE_ADDR": "10.77.0.5"})
    assert wrong.status_code == 409 and wrong.get_json()["code"] == "join-wrong-code"


@pytest.mark.parametrize("body", [{"code": 123456}, {"code": "x" * 100_000}, {}, ["K7Q2XM"], {"code": None}])
def test_hostile_join_bodies_get_a_sentence(guarded: Any, body: Any) -> None:
    answer = guarded.test_client().post("/api/join", json=body, environ_base={"REMOTE_ADDR": "10.77.0.70"})
    assert answer.status_code in (400, 409) and answer.get_json()["error"]


def test_the_join_panel_names_real_addresses_and_the_view_link(guarded: Any) -> None:
    info = guarded.test_client().get("/api/join", **as_("control")).get_json()
    assert info["port"] == 5123 and info["code"] == "K7Q2XM" and info["needs_code"]
    assert info["view_url"].endswith(f":5123/?token={VIEW}") and CONTROL not in str(info)
    assert info["join_url"].endswith(":5123/join#K7Q2XM")
    kinds = [a["kind"] for a in info["addresses"]]
    assert "loopback" in kinds and kinds == sorted(kinds, key=["lan", "bridge", "link-local", "loopback"].index)
    if info["loopback_only"]:
        assert all(a["kind"] != "lan" for a in info["addresses"])
    else:
        assert info["host"] == info["addresses"][0]["address"] and info["short_url"].endswith(":5123/join")
    svg = guarded.test_client().get("/api/join/qr.svg", **as_("view"))
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    root = ET.fromstring(svg.data)
    assert root.tag.endswith("svg") and root.get("viewBox") and root.find("{http://www.w3.org/2000/svg}path") is not None


def test_a_loopback_dashboard_says_students_cannot_join(client: Any) -> None:
    info = client.get("/api/join").get_json()
    assert info["loopback_only"] and info["view_url"].startswith("http://127.0.0.1:") and not info["needs_code"]
