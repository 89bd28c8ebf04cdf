"""Configuration is read once per kind of process (dashboard, agent, tracer), in one module each,
checked with one sentence per mistake, and handed down; nothing writes to the environment."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from agent.config import AgentConfig
from lab import Limits
from lab.errors import BadInput
from webapp import create_app, shutdown
from webapp.config import DashboardConfig
from webapp.startup import StartupProblem

from ..redis_server import RedisServer
from ..support import wait_until

ROOT = Path(__file__).resolve().parents[2]
CONFIG_MODULES = {"webapp/config.py", "agent/config.py", "agent/trace/config.py"}
READS = re.compile(r"os\.environ|getenv|putenv|environb")


def test_only_the_configuration_modules_read_the_environment() -> None:
    sources = [*ROOT.glob("webapp/**/*.py"), *ROOT.glob("agent/**/*.py"), *ROOT.glob("lab/**/*.py"), ROOT / "gunicorn.conf.py"]
    assert len(sources) > 50
    readers = {str(path.relative_to(ROOT)) for path in sources if READS.search(path.read_text("utf-8"))}
    assert readers == CONFIG_MODULES
    for module in CONFIG_MODULES:  # and they only copy it: `dict(os.environ)`, never a write
        uses = [line.strip() for line in (ROOT / module).read_text("utf-8").splitlines()
                if READS.search(line) and not line.lstrip().startswith(("#", '"'))]
        assert uses and all(use == "return dict(os.environ)" for use in uses), (module, uses)


BAD_NUMBER = "SOCKETLAB_MAX_ENDPOINTS must be a whole number of at least 1, not 'lots'."


@pytest.mark.parametrize("value", ["lots", "0", "-3", "2.5"])
def test_a_bad_number_is_the_same_sentence_for_the_dashboard_and_the_agent(value: str) -> None:
    sentence = BAD_NUMBER.replace("'lots'", f"'{value}'")
    with pytest.raises(StartupProblem) as dashboard:
        DashboardConfig.from_env({"SOCKETLAB_MAX_ENDPOINTS": value})
    assert str(dashboard.value.code) == f"Socket Lab cannot start: {sentence}"
    with pytest.raises(BadInput) as agent:
        AgentConfig.from_env({"SOCKETLAB_MAX_ENDPOINTS": value}, name="pc1")
    assert str(agent.value) == sentence


@pytest.mark.parametrize(("env", "words"), [
    ({"SOCKETLAB_MAX_WEBSOCKETS": "many"}, "SOCKETLAB_MAX_WEBSOCKETS must be a whole number of at least 1, not 'many'."),
    ({"SOCKETLAB_SANDBOX": "maybe"}, "SOCKETLAB_SANDBOX must be 1 (on) or 0 (off), not 'maybe'."),
    ({"SOCKETLAB_CAPTURE": "2"}, "SOCKETLAB_CAPTURE must be 1 (on) or 0 (off), not '2'."),
    ({"SOCKETLAB_DASHBOARD_PORT": "http"}, "SOCKETLAB_DASHBOARD_PORT must be a port number from 0 to 65535, not 'http'."),
    ({"SOCKETLAB_ALLOW": "10.0.0.0/33"}, "SOCKETLAB_ALLOW"),
    ({"SOCKETLAB_BIND": "not an address!"}, "SOCKETLAB_BIND"),
    ({"SOCKETLAB_REDIS": "redis://h:port/0"}, "redis"),
    ({"SOCKETLAB_LOCAL_AGENT": "pc 1", "SOCKETLAB_REDIS": "redis://h:1/0"}, "pc 1"),
    ({"SOCKETLAB_TOKEN": " "}, "SOCKETLAB_TOKEN is set but empty"),
])
def test_each_mistake_is_one_sentence(env: dict[str, str], words: str) -> None:
    with pytest.raises(StartupProblem) as stopped:
        DashboardConfig.from_env(env)
    said = str(stopped.value.code)
    assert said.startswith("Socket Lab cannot start: ") and words in said and "\n" not in said


def test_the_variables_and_their_defaults() -> None:
    config = DashboardConfig.from_env({})
    assert (config.files, config.downloads, config.allow, config.bind, config.redis) == ("./lab-files", "./lab-downloads", "", "", "")
    assert config.limits == Limits() and not config.sandbox and not config.capture and config.token is None
    given = DashboardConfig.from_env({
        "SOCKETLAB_FILES": "/f", "SOCKETLAB_DOWNLOADS": "/d", "SOCKETLAB_ALLOW": "10.0.0.0/8", "SOCKETLAB_BIND": "0.0.0.0",
        "SOCKETLAB_HOSTS": "lab.example", "SOCKETLAB_MAX_ENDPOINTS": "3", "SOCKETLAB_MAX_WEBSOCKETS": "9",
        "SOCKETLAB_SANDBOX": "yes", "SOCKETLAB_CAPTURE": "1", "SOCKETLAB_TOKEN": "c", "SOCKETLAB_VIEW_TOKEN": "v",
        "SOCKETLAB_STATE_DIR": "/s", "SOCKETLAB_REDIS": "redis://h:1/0", "SOCKETLAB_LOCAL_AGENT": "a1", "PATH": "/bin"})
    assert (given.files, given.downloads, given.allow, given.bind, given.hosts) == ("/f", "/d", "10.0.0.0/8", "0.0.0.0", "lab.example")
    assert given.limits.endpoints == 3 and given.conn_limits.websockets == 9 and given.sandbox and given.capture
    assert (given.token, given.view_token, given.state_dir, given.redis, given.local_agent) == ("c", "v", "/s", "redis://h:1/0", "a1")
    assert given.inherited == {"PATH": "/bin"}  # (what a child is given besides its own SOCKETLAB_* variables)
    assert DashboardConfig.from_env({"SOCKETLAB_SANDBOX": "1"}, sandbox=False).sandbox is False  # a flag wins


def test_a_config_given_to_create_app_is_the_whole_configuration(folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """What the environment says does not reach an app that was handed its configuration."""
    monkeypatch.setenv("SOCKETLAB_MAX_ENDPOINTS", "lots")  # (read, it would stop the app)
    monkeypatch.setenv("SOCKETLAB_TOKEN", "from-the-environment")
    app = create_app(DashboardConfig(files=str(folders["files"]), downloads=str(folders["downloads"]),
                                     limits=Limits(endpoints=1), flask={"TESTING": True}))
    try:
        client = app.test_client()
        assert client.get("/api/endpoints").status_code == 200  # no token needed: none was configured
        assert client.post("/api/endpoints", json={"kind": "udp-server", "port": 0}).status_code == 201
        assert client.post("/api/endpoints", json={"kind": "udp-server", "port": 0}).status_code == 413
        assert sorted(p.name for p in folders["files"].iterdir())  # its files folder, filled with the samples
    finally:
        shutdown(app)


def test_the_config_reaches_the_agent_the_dashboard_runs(redis_server: RedisServer, tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "REDIS": redis_server.url, "LOCAL_AGENT": "a1", "FILES": str(tmp_path / "f"),
                      "DOWNLOADS": str(tmp_path / "d"), "LIMITS": Limits(endpoints=1), "ALLOW": "192.0.2.0/24"})
    try:
        client = app.test_client()
        wait_until(lambda: "a1" in app.extensions["socketlab_labs"].hub.up(), 10)
        lab = app.extensions["socketlab_local_agent"].lab
        assert lab.ctx.limits.endpoints == 1 and lab.files.root == (tmp_path / "f").resolve()
        assert client.post("/api/endpoints", json={"kind": "udp-server", "port": 0}).status_code == 201
        assert client.post("/api/endpoints", json={"kind": "udp-server", "port": 0}).status_code == 413
    finally:
        shutdown(app)


def run(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True,
                          timeout=60, check=False)


def test_the_commands_say_a_bad_number_and_stop(tmp_path: Path) -> None:
    folders = {"SOCKETLAB_FILES": str(tmp_path / "f"), "SOCKETLAB_DOWNLOADS": str(tmp_path / "d"),
               "SOCKETLAB_STATE_DIR": str(tmp_path / "s"), "SOCKETLAB_MAX_ENDPOINTS": "lots"}
    for argv in ([sys.executable, "-m", "webapp", "--port", "0"],
                 [sys.executable, "-m", "gunicorn", "-w", "1", "-b", "127.0.0.1:0", "webapp:create_app()"]):
        done = run(argv, **folders)
        assert done.returncode != 0 and f"Socket Lab cannot start: {BAD_NUMBER}" in done.stderr, done.stderr
        assert "?token=" not in done.stderr and "dashboard on" not in done.stderr and "Listening at" not in done.stderr
        assert "Traceback" not in done.stderr
    agent = run([sys.executable, "-m", "agent", "--name", "pc1"], SOCKETLAB_REDIS="redis://127.0.0.1:1/0", **folders)
    assert agent.returncode == 2 and agent.stderr.strip() == f"python -m agent: {BAD_NUMBER}"


def test_gunicorns_master_hands_its_configuration_to_the_worker(tmp_path: Path) -> None:
    """The README's command: the master reads the configuration and generates the control token
    (only a view token is given), and the worker's app answers to that token and knows its port, with
    nothing passed through the environment."""
    env = {"PATH": "/usr/bin:/bin", "SOCKETLAB_FILES": str(tmp_path / "f"), "SOCKETLAB_DOWNLOADS": str(tmp_path / "d"),
           "SOCKETLAB_STATE_DIR": str(tmp_path / "s"), "SOCKETLAB_VIEW_TOKEN": "view-secret-0123456789"}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "1", "--threads", "100", "--graceful-timeout", "5",
                                "-b", "127.0.0.1:0", "webapp:create_app()"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    assert process.stderr is not None
    reader = threading.Thread(target=lambda: lines.extend(process.stderr or []), name="gunicorn-output")
    reader.start()
    try:
        found = wait_until(lambda: re.search(r"Control the lab .*: (http://127\.0\.0\.1:(\d+))/\?token=(\S+)", "".join(lines)), 30)
        url, port, control = found.group(1), int(found.group(2)), found.group(3)
        wait_until(lambda: _answers(f"{url}/api/health"), 30)
        bearer = {"Authorization": f"Bearer {control}"}
        assert requests.get(f"{url}/api/endpoints", headers=bearer, timeout=5).status_code == 200
        assert requests.get(f"{url}/api/endpoints", timeout=5).status_code == 401
        assert requests.get(f"{url}/api/join", headers=bearer, timeout=5).json()["port"] == port
        assert requests.get(f"{url}/api/health", headers={"Host": "evil.example"}, timeout=5).status_code == 400
    finally:
        process.terminate()
        process.wait(30)
        reader.join(10)
        process.stderr.close()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False
