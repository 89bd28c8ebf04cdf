"""A student traces their own program with the token they got by joining, read from the environment
or a file (never argv): the events arrive under the student's name; under another name, 403."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests

from ..servers import start_dashboard
from ..support import wait_until
from .helpers import PROGRAMS, ROOT, TIMEOUT
from .test_http_delivery import TOKEN, TOKENS, traced_events


def joined(url: str, name: str) -> str:
    code = requests.get(f"{url}/api/join", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).json()["code"]
    answer = requests.post(f"{url}/api/join", json={"code": code, "name": name}, timeout=5).json()
    assert answer["name"] == name
    return str(answer["token"])


def trace(url: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    clean = {k: v for k, v in os.environ.items() if k != "SOCKETLAB_TOKEN"}
    return subprocess.run([sys.executable, "-m", "agent.trace", "--dashboard", url, *args, str(PROGRAMS / "steady.py"),
                           "3"], cwd=ROOT, input=b"\n", capture_output=True, timeout=TIMEOUT, check=False,
                          env={**clean, **env})


def test_a_students_token_from_the_environment_or_a_file(tmp_path: Path) -> None:
    dash = start_dashboard("dev", tmp_path, env=TOKENS)
    try:
        mine = joined(dash.url, "steady")  # the program's default name is its file's: steady
        traced = trace(dash.url, env={"SOCKETLAB_TOKEN": mine})
        assert traced.returncode == 0 and traced.stdout == b"half\ndone\n" and b"refused" not in traced.stderr
        wait_until(lambda: [e for e in traced_events(dash) if e["kind"] == "send"], 10)
        assert mine.encode() not in traced.stderr
        file = tmp_path / "token"
        file.write_text(mine + "\n")
        file.chmod(0o600)
        from_file = trace(dash.url, "--token-file", str(file), env={})
        assert from_file.returncode == 0 and b"refused" not in from_file.stderr, from_file.stderr
        # another student's token may not post as "steady"
        theirs = joined(dash.url, "Bob")
        refused = trace(dash.url, env={"SOCKETLAB_TOKEN": theirs})
        assert refused.returncode == 0 and b"refused the events: 403" in refused.stderr, refused.stderr
        assert b"--name Bob" in refused.stderr  # the sentence says which name is the student's
        # the old form still works, with a warning that `ps` shows the command line
        on_argv = trace(dash.url, "--token", mine, env={})
        assert on_argv.returncode == 0 and b"visible to every user" in on_argv.stderr
        missing = trace(dash.url, "--token-file", str(tmp_path / "nothing"), env={})
        assert missing.returncode == 2 and b"cannot read the token file" in missing.stderr
    finally:
        dash.stop()
