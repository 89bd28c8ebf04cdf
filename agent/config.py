"""What an agent reads from its host's environment: its name, its lab's folders, policies and limits.

The same variables as the dashboard's embedded lab (CONTRACT "Configuration"), read here rather than
imported from webapp: an agent host runs no web layer, and `lab` never imports one either.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from dataclasses import fields

from lab import Lab, Limits
from lab.errors import BadInput

NAME_LIMIT = 40
NAME = re.compile(r"[A-Za-z0-9_.-]{1,%d}" % NAME_LIMIT)


def default_name() -> str:
    """The host name, cleaned to what a Redis key and an id suffix take ("pc-01.lab" stays itself)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname())[:NAME_LIMIT].strip("-")
    return cleaned or "agent"


def checked_name(name: str) -> str:
    """`name` if it is 1-40 characters of [A-Za-z0-9_.-] (it becomes part of keys and ids), else BadInput."""
    if not NAME.fullmatch(name):
        raise BadInput("agent-name-invalid", name=name[:60], limit=NAME_LIMIT)
    return name


def limits_from_env(env: Mapping[str, str]) -> Limits:
    """Limits from SOCKETLAB_MAX_<FIELD> (docs/configuration.md lists them); defaults where unset."""
    values: dict[str, int] = {}
    for field in fields(Limits):
        name = f"SOCKETLAB_MAX_{field.name.upper()}"
        raw = env.get(name)
        if not raw:
            continue
        try:
            values[field.name] = int(raw)
        except ValueError:
            values[field.name] = 0
        if values[field.name] < 1:
            raise BadInput("setting-not-a-whole-number", name=name, value=raw[:40])
    return Limits(**values)


def lab_from_env(name: str, env: Mapping[str, str], lesson_host: str = "127.0.0.1") -> Lab:
    """The agent's lab: ids end in "@<name>" so they are unique among every agent of a dashboard."""
    return Lab(env.get("SOCKETLAB_FILES", "./lab-files"), env.get("SOCKETLAB_DOWNLOADS", "./lab-downloads"),
               limits_from_env(env), allow=env.get("SOCKETLAB_ALLOW", ""), bind=env.get("SOCKETLAB_BIND", ""),
               id_suffix=f"@{name}", capture=env.get("SOCKETLAB_CAPTURE") == "1",  # (the sandbox sets it)
               lesson_host=lesson_host)
