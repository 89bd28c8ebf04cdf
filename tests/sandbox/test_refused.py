"""The sandbox as a teacher starts it: `python -m webapp --sandbox`, a real process.

- Where the system refuses namespaces (Ubuntu 24.04's AppArmor restriction), the dashboard says why in
  one sentence and exits with a failure status before announcing a URL; its redis-server is stopped. The refusal
  is simulated by an `unshare` first on the PATH that fails as Ubuntu's does.
- Where namespaces work, SIGTERM stops the dashboard and both its children, by pid.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Iterator

import pytest
import requests

from ..netns import ROOT
from ..support import EventCollector, wait_until
from .conftest import namespaces_work

APPARMOR = "unshare: write failed /proc/self/uid_map: Operation not permitted"


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue  # a thread that ended meanwhile (children belong to the main thread's fork anyway)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def announced_url(process: subprocess.Popen[str]) -> str:
    """The URL a `python -m webapp` child announces on its stderr (read up to that line)."""
    assert process.stderr is not None
    for line in process.stderr:
        found = re.search(r"dashboard on (http://\S+)", line)
        if found:
            return found.group(1).rstrip("/")
    raise AssertionError("the dashboard announced no URL")


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """A temporary folder the sandbox's user may search: pytest's are root's alone (0700), and run by
    root the sandbox's children are a user of their own."""
    if os.geteuid() != 0:
        yield tmp_path
        return
    made = Path(tempfile.mkdtemp(prefix="socketlab-refused-test-"))
    made.chmod(0o711)
    yield made
    shutil.rmtree(made)


def dashboard(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "webapp", "--sandbox", "--port", "0"], cwd=ROOT,
                            env={**os.environ, "SOCKETLAB_FILES": str(tmp_path / "files"),
                                 "SOCKETLAB_DOWNLOADS": str(tmp_path / "downloads"), "TMPDIR": str(tmp_path), **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_refused_namespace_is_one_sentence_and_a_failed_exit(folder: Path) -> None:
    tmp_path = folder
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "unshare"
    fake.write_text(f"#!/bin/sh\necho '{APPARMOR}' >&2\nexit 1\n")
    fake.chmod(0o755)
    process = dashboard(tmp_path, {"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    out, err = process.communicate(timeout=30)
    assert process.returncode != 0, err  # (SystemExit with a sentence: status 1)
    sentence = err.strip().splitlines()[-1]
    assert sentence.startswith("Socket Lab cannot start: the sandbox needs a user and network namespace")
    assert APPARMOR in sentence and "apparmor_restrict_unprivileged_userns" in sentence
    assert "http://" not in out + err  # no URL announced for a dashboard that is not there
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("socketlab-sandbox-")]  # redis stopped, folder gone


def test_sigterm_stops_the_dashboard_and_both_children(folder: Path) -> None:
    tmp_path = folder
    refused = namespaces_work()
    if refused:
        pytest.skip(f"no network namespace here: {refused}")
    process = dashboard(tmp_path, {})
    try:
        url = announced_url(process)
        session = requests.get(f"{url}/api/session", timeout=5).json()
        assert session["sandbox"] is True and [a["name"] for a in session["agents"]] == ["sandbox"]
        made = requests.post(f"{url}/api/endpoints", json={"kind": "tcp-server", "port": 0, "link": {"loss": 0.1}},
                             timeout=5)
        assert made.status_code == 201, made.text
        kids = children(process.pid)
        assert len(kids) == 2 and all(alive(k) for k in kids)  # redis-server and the agent
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
        wait_until(lambda: not any(alive(k) for k in kids), 10)
        assert not [p for p in tmp_path.iterdir() if p.name.startswith("socketlab-sandbox-")]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize("watched", [False, True], ids=["idle", "a-page-watching"])
def test_sigterm_to_gunicorn_stops_its_worker_and_both_children(folder: Path, watched: bool) -> None:
    """The README's gunicorn command with the sandbox: gunicorn's worker holds the app, and its children
    (in sessions of their own, so no signal to gunicorn's group reaches them) are stopped by the worker,
    also while a page's websocket holds one of its threads (gunicorn waits --graceful-timeout for it)."""
    refused = namespaces_work()
    if refused:
        pytest.skip(f"no network namespace here: {refused}")
    env = {**os.environ, "SOCKETLAB_SANDBOX": "1", "SOCKETLAB_FILES": str(folder / "files"),
           "SOCKETLAB_DOWNLOADS": str(folder / "downloads"), "TMPDIR": str(folder)}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "1", "--threads", "100", "--graceful-timeout", "5",
                                "-b", "127.0.0.1:0", "webapp:create_app()"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    kids: list[int] = []
    watchers: list[EventCollector] = []
    drain: threading.Thread | None = None
    try:
        assert process.stderr is not None
        url = ""
        for line in process.stderr:
            found = re.search(r"Listening at: (http://\S+)", line)
            if found:
                url = found.group(1)
                break
        assert url, "gunicorn announced no address"
        stderr = process.stderr
        drain = threading.Thread(target=stderr.read, name="gunicorn-output")  # (a full pipe would stall it)
        drain.start()
        session = wait_until(lambda: _session(url), 30)
        assert session["sandbox"] is True and [a["name"] for a in session["agents"]] == ["sandbox"]
        if watched:
            page = EventCollector(url)  # (connected when this returns: a websocket held by a worker's thread)
            watchers.append(page)
            assert page.sio.connected
        workers = children(process.pid)
        assert len(workers) == 1
        kids = children(workers[0])
        assert len(kids) == 2 and all(alive(k) for k in kids)  # redis-server and the agent
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        wait_until(lambda: not any(alive(k) for k in kids), 10)
        assert not [p for p in folder.iterdir() if p.name.startswith("socketlab-sandbox-")]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        for page in watchers:
            page.sio.disconnect()
        for kid in kids:
            if alive(kid):
                os.kill(kid, signal.SIGKILL)  # (the children this test's gunicorn left: the failure above says so)
        if process.stderr is not None:
            if drain is not None:
                drain.join(10)
            process.stderr.close()


def _session(url: str) -> dict[str, object] | None:
    try:
        answer = requests.get(f"{url}/api/session", timeout=5)
    except requests.RequestException:
        return None
    return answer.json() if answer.status_code == 200 else None  # type: ignore[no-any-return]
