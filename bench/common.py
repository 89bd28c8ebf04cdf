"""What the benchmarks share: a dashboard in its own process, free ports, timing, results."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from contextlib import contextmanager

import requests

ROOT = Path(__file__).resolve().parents[1]


# A plain UDP sender paced at `rate` datagrams a second; each carries its send time in ms (`t=`).
PACED_SENDER = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
target, rate, seconds = ("127.0.0.1", int(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
start = time.perf_counter()
for i in range(rate * seconds):
    due = start + i / rate
    while (now := time.perf_counter()) < due:
        time.sleep(min(due - now, 0.002))
    s.sendto(b"t=%d n=%d" % (time.time() * 1000, i), target)
"""


@dataclass
class Result:
    """One row of the table: a measured value, its baseline (when it has one) and its target."""

    number: int
    what: str
    measured: str
    target: str
    met: bool
    figures: dict[str, Any] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Dashboard:
    url: str
    pid: int
    files: Path
    downloads: Path
    session: requests.Session

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, self.url + path, timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()

    def events(self) -> list[dict[str, Any]]:
        """Every event the dashboard's ring still holds, oldest first (GET /api/events, page by page)."""
        found: list[dict[str, Any]] = []
        after = 0
        while True:
            page = self.api("GET", f"/api/events?after={after}&limit=10000")
            found += page["events"]
            if page["last"] <= after or not page["events"]:
                return found
            after = page["last"]

    def rss_mb(self) -> float:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0


@contextmanager
def dashboard(env: dict[str, str] | None = None, gunicorn: bool = True, app: str = "webapp:create_app()",
              root: Path = ROOT) -> Iterator[Dashboard]:
    """The app in its own process, as in production (gunicorn gthread) on 127.0.0.1 and a free port.
    Another `app` (a baseline, such as bench.bare_app) is served the same way, without the dashboard's
    gunicorn.conf.py (its hooks read the dashboard's configuration). `root`: the checkout whose code
    runs (another commit's worktree, for a before-and-after in one run: bench/versus.py)."""
    work = Path(tempfile.mkdtemp(prefix="socketlab-bench-"))
    port = free_port()
    full_env = dict(os.environ, SOCKETLAB_FILES=str(work / "files"), SOCKETLAB_DOWNLOADS=str(work / "downloads"),
                    SOCKETLAB_STATE_DIR=str(work / "state"), **(env or {}))  # (never the project's instance/)
    if gunicorn:
        cmd = [sys.executable, "-m", "gunicorn", "-w", "1", "--threads", "100", "--graceful-timeout", "5",
               "-b", f"127.0.0.1:{port}", "--log-level", "warning", app]
        if app != "webapp:create_app()":
            cmd[3:3] = ["-c", "/dev/null"]
    else:
        cmd = [sys.executable, "-m", "webapp", "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=root, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    session = requests.Session()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:  # (a loaded machine may accept before the app answers: a slow first answer is no failure)
                if session.get(url + "/api/health", timeout=5).ok:
                    break
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.05)
        else:
            raise RuntimeError("the dashboard did not start")
        yield Dashboard(url, _worker_pid(proc.pid) if gunicorn else proc.pid, work / "files", work / "downloads", session)
    finally:
        session.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        subprocess.run(["rm", "-rf", str(work)], check=False)


def _worker_pid(master: int) -> int:
    """gunicorn's worker (the process that owns the lab), found among the master's children."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        except OSError:
            children = []
        if children:
            return int(children[0])
        time.sleep(0.05)
    return master


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Watchers:
    """python-socketio clients in their own process (so they do not share the benchmark's GIL)."""

    def __init__(self, url: str, n: int, latency: bool = False) -> None:
        args = [sys.executable, "-m", "bench.watcher", url, str(n)] + (["latency"] if latency else [])
        self.proc = subprocess.Popen(args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.proc.kill()
            raise RuntimeError(f"the Socket.IO watchers did not start: {line!r}")

    def finish(self) -> list[dict[str, Any]]:
        import json

        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        report = json.loads(self.proc.stdout.readline())
        self.proc.wait(30)
        self.proc.stdout.close()
        return list(report)
