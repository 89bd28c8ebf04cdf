"""Running a program as `python program.py` and as `python -m agent.trace ... program.py`, and
reading what the tracer shipped to ev:{name}."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import redis

from agent.redisconn import connect

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = Path(__file__).resolve().parent / "programs"
TIMEOUT = 60  # a hang fails the test, it never blocks the run


def command(program: str, *args: str, redis_url: str | None = None, name: str | None = None) -> list[str]:
    path = str(PROGRAMS / program)
    if redis_url is None:
        return [sys.executable, path, *args]
    named = ["--name", name] if name else []
    return [sys.executable, "-m", "agent.trace", "--redis", redis_url, *named, path, *args]


def run(program: str, *args: str, redis_url: str | None = None, name: str | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(command(program, *args, redis_url=redis_url, name=name), cwd=ROOT, capture_output=True,
                          timeout=TIMEOUT, check=False)


def start(program: str, *args: str, redis_url: str | None = None, name: str | None = None,
          stdin: int | None = None) -> subprocess.Popen[bytes]:
    """The program in a process group of its own (as a terminal's foreground job: killpg reaches it all)."""
    return subprocess.Popen(command(program, *args, redis_url=redis_url, name=name), cwd=ROOT, stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, process_group=0)


def shipped(url: str, name: str, output: bool = False) -> list[dict[str, Any]]:
    """The events a traced program shipped: its socket calls, and with `output` what it printed too."""
    client: redis.Redis = connect(url, socket_timeout=5)
    try:
        entries: Any = client.xrange(f"ev:{name}", "-", "+")
        events = [orjson.loads(fields[b"e"]) for _id, fields in entries]
        return events if output else [e for e in events if e["kind"] != "output"]
    finally:
        client.close()


def calls(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(endpoint, kind, call) of each event, in the order shipped."""
    return [(e["endpoint"], e["kind"], e["call"]) for e in events]
