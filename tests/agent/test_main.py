"""`python -m agent` as a user runs it, and what it reads from its host: URL, name, limits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest
import redis

from agent.config import checked_name, default_name, lab_from_env, limits_from_env
from agent.redisconn import check_url, connect, redacted
from lab.errors import BadInput

from ..redis_server import RedisServer
from ..support import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("url", ["", "localhost:6379", "http://h:1/0", "redis://", "redis://h:99999/0", "redis://h:1/x",
                                 "redis://h:1/0?db=x", "unix://", "unix://host/path", "unix:///r.sock?db=one"])
def test_a_malformed_url_is_a_sentence(url: str) -> None:
    with pytest.raises(BadInput) as caught:
        connect(url, 1)
    assert caught.value.code == "redis-url-invalid" and "redis://" in str(caught.value)


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "redis://:pw@h:1/2", "redis://h", "unix:///tmp/r.sock",
                                 "unix:///tmp/r.sock?db=3"])
def test_the_contract_urls_are_taken(url: str) -> None:
    check_url(url)


def test_passwords_never_reach_a_log_line() -> None:
    assert redacted("redis://:s3cret@h:1/0") == "redis://:***@h:1/0"
    assert redacted("redis://user:s3cret@h:1/0") == "redis://user:***@h:1/0"
    assert redacted("unix:///r.sock?db=1&password=s3cret") == "unix:///r.sock?db=1&password=***"
    assert redacted("unix:///r.sock") == "unix:///r.sock"
    with pytest.raises(BadInput) as caught:
        connect("redis://:s3cret@h:1/x", 1)
    assert "s3cret" not in str(caught.value)


def test_names_and_limits_from_the_host() -> None:
    assert checked_name("pc-01.lab_A") == "pc-01.lab_A"
    for bad in ("", "a" * 41, "pc 1", "pc:1", "ü"):
        with pytest.raises(BadInput):
            checked_name(bad)
    checked_name(default_name())
    assert limits_from_env({"SOCKETLAB_MAX_ENDPOINTS": "3"}).endpoints == 3
    with pytest.raises(BadInput) as caught:
        limits_from_env({"SOCKETLAB_MAX_ENDPOINTS": "lots"})
    assert "SOCKETLAB_MAX_ENDPOINTS" in str(caught.value)


def test_the_lab_numbers_its_ids_with_the_agent_name(tmp_path: Path) -> None:
    lab = lab_from_env("pc7", {"SOCKETLAB_FILES": str(tmp_path / "f"), "SOCKETLAB_DOWNLOADS": str(tmp_path / "d")})
    try:
        assert lab.create({"kind": "udp-server", "host": "127.0.0.1", "port": 0}).id == "e1@pc7"
    finally:
        lab.close()


def agent_process(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, SOCKETLAB_FILES=str(tmp_path / "files"), SOCKETLAB_DOWNLOADS=str(tmp_path / "downloads"))
    env.pop("SOCKETLAB_REDIS", None)
    return subprocess.Popen([sys.executable, "-m", "agent", *args], cwd=ROOT, env=env, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


class Output:
    """A process's output, read line by line in a thread of its own, so a test can wait for words."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.stream = process.stdout
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, name="agent-output", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.stream:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(list(self.lines))

    def wait_for(self, words: str, timeout: float = 30) -> None:
        wait_until(lambda: words in self.text(), timeout)

    def end(self) -> str:
        """Everything, once the process has ended (the read thread sees EOF)."""
        self.thread.join(30)
        return self.text()


def test_a_bad_url_stops_the_agent_at_once_with_a_sentence(tmp_path: Path) -> None:
    with agent_process(tmp_path, "--redis", "redis://:pw@h:1/x", "--name", "pc1") as process:
        out, _ = process.communicate(timeout=30)
    assert process.returncode == 2 and "is not a Redis URL" in out and "pw" not in out and "Traceback" not in out


def test_the_agent_runs_until_sigterm_and_leaves_no_heartbeat(tmp_path: Path, redis_server: RedisServer,
                                                              r: redis.Redis) -> None:
    with agent_process(tmp_path, "--redis", redis_server.url, "--name", "pc9") as process:
        try:
            beat = orjson.loads(wait_until(lambda: r.get("hb:pc9"), timeout=30))
            assert beat["pid"] == process.pid and beat["name"] == "pc9"
        finally:
            os.kill(process.pid, signal.SIGTERM)
            out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, out
    assert f"agent pc9 up on {redis_server.url}" in out and "stopped" in out and "Traceback" not in out
    assert r.exists("hb:pc9") == 0


def test_an_unreachable_redis_at_start_is_retried_not_fatal(tmp_path: Path, redis_server: RedisServer,
                                                            r: redis.Redis) -> None:
    redis_server.kill()  # the agent boots before Redis, as machines in a lab room often do
    with agent_process(tmp_path, "--redis", redis_server.url, "--name", "pc8") as process:
        output = Output(process)
        try:
            output.wait_for("Redis is unreachable")
            redis_server.start()
            r.connection_pool.reset()
            wait_until(lambda: r.exists("hb:pc8"), timeout=30)
        finally:
            os.kill(process.pid, signal.SIGTERM)
            process.wait(30)
        out = output.end()
    assert process.returncode == 0 and "Redis is back" in out and "Traceback" not in out
