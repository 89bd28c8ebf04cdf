"""Guessing the join code, performed over real sockets from many loopback addresses (127.0.x.y, each
request's own source): the wrong codes of the whole dashboard are bounded, the code rotates after
100 of them and the new one works; a class behind one address that mistyped a few times still joins,
every one of 40 students; the teacher makes a new code from the panel."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from webapp import create_app, shutdown
from webapp.auth import Access

from ..support import LiveServer, serve

CONTROL, VIEW, CODE = "control-secret", "view-secret", "K7Q2XM"


@pytest.fixture
def class_live(folders: dict[str, Path]) -> Iterator[LiveServer]:
    app = create_app({"TESTING": True, "FILES": str(folders["files"]), "DOWNLOADS": str(folders["downloads"]),
                      "ACCESS": Access(CONTROL, VIEW), "JOIN_CODE": CODE})
    with serve(app, "join-live") as live:
        yield live
    shutdown(app)


def call(port: int, method: str, path: str, body: Any = None, source: str = "127.0.0.1",
         token: str | None = None) -> tuple[int, Any]:
    """One request from `source` (a loopback address the client socket binds to)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read() or b"null")
    finally:
        conn.close()


def join(port: int, code: str, source: str) -> tuple[int, Any]:
    return call(port, "POST", "/api/join", {"code": code}, source)


def the_code(port: int) -> str:
    return str(call(port, "GET", "/api/join", token=CONTROL)[1]["code"])


def test_wrong_codes_from_many_addresses_rotate_the_code(class_live: LiveServer) -> None:
    port = class_live.port
    answers = [join(port, f"AAAA{i % 100:02d}", f"127.0.1.{i}") for i in range(1, 151)]
    assert {status for status, _ in answers} == {409}
    assert all(body["code"] == "join-wrong-code" for _, body in answers)  # each address its first try: heard
    new = the_code(port)
    assert new != CODE  # the 100th wrong code changed it
    assert join(port, CODE, "127.0.2.1")[1]["code"] == "join-wrong-code"  # the old code is gone
    status, body = join(port, new, "127.0.2.2")
    assert status == 200 and body["token"]  # the new one works
    # the last minute holds 100 wrong codes: an address that guessed is not heard again in it, not even
    # with the right code; an address that did not guess still is
    status, body = join(port, new, "127.0.1.7")
    assert status == 409 and body["code"] == "join-too-many-tries" and 0 < body["params"]["seconds"] <= 60
    assert join(port, "BBBBBB", "127.0.1.8")[1]["code"] == "join-too-many-tries"
    assert join(port, new, "127.0.2.3")[0] == 200
    assert call(port, "GET", "/api/health", source="127.0.3.1") == (200, {"status": "ok"})


def test_forty_students_behind_one_address_all_join_after_typos(class_live: LiveServer) -> None:
    port = class_live.port
    nat = "127.0.4.1"
    for i in range(15):  # a class mistypes now and then
        assert join(port, f"K7Q2X{i % 9 + 1}", nat)[1]["code"] == "join-wrong-code"
    tokens = set()
    for _ in range(40):
        status, body = join(port, CODE, nat)
        assert status == 200, body
        tokens.add(body["token"])
    assert len(tokens) == 40


def test_the_teacher_makes_a_new_code(class_live: LiveServer) -> None:
    port = class_live.port
    status, student = join(port, CODE, "127.0.5.1")
    assert status == 200
    for token in (VIEW, student["token"]):
        assert call(port, "POST", "/api/join/code", token=token)[0] == 403
    status, info = call(port, "POST", "/api/join/code", token=CONTROL)
    assert status == 200 and info["code"] != CODE and info["code_changed"]["reason"] == "teacher"
    assert the_code(port) == info["code"]
    assert join(port, CODE, "127.0.5.2")[1]["code"] == "join-wrong-code"
    assert join(port, info["code"], "127.0.5.2")[0] == 200


def test_an_ipv6_host_is_one_source_however_many_addresses_it_uses(class_live: LiveServer) -> None:
    client = class_live.app.test_client()

    def from_(address: str, code: str = "AAAAAA") -> str:
        answer = client.post("/api/join", json={"code": code}, environ_base={"REMOTE_ADDR": address})
        return str(answer.get_json().get("code") or answer.status_code)

    for i in range(100):
        assert from_(f"10.78.0.{i + 1}") == "join-wrong-code"
    assert from_("2001:db8:0:7::1") == "join-wrong-code"  # heard once
    assert from_("2001:db8:0:7::2") == "join-too-many-tries"  # the same /64
    assert from_("2001:db8:0:7:ffff::1", the_code(class_live.port)) == "join-too-many-tries"
    assert from_("2001:db8:0:8::1") == "join-wrong-code"  # another /64: heard
