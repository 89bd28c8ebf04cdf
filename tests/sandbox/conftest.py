"""A sandboxed dashboard for the tests: the app's own redis-server and one lab agent in a user +
network namespace of its own (webapp/sandbox.py), driven through the REST API.

Skipped, with the reason, where this machine gives no namespace (the refusal itself is tested with a
failing unshare in test_refused.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from lab import Limits
from webapp import create_app, shutdown
from webapp.config import DashboardConfig
from webapp.sandbox import drop_argv, sandbox_user, unshare_argv


def lab_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for a sandbox's files and downloads that its agent can reach: run by root, the agent
    is a user of its own, and pytest's temporary folders are root's alone (0700)."""
    if os.geteuid() != 0:
        return tmp_path_factory.mktemp("sandbox")
    folder = Path(tempfile.mkdtemp(prefix="socketlab-sandbox-test-"))
    folder.chmod(0o711)  # (search only: the sandbox makes its folders inside for its user)
    return folder


def namespaces_work() -> str | None:
    """None when `unshare` gives the sandbox's user a user and network namespace, else what it said."""
    argv = [*drop_argv(sandbox_user(DashboardConfig(), os.geteuid() == 0)), *unshare_argv(), "true"]
    try:
        done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return None if done.returncode == 0 else done.stderr.strip()


@pytest.fixture(scope="module")
def sandbox_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The module's sandboxed dashboard; a module's SANDBOX_LIMITS are its lab's limits (they reach the
    sandbox's agent through the dashboard's configuration)."""
    refused = namespaces_work()
    if refused:
        pytest.skip(f"no network namespace here: {refused}")
    root = lab_folder(tmp_path_factory)
    app = create_app({"TESTING": True, "SANDBOX": True, "FILES": str(root / "files"), "DOWNLOADS": str(root / "downloads"),
                      "LIMITS": getattr(request.module, "SANDBOX_LIMITS", Limits())})
    yield app
    sandbox = app.extensions["socketlab_sandbox"]
    shutdown(app)
    assert sandbox.agent.poll() is not None and sandbox.redis.poll() is not None  # stopped by pid
    assert not Path(sandbox.dir).exists()
    if os.geteuid() == 0:
        shutil.rmtree(root)


@pytest.fixture
def api(sandbox_app: Any) -> Any:
    client = sandbox_app.test_client()
    yield client
    client.post("/api/stage", json={"lesson": None})  # a fresh stage: every endpoint of the test closed


def in_namespace(app: Any, *argv: str) -> str:
    """A command's output inside the sandbox's network namespace (nsenter by the agent's pid)."""
    pid = app.extensions["socketlab_sandbox"].agent.pid
    # (root may enter any namespace; a user enters the agent's user namespace first, where it is root)
    enter = ["nsenter", "-t", str(pid), "-n"] if os.geteuid() == 0 else ["nsenter", "-t", str(pid), "-U", "-n", "--preserve-credentials"]
    return subprocess.run([*enter, *argv], capture_output=True, text=True, timeout=10, check=True).stdout
