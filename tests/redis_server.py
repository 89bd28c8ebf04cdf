"""A real redis-server for a test: on a unix socket in its own folder, or on a TCP port the test picked.

Debian's /usr/bin/redis-server (or $REDIS_SERVER), never a system service: every instance is started
here, with no persistence (`--save '' --appendonly no`), and stopped by its pid. `pause()`/`resume()`
(SIGSTOP/SIGCONT) make a Redis that accepts connections but never answers, the worst kind of outage;
`restart_empty()` kills it and starts a fresh one at the same address, as after a crash without data.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REDIS_SERVER = os.environ.get("REDIS_SERVER") or "/usr/bin/redis-server"


def redis_available() -> None:
    """Skip (fail under CI) when there is no redis-server: `.ci/run` installs Debian's."""
    if not (os.path.isfile(REDIS_SERVER) and os.access(REDIS_SERVER, os.X_OK)):
        reason = f"redis-server not found at {REDIS_SERVER}: install Debian's redis-server package or set $REDIS_SERVER"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so a missing redis-server is a failure)")
        pytest.skip(reason)


def free_port() -> int:
    """A TCP port nobody listens on right now (bound at port 0, then let go for redis-server to take)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    def __init__(self, tcp: bool = False) -> None:
        redis_available()
        # a short folder of its own: a unix socket path must fit in 108 bytes, pytest's tmp_path may not
        self.folder = Path(tempfile.mkdtemp(prefix="rs-"))
        self.socket_path = self.folder / "r.sock"
        self.port = free_port() if tcp else 0
        self.url = f"redis://127.0.0.1:{self.port}/0" if tcp else f"unix://{self.socket_path}"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 10.0) -> None:
        """Start redis-server and return once it answers PING."""
        self.socket_path.unlink(missing_ok=True)
        with open(self.folder / "redis.log", "ab") as log:  # (the child keeps its own copy of the fd)
            self.process = subprocess.Popen(
                [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--unixsocket", str(self.socket_path),
                 "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}: {self.log()[-2000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer within {timeout} s: {self.log()[-2000:]}")
            time.sleep(0.01)

    def _answers(self) -> bool:
        family, address = (socket.AF_INET, ("127.0.0.1", self.port)) if self.port else (socket.AF_UNIX, str(self.socket_path))
        with socket.socket(family) as probe:
            probe.settimeout(1)
            try:
                probe.connect(address)
                probe.sendall(b"PING\r\n")
                return probe.recv(64).startswith(b"+PONG")
            except OSError:
                return False

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: no goodbye to clients, nothing saved (there is no persistence anyway)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.pid, signal.SIGCONT)  # (a paused process dies too, but say it plainly)
            self.process.kill()
            self.process.wait(10)

    def restart_empty(self) -> None:
        """Kill it and start a new, empty Redis at the same address."""
        self.kill()
        self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.pid, signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        try:
            return (self.folder / "redis.log").read_text(errors="replace")
        except OSError:
            return ""
