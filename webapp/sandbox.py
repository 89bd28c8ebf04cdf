"""The sandbox: the dashboard's own Redis and one lab agent in a user + network namespace of its own.

`SOCKETLAB_SANDBOX=1 make run` (or `python -m webapp --sandbox`) starts, as children stopped by pid:

1. `redis-server` on a unix socket in a private temporary folder (mode 0700), with no TCP port;
2. one lab agent, `python -m agent --redis unix://... --name sandbox`, under `unshare`: a new network
   namespace (as root that is enough), inside a new user namespace when not root (`--map-root-user`:
   the agent is root of its own namespace only, so it may capture and impair its own traffic).
   `lo` is brought up first: a new namespace's loopback is down.

Then the dashboard runs exactly as over any agent (webapp/agents.py, SOCKETLAB_REDIS). Unix sockets
cross network namespaces, so nothing listens on a port but the dashboard itself.

Where namespaces are refused (Ubuntu 24.04's AppArmor restriction, a container without them), the
dashboard stops before it announces any URL, with one sentence saying why and what to do.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from .startup import StartupProblem

if TYPE_CHECKING:  # (redis is imported when a sandbox starts: an embedded dashboard never loads it)
    import redis

    from .agents import AgentHub

AGENT_NAME = "sandbox"
START_SECONDS = 15.0  # redis-server and the agent each come up in well under a second
STOP_SECONDS = 5.0
REPO = Path(__file__).resolve().parents[1]


def wanted(env: Mapping[str, str]) -> bool:
    return env.get("SOCKETLAB_SANDBOX", "").strip().lower() in ("1", "true", "yes", "on")


def unshare_argv(is_root: bool) -> list[str]:
    """A new network namespace; as a user, inside a new user namespace where that user is root."""
    return ["unshare", "--net"] if is_root else ["unshare", "--user", "--map-root-user", "--net"]


class Sandbox:
    """Both children, started in the constructor (it returns when the agent is up), stopped by stop()."""

    def __init__(self, env: Mapping[str, str] | None = None, python: str = sys.executable) -> None:
        self.env = dict(os.environ if env is None else env)
        self.dir = Path(tempfile.mkdtemp(prefix="socketlab-sandbox-"))  # mkdtemp: 0700, this user's only
        self.socket = self.dir / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.redis: subprocess.Popen[bytes] | None = None
        self.agent: subprocess.Popen[bytes] | None = None
        self._stopped = threading.Lock()
        try:
            self._start_redis()
            self._start_agent(python)
        except BaseException:
            self.stop()
            raise

    # -- starting ---------------------------------------------------------------------------------

    def _start_redis(self) -> None:
        if shutil.which("redis-server") is None:
            raise StartupProblem("the sandbox needs redis-server (Debian's redis-server package), and it is not installed. "
                                 "Install it, or run without SOCKETLAB_SANDBOX.")
        log = open(self.dir / "redis.log", "wb")
        with log:
            self.redis = subprocess.Popen(
                ["redis-server", "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
                 "--save", "", "--appendonly", "no", "--dir", str(self.dir)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        import redis

        client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1)
        try:
            if not self._wait(lambda: self._pings(client), self.redis):
                raise StartupProblem(f"the sandbox's redis-server did not start: {self._said('redis.log')}")
        finally:
            client.close()

    def _start_agent(self, python: str) -> None:
        if shutil.which("unshare") is None:
            raise StartupProblem("the sandbox needs the unshare program (util-linux), and it is not on the PATH.")
        env = {**self.env, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), self.env.get("PYTHONPATH", "")]))}
        env.pop("SOCKETLAB_REDIS", None)
        env.pop("SOCKETLAB_SANDBOX", None)
        env["SOCKETLAB_CAPTURE"] = "1"  # the agent's lab captures its own packets (lab/wire/)
        agent = shlex.join([python, "-m", "agent", "--redis", self.url, "--name", AGENT_NAME])
        # `ip link set lo up` first; exec keeps the pid: unshare execs the shell, the shell execs python
        argv = [*unshare_argv(os.geteuid() == 0), "--", "/bin/sh", "-c", f"ip link set lo up && exec {agent}"]
        log = open(self.dir / "agent.log", "wb")
        with log:
            self.agent = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        import redis

        client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1)
        try:
            up = self._wait(lambda: bool(client.exists(f"hb:{AGENT_NAME}")), self.agent)
        finally:
            client.close()
        if not up:
            raise StartupProblem(self._refusal())

    def _refusal(self) -> str:
        said = self._said("agent.log")
        if "unshare" in said or "Operation not permitted" in said or "Permission denied" in said:
            return (f"the sandbox needs a user and network namespace of its own, and this system refused one "
                    f"({said}). On Ubuntu 24.04 and later, AppArmor restricts them: allow them with "
                    f"'sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0', or run without SOCKETLAB_SANDBOX "
                    f"(everything but packet capture and real loss works).")
        return f"the sandbox's lab agent did not start: {said}"

    @staticmethod
    def _pings(client: redis.Redis) -> bool:
        import redis

        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    @staticmethod
    def _wait(ready: Callable[[], bool], child: subprocess.Popen[bytes]) -> bool:
        """Until `ready()` or the child exits or START_SECONDS pass (polled: neither child signals readiness)."""
        import redis

        pause = threading.Event()
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if child.poll() is not None:
                return False
            try:
                if ready():
                    return True
            except redis.RedisError:
                pass
            pause.wait(0.05)
        return False

    def _said(self, name: str) -> str:
        """The last meaningful line a child wrote (its own words are the best clue)."""
        try:
            lines = [line.strip() for line in (self.dir / name).read_text("utf-8", "replace").splitlines() if line.strip()]
        except OSError:
            lines = []
        return lines[-1][:300] if lines else "it said nothing"

    def wait_seen(self, hub: AgentHub) -> None:
        """Until the dashboard's hub has seen the agent's heartbeat (it polls every 0.5 s)."""
        pause = threading.Event()
        deadline = time.monotonic() + START_SECONDS
        while AGENT_NAME not in hub.up() and time.monotonic() < deadline:
            pause.wait(0.05)

    # -- stopping ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """The agent first (it closes its lab, and its namespace goes with it), then Redis; then the folder."""
        if not self._stopped.acquire(blocking=False):
            return
        for child in (self.agent, self.redis):
            if child is None or child.poll() is not None:
                continue
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(STOP_SECONDS)
        shutil.rmtree(self.dir, ignore_errors=True)


__all__ = ["AGENT_NAME", "Sandbox", "unshare_argv", "wanted"]
