"""An agent's configuration: read once, from its host's environment and its command line, here only.

The same variables as the dashboard's embedded lab (CONTRACT "Configuration"), read here rather than
imported from webapp: an agent host runs no web layer, and `lab` never imports one either. The
dashboard builds the AgentConfig of the agent it runs in its own process from its own configuration
(webapp/config.py), and reads its limits with `whole_numbers` below, so a number is read one way.

Each mistake is one sentence (a BadInput of lab/messages.py); `python -m agent` prints it and exits 2.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from lab import Lab, Limits
from lab.errors import BadInput
from lab.policy import Policy

NAME_LIMIT = 40
NAME = re.compile(r"[A-Za-z0-9_.-]{1,%d}" % NAME_LIMIT)
TRUE, FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")

T = TypeVar("T")


def environment() -> dict[str, str]:
    """This process's environment, read here so that no other module of the agent reads it."""
    return dict(os.environ)


def default_name() -> str:
    """The host name, cleaned to what a Redis key and an id suffix take ("pc-01.lab" stays itself)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname())[:NAME_LIMIT].strip("-")
    return cleaned or "agent"


def checked_name(name: str) -> str:
    """`name` if it is 1-40 characters of [A-Za-z0-9_.-] (it becomes part of keys and ids), else BadInput."""
    if not NAME.fullmatch(name):
        raise BadInput("agent-name-invalid", name=name[:60], limit=NAME_LIMIT)
    return name


def whole_numbers(env: Mapping[str, str], kind: type[T]) -> T:
    """A dataclass of whole numbers (Limits, the dashboard's ConnLimits) from SOCKETLAB_MAX_<FIELD>;
    defaults where unset or empty; BadInput for a value that is not a whole number of at least 1."""
    values: dict[str, int] = {}
    for each in fields(kind):  # type: ignore[arg-type]
        name = f"SOCKETLAB_MAX_{each.name.upper()}"
        raw = env.get(name, "").strip()
        if not raw:
            continue
        try:
            values[each.name] = int(raw)
        except ValueError:
            values[each.name] = 0
        if values[each.name] < 1:
            raise BadInput("setting-not-a-whole-number", name=name, value=raw[:40])
    return kind(**values)


def as_variables(limits: Any) -> dict[str, str]:
    """The SOCKETLAB_MAX_<FIELD> variables that give a child process these limits (the inverse of whole_numbers)."""
    return {f"SOCKETLAB_MAX_{each.name.upper()}": str(getattr(limits, each.name)) for each in fields(limits)}


def switch(env: Mapping[str, str], name: str) -> bool:
    """An on/off variable: 1, true, yes, on (any case) or 0, false, no, off, empty; else BadInput."""
    raw = env.get(name, "").strip().lower()
    if raw not in TRUE + FALSE:
        raise BadInput("setting-not-a-switch", name=name, value=raw[:40])
    return raw in TRUE


def policy_text(env: Mapping[str, str], name: str, what: str) -> str:
    """SOCKETLAB_ALLOW or SOCKETLAB_BIND, checked now (the Lab reads it again: the same parser, the same sentence)."""
    text = env.get(name, "")
    Policy.from_text(text, name, what)
    return text


def limits_from_env(env: Mapping[str, str]) -> Limits:
    """Limits from SOCKETLAB_MAX_<FIELD> (the README lists them); defaults where unset."""
    return whole_numbers(env, Limits)


@dataclass(frozen=True)
class AgentConfig:
    """What an agent's lab is, and where it speaks: `python -m agent` reads it from its host; a
    dashboard that runs an agent in its own process (SOCKETLAB_LOCAL_AGENT) makes it from its own."""

    name: str
    redis: str = ""
    files: str = "./lab-files"
    downloads: str = "./lab-downloads"
    limits: Limits = field(default_factory=Limits)
    allow: str = ""
    bind: str = ""
    capture: bool = False  # the lab captures its own packets (the sandbox's agent sets SOCKETLAB_CAPTURE=1)
    lesson_host: str = "127.0.0.1"

    @classmethod
    def from_env(cls, env: Mapping[str, str], name: str | None = None, redis: str | None = None) -> AgentConfig:
        """From SOCKETLAB_* variables; `name` and `redis` (the command line's) win over theirs."""
        return cls(name=checked_name(name if name is not None else env.get("SOCKETLAB_AGENT_NAME") or default_name()),
                   redis=redis if redis is not None else env.get("SOCKETLAB_REDIS", ""),
                   files=env.get("SOCKETLAB_FILES") or "./lab-files",
                   downloads=env.get("SOCKETLAB_DOWNLOADS") or "./lab-downloads",
                   limits=limits_from_env(env), allow=policy_text(env, "SOCKETLAB_ALLOW", "reach"),
                   bind=policy_text(env, "SOCKETLAB_BIND", "bind"), capture=switch(env, "SOCKETLAB_CAPTURE"))

    def lab(self) -> Lab:
        """The agent's lab: ids end in "@<name>" so they are unique among every agent of a dashboard."""
        return Lab(self.files, self.downloads, self.limits, allow=self.allow, bind=self.bind,
                   id_suffix=f"@{self.name}", capture=self.capture, lesson_host=self.lesson_host)


def lab_from_env(name: str, env: Mapping[str, str], lesson_host: str = "127.0.0.1") -> Lab:
    """The lab of agent `name` as `env` describes it."""
    config = AgentConfig.from_env(env, name=name)
    return Lab(config.files, config.downloads, config.limits, allow=config.allow, bind=config.bind,
               id_suffix=f"@{config.name}", capture=config.capture, lesson_host=lesson_host)


def redis_url(env: Mapping[str, str]) -> str:
    """SOCKETLAB_REDIS: an administrator's URL (python -m agent.acl) or a tracer's (agent/trace/config.py)."""
    return env.get("SOCKETLAB_REDIS", "")
