"""The sandbox: the dashboard's own Redis and one lab agent in a user + network namespace of its own.

`SOCKETLAB_SANDBOX=1 make run` (or `python -m webapp --sandbox`) starts, as children stopped by pid:

1. `redis-server` on a unix socket in a private temporary folder (mode 0700), with no TCP port;
2. one lab agent, `python -m agent --name sandbox` (the URL in SOCKETLAB_REDIS, not in argv), under
   `unshare --user --map-root-user --net`: a new network namespace inside a new user namespace, where
   the agent is root of its own namespaces only, so it may capture and impair its own traffic and
   nothing else. `lo` is brought up first: a new namespace's loopback is down.

Started by root, both children first become an unprivileged user of their own (`sandbox_user`: the
user who ran sudo, SOCKETLAB_SANDBOX_USER, or a uid of systemd's dynamic range that no account uses),
with no_new_privs so no set-uid program can make them root again. A user namespace alone is not
enough there: a process keeps its uid across `unshare --user`, and uid 0 owns the machine's files and
may trace root's processes whatever its capabilities. The folders the agent needs (its Redis folder,
SOCKETLAB_FILES, SOCKETLAB_DOWNLOADS) are made for that user when missing, and checked when not.

Then the dashboard runs exactly as over any agent (webapp/agents.py, SOCKETLAB_REDIS). Unix sockets
cross network namespaces, so nothing listens on a port but the dashboard itself.

Where namespaces are refused (Ubuntu 24.04's AppArmor restriction, a container without them), the
dashboard stops before it announces any URL, with one sentence saying why and what to do.
"""

from __future__ import annotations

import os
import pwd
import grp
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from agent.config import as_variables
from lab.files import write_samples

from .config import DashboardConfig
from .startup import StartupProblem

if TYPE_CHECKING:  # (redis is imported when a sandbox starts: an embedded dashboard never loads it)
    import redis

    from .agents import AgentHub

AGENT_NAME = "sandbox"
CLASS_AGENT = "lab"  # make class's other lab, on the classroom's network in the dashboard's process
START_SECONDS = 15.0  # redis-server and the agent each come up in well under a second
STOP_SECONDS = 5.0
REPO = Path(__file__).resolve().parents[1]


DYNAMIC_UIDS = range(61184, 65520)  # systemd's range for users made on the fly (DynamicUser=): no account


def unshare_argv() -> list[str]:
    """A new network namespace inside a new user namespace where the (unprivileged) user is root."""
    return ["unshare", "--user", "--map-root-user", "--net"]


def sandbox_user(config: DashboardConfig, is_root: bool) -> tuple[int, int] | None:
    """The (uid, gid) the sandbox's children run as when the dashboard is root; None when it is not
    (they run as the dashboard's own user). SOCKETLAB_SANDBOX_USER (a name or a uid) if set; else the
    user who ran sudo, whose files the lab then serves; else the first uid of systemd's dynamic range
    that no account or group uses: a user of the sandbox's own, which nothing else runs as."""
    if not is_root:
        return None
    chosen = config.sandbox_user
    if chosen:
        try:
            entry = pwd.getpwnam(chosen) if not chosen.isdigit() else None
        except KeyError:
            raise StartupProblem(f"SOCKETLAB_SANDBOX_USER names '{chosen[:40]}', and this system has no such user: "
                                 f"give a user name or a number.") from None
        uid, gid = (entry.pw_uid, entry.pw_gid) if entry else (int(chosen), int(chosen))
    elif config.sudo_uid.isdigit() and int(config.sudo_uid) > 0:
        uid = int(config.sudo_uid)
        gid = int(config.sudo_gid) if config.sudo_gid.isdigit() else uid
    else:
        uid = next(u for u in DYNAMIC_UIDS if not _taken(u))
        gid = uid
    if uid == 0:
        raise StartupProblem("SOCKETLAB_SANDBOX_USER must not be root: the sandbox's lab runs as a user without "
                             "rights on this machine.")
    return uid, gid


