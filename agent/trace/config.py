"""The tracer's configuration (`python -m agent.trace` and its courier): read once, here only.

The tracer reads SOCKETLAB_REDIS, SOCKETLAB_DASHBOARD, SOCKETLAB_TOKEN_FILE and SOCKETLAB_TOKEN (its
flags --redis, --dashboard, --token-file win); it hands the courier, a child of its own, the Redis URL
and the token in the child's environment (SOCKETLAB_REDIS, SOCKETLAB_TRACE_TOKEN), never in argv,
which `ps` shows to every user of the machine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # where `agent` and `lab` are, for the courier's imports


@dataclass(frozen=True)
class TraceConfig:
    """What the environment says; the command line's flags take these as their defaults."""

    redis: str = ""  # SOCKETLAB_REDIS
    dashboard: str = ""  # SOCKETLAB_DASHBOARD
    token_file: str = ""  # SOCKETLAB_TOKEN_FILE
    token: str = ""  # SOCKETLAB_TOKEN (used when no token file is given)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TraceConfig:
        return cls(redis=env.get("SOCKETLAB_REDIS", ""), dashboard=env.get("SOCKETLAB_DASHBOARD", ""),
                   token_file=env.get("SOCKETLAB_TOKEN_FILE", ""), token=env.get("SOCKETLAB_TOKEN", "").strip())


@dataclass(frozen=True)
class CourierConfig:
    """What the courier is given by the tracer that started it."""

    redis: str = ""  # SOCKETLAB_REDIS
    token: str = ""  # SOCKETLAB_TRACE_TOKEN

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CourierConfig:
        return cls(redis=env.get("SOCKETLAB_REDIS", ""), token=env.get("SOCKETLAB_TRACE_TOKEN", ""))


def environment() -> dict[str, str]:
    """This process's environment: the one place the tracer and its courier read it."""
    return dict(os.environ)


def courier_environment(token: str, redis_url: str) -> dict[str, str]:
    """The courier's environment: the tracer's, the project on its import path, and what it is given."""
    env = environment()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if token:
        env["SOCKETLAB_TRACE_TOKEN"] = token
    if redis_url:
        env["SOCKETLAB_REDIS"] = redis_url
    return env
