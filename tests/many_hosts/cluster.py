"""A lab room in namespaces: Redis on one LAN host, a lab agent (`python -m agent`) on each host, and
dashboards (`python -m webapp`) in the root namespace, all real processes started here and stopped by pid.

Redis listens on its host's LAN address, with a password, for the agents (as on a real lab network),
and on a unix socket for the dashboard: the filesystem is shared across network namespaces, so the
root namespace reaches a Redis whose network it cannot see.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis
import requests

from agent.redisconn import connect

from ..netns import Lan, Process
from ..redis_server import REDIS_SERVER, RedisServer, free_port
from ..servers import Dashboard, start_dashboard
from ..support import wait_until


class LanRedis(RedisServer):
    """redis-server inside `host`: on its LAN address and port (for agents) and a unix socket (for dashboards)."""

    def __init__(self, lan: Lan, host: str) -> None:
        self.lan, self.host = lan, host
        self.password = secrets.token_hex(16)
        # the host's namespace is brand new, so nothing there holds a port: one the root namespace just had
        # free is free there too, and the test never names a port itself
        self.lan_port = free_port()
        super().__init__()
        # redis-py takes the password of a unix socket URL from its query (agent/redisconn.py accepts that form)
        self.url = f"unix://{self.socket_path}?password={self.password}"
        self.lan_url = f"redis://:{self.password}@{lan.address[host]}:{self.lan_port}/0"

    def start(self, timeout: float = 10.0) -> None:
        self.socket_path.unlink(missing_ok=True)
        with open(self.folder / "redis.log", "ab") as log:
            self.process = subprocess.Popen(  # `ip netns exec` execs: the pid is redis-server's own
                ["ip", "netns", "exec", self.host, REDIS_SERVER, "--bind", self.lan.address[self.host],
                 "--port", str(self.lan_port), "--protected-mode", "no", "--requirepass", self.password,
                 "--unixsocket", str(self.socket_path), "--unixsocketperm", "700", "--save", "",
                 "--appendonly", "no", "--dir", str(self.folder)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server in {self.host} did not start: {self.log()[-2000:]}")
            time.sleep(0.01)

    def _answers(self) -> bool:
        with socket.socket(socket.AF_UNIX) as probe:
            probe.settimeout(1)
            try:
                probe.connect(str(self.socket_path))
                probe.sendall(f"AUTH {self.password}\r\nPING\r\n".encode())
                got = b""
                while b"PONG" not in got and len(got) < 200:
                    chunk = probe.recv(64)
                    if not chunk:
                        return False
                    got += chunk
                return True
            except OSError:
                return False

    def client(self) -> redis.Redis:
        """A plain client, as the test's own hands on the streams (the dashboard's way in: the unix socket)."""
        return connect(self.url, socket_timeout=5)


class Api:
    """The dashboard's REST API, as a script uses it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.url + path, timeout=10)

    def post(self, path: str, body: Any) -> requests.Response:
        return self.http.post(self.url + path, json=body, timeout=10)

    def create(self, **spec: Any) -> dict[str, Any]:
        answer = self.post("/api/endpoints", spec)
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    def agents(self) -> dict[str, dict[str, Any]]:
        answer = self.get("/api/agents")
        assert answer.status_code == 200, answer.text
        return {a["name"]: a for a in answer.json()}

    def events_page(self, **query: str) -> dict[str, Any]:
        """GET /api/events (after=0 unless given): {"events", "last", "dropped", ...}."""
        answer = self.http.get(self.url + "/api/events", params={"after": "0", "limit": "10000", **query}, timeout=10)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def events(self, **query: str) -> list[dict[str, Any]]:
        return list(self.events_page(**query)["events"])

    def close(self) -> None:
        self.http.close()


