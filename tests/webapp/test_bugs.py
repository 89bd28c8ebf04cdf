"""A programmer's error in a route: 500 with a sentence that tells the user nothing of the code, logged
with its traceback; the lab goes on, and a user's error keeps its 4xx. The same over a lab agent, whose
own bug comes back as an answer."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ..conftest import RUNNERS


def broken_create(body: Any) -> Any:
    raise ZeroDivisionError("a bug in the lab")


@pytest.mark.parametrize("app", RUNNERS, indirect=True)
def test_a_bug_answers_500_and_is_logged(app: Any, client: Any, caplog: pytest.LogCaptureFixture) -> None:
    lab = app.extensions["socketlab"] or app.extensions["socketlab_local_agent"].lab
    app.testing = False  # (in tests a bug is raised, so that it fails the test that meets it)
    lab.create = broken_create  # the one thing not real here: the bug itself
    with caplog.at_level(logging.ERROR):
        answer = client.post("/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo"})
    assert answer.status_code == 500
    body = answer.get_json()
    assert body["code"] == "unexpected" and "ZeroDivisionError" not in body["error"] and "a bug in" not in body["error"]
    assert "ZeroDivisionError: a bug in the lab" in caplog.text  # the traceback is for whoever runs it
    del lab.create
    # a user's mistake is still a 4xx, and the lab goes on
    assert client.post("/api/endpoints", json={"kind": "tcp-server", "port": 70000}).status_code == 400
    assert client.post("/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo"}).status_code == 201
    assert client.get("/api/health").status_code == 200
