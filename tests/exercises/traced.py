"""A student's program run as a student runs it, `python -m agent.trace --redis URL program.py args`, in a
process group of its own; its events read back from the tracer's stream (ev:{name}) as the dashboard holds them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..support import wait_until
from ..trace.helpers import ROOT, shipped

PROGRAMS = Path(__file__).resolve().parent / "programs"
TIMEOUT = 60  # a hang fails the test, it never blocks the run


class Traced:
    def __init__(self, redis_url: str, program: str, *args: str, name: str | None = None) -> None:
        self.url = redis_url
        self.name = name or program.removesuffix(".py").replace("_", "-")
        command = [sys.executable, "-m", "agent.trace", "--redis", redis_url, "--name", self.name,
                   str(PROGRAMS / program), *args]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        process_group=0)

    def port(self) -> int:
        """The port a server prints on its first line."""
        assert self.process.stdout is not None
        return int(self.process.stdout.readline())

    def events(self) -> list[dict[str, Any]]:
        return shipped(self.url, self.name)

    def listening(self) -> list[dict[str, Any]]:
        """The events, once the program's listen() has reached the stream (the lab probes only after it)."""
        def listened() -> list[dict[str, Any]] | None:
            events = self.events()
            return events if any(e["kind"] == "listen" for e in events) else None

        return list(wait_until(listened, TIMEOUT))

    def finish(self) -> tuple[bytes, bytes]:
        """The program's output once it has ended by itself, and every event it shipped."""
        out, err = self.process.communicate(timeout=TIMEOUT)
        return out, err

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.communicate(timeout=TIMEOUT)