class Room:
    """Redis on the LAN's first host, agents named h1..hN (one per host), dashboards in the root namespace."""

    def __init__(self, lan: Lan, folder: Path) -> None:
        self.lan, self.folder = lan, folder
        self.redis = LanRedis(lan, lan.hosts[0])
        self.agents: dict[str, Process] = {}
        self.host_of = {f"h{i}": host for i, host in enumerate(lan.hosts, 1)}
        self.dashboards: list[Dashboard] = []
        self.apis: list[Api] = []

    def address(self, name: str) -> str:
        return self.lan.address[self.host_of[name]]

    def start_agent(self, name: str) -> Process:
        """`python -m agent` in that host, with the LAN as its reach and bind policy, its own folders."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOCKETLAB_") or k == "SOCKETLAB_STATE_DIR"}
        env.update(SOCKETLAB_BIND=f"{self.lan.subnet},0.0.0.0", SOCKETLAB_ALLOW=str(self.lan.subnet),
                   SOCKETLAB_FILES=str(self.folder / name / "files"), SOCKETLAB_DOWNLOADS=str(self.folder / name / "downloads"))
        self.agents[name] = self.lan.start(self.host_of[name], [sys.executable, "-m", "agent", "--redis",
                                                                 self.redis.lan_url, "--name", name], env)
        return self.agents[name]

    def start_dashboard(self) -> tuple[Dashboard, Api]:
        dash = start_dashboard("dev", self.folder / f"dashboard{len(self.dashboards)}", env={"SOCKETLAB_REDIS": self.redis.url})
        self.dashboards.append(dash)
        self.apis.append(Api(dash.url))
        return dash, self.apis[-1]

    def wait_up(self, api: Api, *names: str, timeout: float = 20.0) -> None:
        def up() -> bool:
            seen = api.agents()
            return all(seen.get(n, {}).get("state") == "up" for n in names)

        try:
            wait_until(up, timeout, 0.05)
        except AssertionError:
            said = {n: p.seen[-5:] for n, p in self.agents.items()}
            raise AssertionError(f"agents {names} not up within {timeout} s: {api.agents()}; agents said {said}") from None

    def kill_agent(self, name: str) -> None:
        os.kill(self.agents[name].popen.pid, signal.SIGKILL)
        self.agents[name].popen.wait(5)

    def link(self, name: str, up: bool) -> None:
        """Cut (or mend) that host's cable: its eth0 down or up, as `ip -n <host> link set eth0 down` does."""
        subprocess.run(["ip", "-n", self.host_of[name], "link", "set", "eth0", "up" if up else "down"],
                       check=True, capture_output=True, timeout=10)

    def kill_dashboard(self, dash: Dashboard) -> None:
        os.kill(dash.proc.pid, signal.SIGKILL)  # no goodbye: its Redis reads and its Socket.IO clients just end
        dash.proc.wait(5)

    def close(self) -> None:
        for api in self.apis:
            api.close()
        for dash in self.dashboards:
            dash.stop()  # (one the test killed is only reaped)
        for process in self.agents.values():
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)  # a clean stop: it deletes its heartbeat
        for process in self.agents.values():
            try:
                process.popen.wait(10)
            except subprocess.TimeoutExpired:
                pass  # process.stop() kills it
            process.stop()  # its output reader and pipes end with it (lan.close() does it again, harmlessly)
        self.redis.close()


def agent_events(events: list[dict[str, Any]], agent: str) -> list[int]:
    """The agent_seq of `agent`'s own events, in the order given (the dashboard's up/down notes have none)."""
    return [e["agent_seq"] for e in events if e.get("agent") == agent and e.get("agent_seq") is not None]


def check_once_in_order(seqs: list[int], what: str) -> None:
    """Every agent_seq from the first to the last exactly once, ascending by 1: nothing lost, repeated, reordered."""
    assert seqs, f"{what}: no events"
    problems = [(a, b) for a, b in zip(seqs, seqs[1:], strict=False) if b != a + 1]
    assert not problems, f"{what}: {len(problems)} breaks in agent_seq (pairs that do not step by 1): {problems[:10]}"
