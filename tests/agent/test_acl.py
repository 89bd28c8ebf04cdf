"""Redis ACL users (agent/acl.py) on a real redis-server: an agent's user touches its own keys only, the
dashboards' user reads the agents and writes commands, and a whole room works under them."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import redis

from agent.redisconn import connect
from webapp import create_app, shutdown

from ..redis_server import RedisServer
from ..support import Resources, wait_until

ROOT = Path(__file__).resolve().parents[2]


def acl(admin_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOCKETLAB_REDIS": admin_url, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "agent.acl", *args], check=False, env=env, capture_output=True, text=True,
                          timeout=30, cwd=ROOT)


def user(server: RedisServer, tmp_path: Path, *args: str) -> str:
    out = tmp_path / f"{args[-1]}.url"
    done = acl(server.url, *args, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and done.stdout == ""  # the password is in the file only
    return out.read_text().strip()


@pytest.fixture
def admin(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = connect(redis_server.url, socket_timeout=5)
    yield client
    client.close()


def refused(call: Any) -> bool:
    try:
        call()
    except redis.exceptions.NoPermissionError:
        return True
    return False


def test_an_agents_user_writes_its_own_keys_and_nothing_else(redis_server: RedisServer, tmp_path: Path,
                                                            admin: redis.Redis) -> None:
    url = user(redis_server, tmp_path, "add", "pc1")
    assert "agent-pc1" in url
    pc1 = connect(url, socket_timeout=5)
    try:
        assert pc1.xadd("ev:pc1", {"e": b"{}"})
        assert pc1.set("hb:pc1", b"{}", px=1000)
        assert pc1.xadd("reply:pc1:dash", {"id": b"1"})
        for attack in (lambda: pc1.xadd("ev:pc2", {"e": b"{}"}), lambda: pc1.xadd("stage", {"e": b"{}"}),
                       lambda: pc1.set("hb:ghost", b"{}"), lambda: pc1.xadd("reply:pc2:dash", {"id": b"1"}),
                       lambda: pc1.xadd("cmd:pc2", {"op": b"endpoints.list"}), lambda: pc1.xread({"ev:pc2": "0-0"}),
                       lambda: pc1.xread({"reply:pc1:dash": "0-0"}), lambda: list(pc1.scan_iter(match="*")),
                       pc1.flushall, lambda: pc1.execute_command("ACL", "SETUSER", "agent-pc1", "~*"),
                       lambda: pc1.publish("stage", "x")):
            assert refused(attack)
    finally:
        pc1.close()
    assert admin.xlen("stage") == 0 and not admin.exists("ev:pc2", "hb:ghost", "reply:pc2:dash")
    assert acl(redis_server.url, "remove", "pc1").returncode == 0
    with pytest.raises(redis.exceptions.AuthenticationError):
        connect(url, socket_timeout=5).ping()


def test_the_dashboards_user_reads_agents_and_writes_commands_only(redis_server: RedisServer, tmp_path: Path) -> None:
    dash = connect(user(redis_server, tmp_path, "dashboard"), socket_timeout=5)
    try:
        assert dash.xadd("cmd:pc1", {"op": b"endpoints.list"}) and dash.xadd("stage", {"e": b"{}"})
        assert dash.xread({"ev:pc1": "0-0", "reply:pc1:d": "0-0"}) == [] and dash.mget(["hb:pc1"]) == [None]
        assert refused(lambda: dash.xadd("ev:pc1", {"e": b"{}"})) and refused(lambda: dash.set("hb:pc1", b"{}"))
        assert refused(dash.flushall) and refused(lambda: dash.set("other", b"x"))
    finally:
        dash.close()


def test_a_room_works_under_its_acl_users(redis_server: RedisServer, tmp_path: Path, resources: Resources) -> None:
    """A real `python -m agent` under its own user (URL from the environment), a dashboard under its own."""
    agent_url, dash_url = user(redis_server, tmp_path, "add", "pc1"), user(redis_server, tmp_path, "dashboard")
    env = {**os.environ, "SOCKETLAB_REDIS": agent_url, "PYTHONPATH": str(ROOT),
           "SOCKETLAB_FILES": str(tmp_path / "files"), "SOCKETLAB_DOWNLOADS": str(tmp_path / "downloads")}
    log = open(tmp_path / "agent.log", "w+")  # noqa: SIM115  (closed below, after the process)
    process = subprocess.Popen([sys.executable, "-m", "agent", "--name", "pc1"], env=env, cwd=tmp_path,
                               stdout=log, stderr=subprocess.STDOUT)
    app = create_app({"TESTING": True, "REDIS": dash_url})
    try:
        c = app.test_client()
        wait_until(lambda: [a["name"] for a in c.get("/api/agents").get_json() if a["state"] == "up"] == ["pc1"], 15)
        server = c.post("/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo"})
        assert server.status_code == 201, server.get_json()
        client = c.post("/api/endpoints", json={"kind": "tcp-client", "port": server.get_json()["local"][1]}).get_json()
        assert c.post(f"/api/endpoints/{client['id']}/send", json={"data": "hello"}).get_json() == {"sent": 5}
        recv = lambda: [e for e in c.get("/api/events?after=0").get_json()["events"]  # noqa: E731
                        if e["kind"] == "recv" and e.get("agent") == "pc1"]
        wait_until(lambda: len(recv()) >= 2, 10)  # the server's recv and the echo's
        assert c.delete(f"/api/endpoints/{server.get_json()['id']}").status_code == 200
    finally:
        shutdown(app)
        process.terminate()
        process.wait(15)
        log.seek(0)
        output = log.read()
        log.close()
    assert process.returncode == 0, output
    assert "NOPERM" not in output and "visible" not in output and "every user" not in output, output


def test_a_password_in_argv_is_warned_about(redis_server: RedisServer, tmp_path: Path) -> None:
    url = "redis://:secret@127.0.0.1:1/0"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SOCKETLAB_REDIS", None)
    done = subprocess.run([sys.executable, "-m", "agent", "--redis", url, "--name", "not a name"], check=False, env=env,
                          capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert done.returncode == 2 and "every user of this machine can read it" in done.stderr
    quiet = subprocess.run([sys.executable, "-m", "agent", "--name", "not a name"], check=False, env={**env, "SOCKETLAB_REDIS": url},
                           capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert quiet.returncode == 2 and "every user" not in quiet.stderr
    assert "SOCKETLAB_REDIS" in subprocess.run([sys.executable, "-m", "agent", "--help"], check=False, env=env, capture_output=True,
                                               text=True, timeout=30, cwd=tmp_path).stdout