def _taken(uid: int) -> bool:
    for lookup in (pwd.getpwuid, grp.getgrgid):
        try:
            lookup(uid)
            return True
        except KeyError:
            pass
    return False


def drop_argv(user: tuple[int, int] | None) -> list[str]:
    """What runs a child as `user` (from root), never able to become root again; nothing for None."""
    if user is None:
        return []
    uid, gid = user
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--no-new-privs"]


def reachable(path: Path, user: tuple[int, int], want: int) -> bool:
    """Whether `user` may reach `path` (search on every folder above it) and has the `want` bits
    (os.R_OK, os.W_OK, os.X_OK) on it, by the mode bits (enough for folders root made)."""
    uid, gid = user

    def allows(st: os.stat_result, bits: int) -> bool:  # (R_OK, W_OK, X_OK are 4, 2, 1: the mode's bits)
        shift = 6 if st.st_uid == uid else 3 if st.st_gid == gid else 0
        return (st.st_mode >> shift) & bits == bits

    path = path.resolve()
    try:
        for folder in reversed(path.parents):
            if not allows(os.stat(folder), os.X_OK):
                return False
        return allows(os.stat(path), want)
    except OSError:
        return False


class Sandbox:
    """Both children, started in the constructor (it returns when the agent is up), stopped by stop()."""

    def __init__(self, config: DashboardConfig, python: str = sys.executable) -> None:
        """`config`: the dashboard's; the agent's lab takes its folders, limits and policies."""
        self.config = config
        self.files, self.downloads = Path(config.files).resolve(), Path(config.downloads).resolve()  # (it starts elsewhere)
        self.user = sandbox_user(config, os.geteuid() == 0)  # None: the children run as this user
        self.dir = self._folder()
        self.socket = self.dir / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.redis: subprocess.Popen[bytes] | None = None
        self.agent: subprocess.Popen[bytes] | None = None
        self._stopped = threading.Lock()
        try:
            self._check_python(python)
            self._prepare_lab_folders()
            self._start_redis()
            self._start_agent(python)
        except BaseException:
            self.stop()
            raise

    # -- starting ---------------------------------------------------------------------------------

    def _folder(self) -> Path:
        """The children's private folder (mkdtemp: 0700), given to the sandbox's user when there is one.
        It holds Redis's socket, so that user must reach it: when the temporary folder's parents keep
        it out (a 0700 TMPDIR of root's), the system's /tmp instead."""
        base = tempfile.gettempdir()
        if self.user is not None and not reachable(Path(base), self.user, os.X_OK):
            base = "/tmp"
        folder = Path(tempfile.mkdtemp(prefix="socketlab-sandbox-", dir=base))
        if self.user is not None:
            os.chown(folder, *self.user)
        return folder

    def _check_python(self, python: str) -> None:
        """The sandbox's user runs this Python and the project's code: say so now when it cannot (a
        Python installed in root's home, whose folder others may not enter, is the usual reason)."""
        if self.user is None:
            return
        needed = [(Path(python).resolve(), os.X_OK), (Path(sys.base_prefix), os.R_OK | os.X_OK),
                  (REPO, os.R_OK | os.X_OK)]
        for path, want in needed:
            if not reachable(path, self.user, want):
                raise StartupProblem(
                    f"the sandbox's lab runs as user {self.user[0]}, not as root, and that user cannot "
                    f"{'run' if want == os.X_OK else 'read'} {path}: install Python and the project where other "
                    f"users may read them, or start the dashboard as a user rather than root.")

    def _prepare_lab_folders(self) -> None:
        """The agent's lab serves SOCKETLAB_FILES and saves into SOCKETLAB_DOWNLOADS, as the sandbox's
        user: made for it when missing; when they exist, it must be able to use them (else a sentence
        now, not a failed download in the middle of a lesson). Absolute, as the agent starts elsewhere."""
        for variable, folder in (("SOCKETLAB_FILES", self.files), ("SOCKETLAB_DOWNLOADS", self.downloads)):
            if self.user is None:
                continue
            if not folder.exists():
                missing = [folder, *(p for p in folder.parents if not p.exists())]
                if variable == "SOCKETLAB_FILES":
                    write_samples(folder)  # (what the lab does with a files folder that is missing)
                    missing += list(folder.iterdir())
                else:
                    folder.mkdir(parents=True)
                for made in missing:
                    os.chown(made, *self.user)
            if not reachable(folder, self.user, os.R_OK | os.W_OK | os.X_OK):
                uid = self.user[0]
                raise StartupProblem(
                    f"the sandbox's lab runs as user {uid}, not as root, and that user cannot use {folder} "
                    f"({variable}): give it that folder (chown -R {uid} {shlex.quote(str(folder))}), or set "
                    f"{variable} to a folder it may write.")

    def _start_redis(self) -> None:
        if shutil.which("redis-server") is None:
            raise StartupProblem("the sandbox needs redis-server (Debian's redis-server package), and it is not installed. "
                                 "Install it, or run without SOCKETLAB_SANDBOX.")
        log = open(self.dir / "redis.log", "wb")
        with log:
            self.redis = subprocess.Popen(
                [*drop_argv(self.user), "redis-server", "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
                 "--save", "", "--appendonly", "no", "--dir", str(self.dir)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                cwd=self.dir)
        import redis

        client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1)
        try:
            if not self._wait(lambda: self._pings(client), self.redis):
                raise StartupProblem(f"the sandbox's redis-server did not start: {self._said('redis.log')}")
        finally:
            client.close()

    def _start_agent(self, python: str) -> None:
        for program in ("unshare", *(["setpriv"] if self.user is not None else [])):
            if shutil.which(program) is None:
                raise StartupProblem(f"the sandbox needs the {program} program (util-linux), and it is not on the PATH.")
        env = self._agent_environment()
        if self.user is not None:
            env["HOME"] = str(self.dir)  # (root's home is not the sandbox user's to read)
        agent = shlex.join([python, "-m", "agent", "--name", AGENT_NAME])
        # `ip link set lo up` first; exec keeps the pid: setpriv execs unshare, unshare execs the shell,
        # the shell execs python
        argv = [*drop_argv(self.user), *unshare_argv(), "--", "/bin/sh", "-c", f"ip link set lo up && exec {agent}"]
        log = open(self.dir / "agent.log", "wb")
        with log:
            self.agent = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.dir)
        import redis

        client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1)
        try:
            up = self._wait(lambda: bool(client.exists(f"hb:{AGENT_NAME}")), self.agent)
        finally:
            client.close()
        if not up:
            raise StartupProblem(self._refusal())

    def _agent_environment(self) -> dict[str, str]:
        """The agent's environment: the dashboard's own, but for its SOCKETLAB_* variables, which are
        made from the dashboard's configuration (python -m agent reads them: agent/config.py)."""
        config = self.config
        inherited = config.inherited
        return {**inherited, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), inherited.get("PYTHONPATH", "")])),
                "SOCKETLAB_FILES": str(self.files), "SOCKETLAB_DOWNLOADS": str(self.downloads),
                "SOCKETLAB_ALLOW": config.allow, "SOCKETLAB_BIND": config.bind, **as_variables(config.limits),
                "SOCKETLAB_REDIS": self.url,  # (in the environment: argv is readable by every local user)
                "SOCKETLAB_CAPTURE": "1"}  # the agent's lab captures its own packets (lab/wire/)

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

    def wait_seen(self, hub: AgentHub, names: list[str] | None = None) -> None:
        """Until the dashboard's hub has seen the agents' heartbeats (the sandbox's, and `names`: it
        polls every 0.5 s), or START_SECONDS."""
        wanted = set(names or [AGENT_NAME])
        pause = threading.Event()
        deadline = time.monotonic() + START_SECONDS
        while not wanted <= set(hub.up()) and time.monotonic() < deadline:
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


__all__ = ["AGENT_NAME", "CLASS_AGENT", "Sandbox", "drop_argv", "sandbox_user", "unshare_argv"]
