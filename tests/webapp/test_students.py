"""A token of each student's own (POST /api/join): what it may do and what it may not, over REST and
Socket.IO; names given at joining; the teacher's list and revoking; the tokens kept across a restart
in the state folder (SOCKETLAB_STATE_DIR), with its file modes; and the tracer reading a token from
the environment or a file, never from its command line."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Iterator

import pytest
import socketio as socketio_client

from webapp import create_app, shutdown
from webapp import join as join_module
from webapp.auth import Access, prepare_tokens
from webapp.join import source_of, student_name
from webapp.state import StateDir

from ..support import EventCollector, LiveServer, serve, wait_until
from .test_auth import ROUTES, ids

CONTROL, VIEW, CODE = "control-secret", "view-secret", "K7Q2XM"


def make_app(folders: dict[str, Path], **config: Any) -> Any:
    return create_app({"TESTING": True, "FILES": str(folders["files"]), "DOWNLOADS": str(folders["downloads"]),
                       "ACCESS": Access(CONTROL, VIEW), "JOIN_CODE": CODE, **config})


@pytest.fixture
def guarded(folders: dict[str, Path]) -> Iterator[Any]:
    app = make_app(folders)
    yield app
    shutdown(app)


def bearer(token: str, address: str = "10.77.0.2") -> dict[str, Any]:
    return {"headers": {"Authorization": f"Bearer {token}"}, "environ_base": {"REMOTE_ADDR": address}}


def join(app: Any, address: str = "10.77.0.2", **body: Any) -> dict[str, Any]:
    answer = app.test_client().post("/api/join", json={"code": CODE, **body}, environ_base={"REMOTE_ADDR": address})
    assert answer.status_code == 200, answer.get_json()
    return dict(answer.get_json())


TRACE = {"boot": 1, "events": []}


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_a_student_reads_what_a_viewer_reads_and_does_nothing_else(guarded: Any, method: str, path: str,
                                                                   body: Any) -> None:
    client = guarded.test_client()
    path = path.format(**ids(client))
    me = join(guarded)["token"]
    answer = client.open(path, method=method, json=body, **bearer(me))
    answer.close()  # (a file download's body is a file)
    if method in ("GET", "HEAD"):
        assert answer.status_code not in (401, 403, 500), (path, answer.status_code)
    else:
        assert answer.status_code == 403 and answer.get_json()["code"] == "student-only", (path, answer.get_json())
        assert answer.get_json()["error"]


def test_the_students_own_writes_and_the_teachers_routes(guarded: Any) -> None:
    client = guarded.test_client()
    ann = join(guarded, name="Ann")
    bob = join(guarded, "10.77.0.3", name="Bob")
    assert ann["name"] == "Ann" and ann["shown"] == "Ann" and bob["name"] == "Bob"
    # its own name, its own traced program
    assert client.put("/api/names/me", json={"name": "Annie"}, **bearer(ann["token"])).status_code == 200
    assert client.post("/api/traces/Ann/events", json=TRACE, **bearer(ann["token"])).status_code == 200
    # another student's traces, in any spelling of the name: 403, the sentence saying its own name
    for other in ("Bob", "ann", "Ann.x", "student-1"):
        refused = client.post(f"/api/traces/{other}/events", json=TRACE, **bearer(ann["token"]))
        assert refused.status_code == 403 and refused.get_json()["code"] == "student-other-trace", other
        assert refused.get_json()["params"] == {"name": "Ann"}
    # the teacher's list and revoking: control only
    for method, path in (("GET", "/api/students"), ("DELETE", "/api/students/Bob"), ("POST", "/api/join/code")):
        for token in (ann["token"], VIEW):
            refused = client.open(path, method=method, **bearer(token))
            assert refused.status_code == 403 and refused.get_json()["code"] in ("control-only", "student-only",
                                                                                 "view-only"), (method, path)
    # the shared view token posts no traces and names nobody
    assert client.post("/api/traces/Ann/events", json=TRACE, **bearer(VIEW)).get_json()["code"] == "view-only"
    assert client.put("/api/names/me", json={"name": "X"}, **bearer(VIEW, "10.77.0.9")).status_code == 403
    listed = client.get("/api/students", **bearer(CONTROL)).get_json()
    assert [(s["name"], s["shown"], s["address"], s["revoked"]) for s in listed] == [
        ("Ann", "Ann", "10.77.0.2", None), ("Bob", "Bob", "10.77.0.3", None)]
    assert all(isinstance(s["joined"], float) for s in listed) and "token" not in str(listed)


def test_a_student_never_learns_the_view_token(guarded: Any) -> None:
    """A revoked student holding the view token could still watch: the join info leaves it out."""
    me = join(guarded)["token"]
    info = guarded.test_client().get("/api/join", **bearer(me)).get_json()
    assert "view_url" not in info and VIEW not in str(info) and info["join_url"].endswith(f"/join#{CODE}")
    assert "view_url" in guarded.test_client().get("/api/join", **bearer(VIEW)).get_json()


@pytest.mark.parametrize(("shown", "name"), [
    ("Ann", "Ann"), ("José", "Jose"), ("Ann Lee", "Ann-Lee"), ("小明", "student-1"), ("Ann 🐱", "Ann"),
    (None, "student-1"), ("..--", "student-1"), ("x" * 24, "x" * 24),
])
def test_a_students_name_is_one_a_trace_url_takes(shown: str | None, name: str) -> None:
    from agent.config import checked_name

    assert student_name(shown, set()) == checked_name(name)


def test_names_stay_unique_whatever_the_case(guarded: Any) -> None:
    names = [join(guarded, f"10.77.1.{i}", name=n)["name"] for i, n in enumerate(["Ann", "小明", "李华"], 1)]
    names.append(join(guarded, "10.77.1.9")["name"])
    assert names == ["Ann", "student-1", "student-2", "student-3"]
    # "ann" is Ann to the class (lab/names.py): refused, and no token given for it
    again = guarded.test_client().post("/api/join", json={"code": CODE, "name": "ann"}, environ_base={"REMOTE_ADDR": "10.77.1.8"})
    assert again.status_code == 409 and again.get_json()["code"] == "name-taken"
    assert len(guarded.test_client().get("/api/students", **bearer(CONTROL)).get_json()) == 4


def test_a_student_never_gets_the_name_of_one_of_the_class_labs(guarded: Any) -> None:
    """make class's labs are agents "lab" and "sandbox": a student called Lab traces as Lab-2."""
    assert join(guarded, "10.77.2.1", name="Lab")["name"] == "Lab-2"
    assert join(guarded, "10.77.2.2", name="sandbox")["name"] == "sandbox-2"


