"""The sandbox's lab is root of nothing but its own namespaces, whoever starts it.

Started by root, its children are a user of their own (not uid 0: a user namespace alone would leave
them the owner of root's files), unable to gain privileges back; started by a user, they are that
user. In both cases the agent is root inside a user namespace of its own, where it captures and drops
its own packets. Checked on the live processes through /proc, as an outsider would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from webapp import create_app
from webapp.config import DashboardConfig
from webapp.sandbox import DYNAMIC_UIDS, drop_argv, sandbox_user
from webapp.startup import StartupProblem

from ..netns import ROOT
from ..support import wait_until
from .conftest import namespaces_work
from .test_refused import alive, announced_url, children

NOBODY = 65534


def status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def real_uid(pid: int) -> int:
    return int(status(pid)["Uid"].split()[0])


def user_namespace(pid: int | str) -> str:
    return os.readlink(f"/proc/{pid}/ns/user")


def test_the_agent_and_redis_are_not_root_of_the_machine(sandbox_app: Any, api: Any) -> None:
    sandbox = sandbox_app.extensions["socketlab_sandbox"]
    expected = sandbox.user[0] if os.geteuid() == 0 else os.geteuid()
    assert expected != 0
    for child in (sandbox.agent, sandbox.redis):
        assert real_uid(child.pid) == expected, status(child.pid)["Uid"]
    agent = status(sandbox.agent.pid)
    assert user_namespace(sandbox.agent.pid) != user_namespace("self")  # a user namespace of its own
    # root inside it, that is its own uid outside: the one line of its map
    assert Path(f"/proc/{sandbox.agent.pid}/uid_map").read_text().split() == ["0", str(expected), "1"]
    if os.geteuid() == 0:
        assert agent["NoNewPrivs"] == "1"  # a set-uid program cannot make it root again
    # and what it is there for still works: a lossy link is real kernel rules in its namespace
    made = api.post("/api/endpoints", json={"kind": "tcp-server", "port": 0, "link": {"loss": 0.2}})
    assert made.status_code == 201, made.json


def test_the_sandbox_user_is_chosen_and_never_root() -> None:
    def given(env: dict[str, str]) -> DashboardConfig:
        return DashboardConfig.from_env(env)

    assert sandbox_user(given({}), is_root=False) is None
    assert sandbox_user(given({"SUDO_UID": "1000", "SUDO_GID": "1001"}), is_root=True) == (1000, 1001)
    uid, gid = sandbox_user(given({"SUDO_UID": "0"}), is_root=True)  # (sudo from root: no user to go back to)
    assert uid in DYNAMIC_UIDS and gid == uid
    assert sandbox_user(given({"SOCKETLAB_SANDBOX_USER": "4321"}), is_root=True) == (4321, 4321)
    with pytest.raises(StartupProblem, match="must not be root"):
        sandbox_user(given({"SOCKETLAB_SANDBOX_USER": "0"}), is_root=True)
    with pytest.raises(StartupProblem, match="has no such user"):
        sandbox_user(given({"SOCKETLAB_SANDBOX_USER": "no-such-user-here"}), is_root=True)
    assert "--no-new-privs" in drop_argv((4321, 4321)) and drop_argv(None) == []


@pytest.fixture
def searchable() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("only root starts the sandbox as another user")
    folder = Path(tempfile.mkdtemp(prefix="socketlab-privileges-test-"))
    folder.chmod(0o711)
    yield folder
    shutil.rmtree(folder)


def test_a_folder_the_sandbox_user_cannot_write_is_a_sentence(searchable: Path) -> None:
    locked = searchable / "root-only"
    locked.mkdir(mode=0o700)
    tempfile.tempdir = str(searchable)  # (the sandbox's own folder is made in the temporary folder)
    try:
        with pytest.raises(StartupProblem, match=r"cannot use .*root-only \(SOCKETLAB_DOWNLOADS\): give it"):
            create_app({"TESTING": True, "SANDBOX": True, "FILES": str(searchable / "files"), "DOWNLOADS": str(locked)})
    finally:
        tempfile.tempdir = None
    assert not [p for p in searchable.iterdir() if p.name.startswith("socketlab-sandbox-")]  # nothing left


def test_an_unprivileged_user_starts_the_sandbox_as_itself(searchable: Path) -> None:
    """`python -m webapp --sandbox` as a plain user (nobody): the agent is that user, root only inside
    its own user namespace, and capture and loss work there."""
    refused = namespaces_work()
    if refused:
        pytest.skip(f"no network namespace here: {refused}")
    home = searchable / "home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOCKETLAB_", "SUDO_"))}
    env.update(HOME=str(home), TMPDIR=str(home), SOCKETLAB_FILES=str(home / "files"),
               SOCKETLAB_DOWNLOADS=str(home / "downloads"), SOCKETLAB_STATE_DIR=str(home / "state"))
    process = subprocess.Popen(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                                sys.executable, "-m", "webapp", "--sandbox", "--port", "0"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = announced_url(process)
        session = requests.get(f"{url}/api/session", timeout=5).json()
        assert session["sandbox"] is True
        made = requests.post(f"{url}/api/endpoints", json={"kind": "tcp-server", "port": 0, "link": {"loss": 0.1}},
                             timeout=5)
        assert made.status_code == 201, made.text
        kids = children(process.pid)
        assert len(kids) == 2
        for kid in kids:
            assert real_uid(kid) == NOBODY
        agent = next(k for k in kids if "agent" in Path(f"/proc/{k}/cmdline").read_text())
        assert user_namespace(agent) != user_namespace("self")
        assert Path(f"/proc/{agent}/uid_map").read_text().split() == ["0", str(NOBODY), "1"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
        wait_until(lambda: not any(alive(k) for k in kids), 10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
