"""Start-up problems: each is one sentence and a non-zero exit, with no URL printed that would not work.

The dashboard runs as users start it (`python -m webapp`, the production gunicorn command (docs/security.md)); a busy port
is a real socket this test holds on 127.0.0.1 port 0.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from webapp.startup import bind_problem

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def start(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SOCKETLAB_") or k == "SOCKETLAB_STATE_DIR"}
    return subprocess.run(argv, cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60, check=False)


def dev(*args: str) -> list[str]:
    return [sys.executable, "-m", "webapp", *args]


def gunicorn(bind: str) -> list[str]:
    return [GUNICORN, "-w", "1", "--threads", "4", "--graceful-timeout", "1", "-b", bind, "webapp:create_app()"]


def said(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


@pytest.fixture
def busy_port() -> object:
    with socket.create_server(("127.0.0.1", 0)) as held:
        yield held.getsockname()[1]


def test_a_busy_port_is_a_sentence_and_no_url(busy_port: int) -> None:
    result = start(dev("--port", str(busy_port)))
    assert result.returncode != 0
    assert f"port {busy_port} is already in use on 127.0.0.1" in result.stderr
    assert "http://" not in said(result) and "Traceback" not in said(result)


def test_a_busy_port_under_gunicorn_announces_no_token_link(busy_port: int) -> None:
    result = start(gunicorn(f"127.0.0.1:{busy_port}"), SOCKETLAB_TOKEN="secret-control")
    assert result.returncode != 0 and "Address already in use" in said(result)
    assert "?token=" not in said(result)  # the links are printed only once the socket is bound


@pytest.mark.parametrize("variable", ["SOCKETLAB_TOKEN", "SOCKETLAB_VIEW_TOKEN"])
@pytest.mark.parametrize("value", ["", "   "])
def test_a_token_variable_set_but_empty_is_a_sentence(variable: str, value: str) -> None:
    for argv in (dev("--port", "0"), gunicorn("127.0.0.1:0")):
        result = start(argv, **{variable: value})
        assert result.returncode != 0, said(result)
        assert f"{variable} is set but empty" in said(result)
        assert "http://" not in said(result) and "Traceback" not in said(result)


def test_an_address_not_of_this_machine_and_an_unknown_name_are_sentences() -> None:
    result = start(dev("--host", "192.0.2.254", "--port", "0"))  # TEST-NET-1: never on this machine
    assert result.returncode != 0 and "is not an address of this machine" in result.stderr
    result = start(dev("--host", "no-such-host.invalid", "--port", "0"))
    assert result.returncode != 0 and "could not be found" in result.stderr
    result = start(dev("--port", "70000"))
    assert result.returncode != 0 and "is not a port" in result.stderr and "http://" not in said(result)


def test_a_port_that_needs_root_says_so() -> None:
    problem = bind_problem(OSError(errno.EACCES, "Permission denied"), "0.0.0.0", 80)
    assert "ports below 1024 need administrator rights" in str(problem.code)
    if os.geteuid() != 0 or int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text()) <= 1:
        pytest.skip("needs root to run the dashboard as another user, and privileged low ports")
    # as an unprivileged user, port 1 is refused by the kernel before anything listens
    result = start(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *dev("--port", "1")],
                   SOCKETLAB_DOWNLOADS="/tmp/socketlab-startup-test-downloads")
    assert result.returncode != 0 and "ports below 1024 need administrator rights" in result.stderr, said(result)
    assert "http://" not in said(result)