def test_a_name_given_at_joining_names_the_address(guarded: Any) -> None:
    answer = join(guarded, "10.77.0.4", name="  小明 ")
    assert answer["shown"] == "小明" and answer["name"] == "student-1"
    assert guarded.test_client().get("/api/names", **bearer(CONTROL)).get_json() == {"10.77.0.4": "小明"}
    bad = guarded.test_client().post("/api/join", json={"code": CODE, "name": "Ann\u202e"},
                                     environ_base={"REMOTE_ADDR": "10.77.0.5"})
    assert bad.status_code == 400 and bad.get_json()["code"] == "name-bad-character"  # (lab/names.py's rule)
    assert len(guarded.test_client().get("/api/students", **bearer(CONTROL)).get_json()) == 1  # no token then
    extra = guarded.test_client().post("/api/join", json={"code": CODE, "token": "x"}, environ_base={"REMOTE_ADDR": "10.77.0.5"})
    assert extra.status_code == 400


def test_revoking_refuses_the_token_at_once(guarded: Any) -> None:
    client = guarded.test_client()
    ann, bob = join(guarded, name="Ann"), join(guarded, "10.77.0.3")
    assert client.get("/api/stage", **bearer(ann["token"])).status_code == 200
    revoked = client.delete("/api/students/Ann", **bearer(CONTROL))
    assert revoked.status_code == 200 and revoked.get_json()["revoked"]
    for method, path in (("GET", "/api/stage"), ("PUT", "/api/names/me"), ("POST", "/api/traces/Ann/events")):
        answer = client.open(path, method=method, json={"name": "A"} if method == "PUT" else TRACE, **bearer(ann["token"]))
        assert answer.status_code == 401 and answer.get_json()["code"] == "unauthorized", path
    assert client.get("/api/stage", **bearer(bob["token"])).status_code == 200  # the others go on
    unknown = client.delete("/api/students/nobody", **bearer(CONTROL))
    assert unknown.status_code == 404 and unknown.get_json()["code"] == "no-such-student"
    listed = {s["name"]: s["revoked"] for s in client.get("/api/students", **bearer(CONTROL)).get_json()}
    assert listed["Ann"] and listed["student-1"] is None
    # a revoked student's name is not given again: a newcomer cannot take over its lanes
    assert join(guarded, name="Ann")["name"] == "Ann-2"


