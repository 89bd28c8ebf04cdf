"""The dashboard as users start it, in a process of its own: `python -m webapp` (the dev server) or
the production gunicorn command (docs/security.md), on 127.0.0.1 port 0, stopped by its pid.

The port is read from what the server prints, so no test ever picks a fixed port.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import requests

from .support import wait_until

ROOT = Path(__file__).resolve().parents[1]
READY = {
    "dev": r"dashboard on (http://127\.0\.0\.1:(\d+))/",  # webapp/__main__.py prints the port it got
    "gunicorn": r"Listening at: (http://127\.0\.0\.1:(\d+))",
}


def command(kind: str, threads: int = 100, extra: tuple[str, ...] = ()) -> list[str]:
    if kind == "dev":
        return [sys.executable, "-m", "webapp", "--host", "127.0.0.1", "--port", "0", *extra]
    # the production gunicorn command (docs/security.md), from the project folder (so gunicorn.conf.py applies)
    return [sys.executable, "-m", "gunicorn", "-w", "1", "--threads", str(threads), "--graceful-timeout", "5",
            "-b", "127.0.0.1:0", *extra, "webapp:create_app()"]


@dataclass
class Dashboard:
    """One dashboard process, its output gathered line by line by a reader thread."""

    kind: str
    proc: subprocess.Popen[str]
    url: str = ""
    port: int = 0
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def output(self) -> str:
        return "".join(self.lines)

    def app_pid(self) -> int:
        """The process that holds the app and its lab: gunicorn's one worker, or the dev server."""
        if self.kind == "dev":
            return self.proc.pid
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return int(wait_until(lambda: children.read_text().split(), 10)[0])

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        if self.reader:
            self.reader.join(5)
        if self.proc.stdout:
            self.proc.stdout.close()


def start_dashboard(kind: str, folder: Path, env: dict[str, str] | None = None, threads: int = 100,
                    extra: tuple[str, ...] = ()) -> Dashboard:
    """Start and wait until /api/health answers; `env` adds to a SOCKETLAB_-free environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SOCKETLAB_") or k == "SOCKETLAB_STATE_DIR"}
    clean.update(SOCKETLAB_FILES=str(folder / "files"), SOCKETLAB_DOWNLOADS=str(folder / "downloads"), **(env or {}))
    proc = subprocess.Popen(command(kind, threads, extra), cwd=ROOT, env=clean, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    dash = Dashboard(kind, proc)
    assert proc.stdout is not None
    stdout = proc.stdout

    def read() -> None:  # drains the pipe until the process ends, so logging never blocks
        for line in stdout:
            dash.lines.append(line)

    dash.reader = threading.Thread(target=read, name=f"{kind}-output")
    dash.reader.start()
    try:
        found = wait_until(lambda: re.search(READY[kind], dash.output()) or proc.poll() is not None, 30)
        assert isinstance(found, re.Match), f"{kind} did not start:\n{dash.output()}"
        dash.url, dash.port = found.group(1), int(found.group(2))
        wait_until(lambda: healthy(dash.url), 15)
    except BaseException:
        dash.stop()
        raise
    return dash


@contextmanager
def running(kind: str, folder: Path, **options: object) -> Iterator[Dashboard]:
    dash = start_dashboard(kind, folder, **options)  # type: ignore[arg-type]
    try:
        yield dash
    finally:
        dash.stop()


def healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/api/health", timeout=2).json() == {"status": "ok"}
    except (requests.RequestException, ValueError):
        return False
