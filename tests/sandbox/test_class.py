"""`make class` (python -m webapp --class), in process: two labs under one dashboard. The lessons'
servers listen on every address in the class's lab ("lab", in this process), where students' own
programs reach them; lessons 10-14 go to the sandbox, which captures and drops its own packets. A
machine without namespaces still gets its class, on one lab of this process."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import Any, Iterator

import pytest

from webapp import create_app, shutdown
from lab.client import LocalLabs

from ..support import wait_until
from .conftest import lab_folder, namespaces_work


def started(folder: Path) -> Any:
    return create_app({"TESTING": True, "CLASS": True, "FILES": str(folder / "files"),
                       "DOWNLOADS": str(folder / "downloads")})


@pytest.fixture(scope="module")
def class_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    refused = namespaces_work()
    if refused:
        pytest.skip(f"no network namespace here: {refused}")
    folder = lab_folder(tmp_path_factory)
    app = started(folder)
    yield app
    shutdown(app)
    if os.geteuid() == 0:
        shutil.rmtree(folder)  # (made by lab_folder outside pytest's folders)


def echoed(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        got = b""
        while len(got) < len(data):
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
        return got


def test_a_class_has_the_classroom_lab_and_the_sandbox(class_app: Any) -> None:
    api = class_app.test_client()
    session = api.get("/api/session").json
    assert session["sandbox"] is True and session["default_agent"] == "lab"
    assert sorted(a["name"] for a in session["agents"] if a["state"] == "up") == ["lab", "sandbox"]


def test_lesson_servers_listen_on_every_address_and_wire_lessons_go_to_the_sandbox(class_app: Any) -> None:
    api = class_app.test_client()
    stage = api.post("/api/stage", json={"lesson": 1}).json
    assert stage["lesson"]["state"] == "ready", stage["lesson"]
    server = api.get(f"/api/endpoints/{stage['lesson']['ids']['server']}").json
    assert server["id"].endswith("@lab") and server["local"][0] == "0.0.0.0"
    assert echoed(server["local"][1], b"from a student's laptop") == b"from a student's laptop"

    stage = api.post("/api/stage", json={"lesson": 10}).json
    assert stage["lesson"]["state"] == "ready", stage["lesson"]
    ids = [i for i in stage["lesson"]["ids"].values() if isinstance(i, str)]
    assert ids and all(i.endswith("@sandbox") for i in ids)
    # a lesson of the class's lab may still be sent to the sandbox by name (the teacher's choice)
    stage = api.post("/api/stage", json={"lesson": 1, "agent": "sandbox"}).json
    assert stage["lesson"]["ids"]["server"].endswith("@sandbox")


def test_a_socket_that_names_no_agent_goes_to_the_class_lab(class_app: Any) -> None:
    api = class_app.test_client()
    made = api.post("/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo"})
    assert made.status_code == 201 and made.json["id"].endswith("@lab"), made.json
    api.delete(f"/api/endpoints/{made.json['id']}")


def test_the_download_and_http_lessons_reach_their_own_servers(class_app: Any) -> None:
    """Their servers listen on 0.0.0.0: the lab's own clients and the page's link use loopback."""
    api = class_app.test_client()
    stage = api.post("/api/stage", json={"lesson": 5}).json
    assert stage["lesson"]["state"] == "ready", stage["lesson"]
    answer = api.post("/api/stage/actions/downloadFramed", json={})
    assert answer.status_code == 200, answer.json
    download = answer.json["stage"]["lesson"]["ids"]["downloads"][0]
    wait_until(lambda: api.get(f"/api/downloads/{download}").json["state"] == "done", 10)
    stage = api.post("/api/stage", json={"lesson": 7}).json
    assert stage["lesson"]["link"].startswith("http://127.0.0.1:"), stage["lesson"]


def test_without_namespaces_the_class_runs_on_one_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Namespaces refused (an `unshare` that fails as Ubuntu's does): the class still starts, its
    lessons' servers on every address, and says why lessons 10-14 draw no packets when it cannot."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "unshare"
    fake.write_text("#!/bin/sh\necho 'unshare: write failed /proc/self/uid_map: Operation not permitted' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    app = started(tmp_path)  # (the sandbox never starts: no user of its own needs these folders)
    try:
        assert isinstance(app.extensions["socketlab_labs"], LocalLabs)
        api = app.test_client()
        session = api.get("/api/session").json
        assert session["sandbox"] is False and session["agents"] is None
        if os.geteuid() == 0:
            assert session["capture"] is True  # (root captures on its own)
        else:  # a user is told that the machine refused the sandbox, not to start one
            assert session["capture"] is False and session["why_not"]["capture"] == "capture-no-sandbox"
        stage = api.post("/api/stage", json={"lesson": 1}).json
        server = api.get(f"/api/endpoints/{stage['lesson']['ids']['server']}").json
        assert server["local"][0] == "0.0.0.0"
        assert echoed(server["local"][1], b"ping") == b"ping"
        assert api.post("/api/stage", json={"lesson": 10}).json["lesson"]["state"] == "ready"
    finally:
        shutdown(app)