def test_joins_are_bounded(guarded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(join_module, "MAX_PER_SOURCE", 3)
    monkeypatch.setattr(join_module, "MAX_STUDENTS", 5)
    for _ in range(3):
        join(guarded, "10.77.2.1")
    one_address = guarded.test_client().post("/api/join", json={"code": CODE, "name": "Zoë"},
                                             environ_base={"REMOTE_ADDR": "10.77.2.1"})
    assert one_address.status_code == 413 and one_address.get_json()["code"] == "join-too-many-from-address"
    assert guarded.test_client().get("/api/names", **bearer(CONTROL)).get_json() == {}  # no name without a token
    join(guarded, "10.77.2.2")
    join(guarded, "10.77.2.3")
    full = guarded.test_client().post("/api/join", json={"code": CODE}, environ_base={"REMOTE_ADDR": "10.77.2.4"})
    assert full.status_code == 413 and full.get_json()["code"] == "join-class-full" and full.get_json()["error"]
    guarded.test_client().delete("/api/students/student-1", **bearer(CONTROL))
    join(guarded, "10.77.2.4")  # a revoked token frees its place


def test_the_loopback_dashboard_without_tokens_still_names_itself(client: Any) -> None:
    """No tokens: this machine is the controller (loopback); joining gives no token, nothing is kept."""
    assert client.put("/api/names/me", json={"name": "Ann"}).status_code == 200
    code = client.get("/api/join").get_json()["code"]
    answer = client.post("/api/join", json={"code": code})
    assert answer.status_code == 200 and answer.get_json()["token"] is None


# -- Socket.IO --------------------------------------------------------------------------------------

@pytest.fixture
def guarded_live(guarded: Any) -> Iterator[LiveServer]:
    with serve(guarded, "students-live") as live:
        yield live


def test_a_revoked_students_live_connection_is_closed(guarded_live: LiveServer) -> None:
    app = guarded_live.app
    ann, bob = join(app, "127.0.0.1", name="Ann"), join(app, "127.0.0.1", name="Bob")
    watching = EventCollector(guarded_live.url, auth={"token": ann["token"]})
    other = EventCollector(guarded_live.url, auth={"token": bob["token"]})
    try:
        app.test_client().post("/api/stage", json={"lesson": None}, **bearer(CONTROL))
        watching.wait_for(kind="stage")  # a student receives what a viewer receives
        assert app.test_client().delete("/api/students/Ann", **bearer(CONTROL)).status_code == 200
        wait_until(lambda: not watching.sio.connected, 10)
        sio = socketio_client.Client(reconnection=False)
        with pytest.raises(socketio_client.exceptions.ConnectionError):
            sio.connect(guarded_live.url, transports=["websocket"], auth={"token": ann["token"]}, wait_timeout=5)
        sio.disconnect()
        assert other.sio.connected
    finally:
        watching.close()
        other.close()


# -- the state folder -------------------------------------------------------------------------------

def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_students_and_the_code_survive_a_restart(folders: dict[str, Path], state_dir: Path) -> None:
    first = make_app(folders, JOIN_CODE=None)
    code = first.test_client().get("/api/join", **bearer(CONTROL)).get_json()["code"]
    answer = first.test_client().post("/api/join", json={"code": code, "name": "Ann"}, environ_base={"REMOTE_ADDR": "10.77.0.2"})
    ann = answer.get_json()["token"]
    join_as_bob = first.test_client().post("/api/join", json={"code": code}, environ_base={"REMOTE_ADDR": "10.77.0.3"})
    bob = join_as_bob.get_json()["token"]
    first.test_client().delete("/api/students/student-1", **bearer(CONTROL))
    shutdown(first)
    again = make_app(folders, JOIN_CODE=None)
    try:
        client = again.test_client()
        assert client.get("/api/join", **bearer(CONTROL)).get_json()["code"] == code
        assert client.get("/api/stage", **bearer(ann)).status_code == 200
        assert client.get("/api/stage", **bearer(bob)).status_code == 401  # revoked stays revoked
        assert [s["name"] for s in client.get("/api/students", **bearer(CONTROL)).get_json()] == ["Ann", "student-1"]
    finally:
        shutdown(again)
    assert mode(state_dir) == 0o700
    files = sorted(p.name for p in state_dir.iterdir())
    assert files == ["join.json", "students.json"]  # (no temporary file left behind)
    assert all(mode(state_dir / f) == 0o600 for f in files)
    kept = (state_dir / "students.json").read_text()
    assert ann not in kept and bob not in kept  # only their SHA-256


def test_generated_tokens_are_kept_and_given_tokens_are_not(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "deep" / "state")
    first = prepare_tokens(None, None, ["0.0.0.0"], state)
    again = prepare_tokens(None, None, ["0.0.0.0"], state)
    assert (first.control, first.view) == (again.control, again.view) and first.control
    assert mode(state.path) == 0o700 and mode(state.path / "tokens.json") == 0o600
    given = prepare_tokens("mine-secret", None, ["0.0.0.0"], state)
    assert given.control == "mine-secret" and given.view == first.view
    assert "mine-secret" not in (state.path / "tokens.json").read_text()
    assert not prepare_tokens(None, None, ["127.0.0.1"], StateDir(tmp_path / "unused")).required
    assert not (tmp_path / "unused").exists()  # a loopback dashboard keeps nothing


@pytest.mark.parametrize("content", [b"{not json", b"[]", b"\xff\xfe"])
def test_a_corrupt_state_file_is_a_sentence_at_start(folders: dict[str, Path], state_dir: Path, content: bytes) -> None:
    state_dir.mkdir(mode=0o700)
    (state_dir / "students.json").write_bytes(content)
    with pytest.raises(SystemExit) as stopped:
        make_app(folders)
    sentence = str(stopped.value.code)
    assert sentence.startswith("Socket Lab cannot start: the state file") and "students.json" in sentence


def test_an_unreadable_state_file_is_a_sentence_at_start(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    state = StateDir(tmp_path)
    (tmp_path / "tokens.json").write_text("{}")
    os.chmod(tmp_path / "tokens.json", 0)
    with pytest.raises(SystemExit, match="tokens.json cannot be read"):
        prepare_tokens(None, None, ["0.0.0.0"], state)


def test_ipv6_sources_are_counted_per_64() -> None:
    assert source_of("2001:db8:1:2::1") == source_of("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert source_of("2001:db8:1:3::1") != source_of("2001:db8:1:2::1")
    assert source_of("::ffff:10.0.0.1") == source_of("10.0.0.1") == "10.0.0.1"
