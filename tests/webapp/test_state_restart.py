"""A real restart of both servers (`python -m webapp` and the production gunicorn command (docs/security.md)) over one state
folder: the generated control token, the join code and a student's own token all still work."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
import requests

from ..servers import start_dashboard
from ..support import wait_until


@pytest.mark.parametrize("kind", ["dev", "gunicorn"])
def test_a_restart_keeps_the_tokens_the_code_and_the_students(kind: str, tmp_path: Path, state_dir: Path) -> None:
    env = {"SOCKETLAB_VIEW_TOKEN": "view-for-restart", "SOCKETLAB_STATE_DIR": str(state_dir)}  # (a control token is made)
    first = start_dashboard(kind, tmp_path, env=env)
    try:
        # (the reader thread may not have the links yet when /api/health answers)
        control = wait_until(lambda: re.search(r"Control the lab \(keep this secret\): \S+\?token=(\S+)", first.output()), 10)
        teacher = {"Authorization": f"Bearer {control.group(1)}"}
        code = requests.get(f"{first.url}/api/join", headers=teacher, timeout=10).json()["code"]
        student = requests.post(f"{first.url}/api/join", json={"code": code, "name": "Ann"}, timeout=10).json()
    finally:
        first.stop()
    again = start_dashboard(kind, tmp_path, env=env)
    try:
        wait_until(lambda: f"?token={control.group(1)}" in again.output(), 10)  # the same link is printed
        assert requests.get(f"{again.url}/api/join", headers=teacher, timeout=10).json()["code"] == code
        me = {"Authorization": f"Bearer {student['token']}"}
        assert requests.get(f"{again.url}/api/session", headers=me, timeout=10).json()["student"] == "Ann"
        posted = requests.post(f"{again.url}/api/traces/Ann/events", json={"boot": 1, "events": []}, headers=me,
                               timeout=10)
        assert posted.status_code == 200
    finally:
        again.stop()
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    assert sorted(p.name for p in state_dir.iterdir()) == ["join.json", "students.json", "tokens.json"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in state_dir.iterdir())
