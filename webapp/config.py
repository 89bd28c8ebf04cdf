"""The dashboard's configuration: read once, from the environment and the command line, here only.

`DashboardConfig.from_env(environment(), ...)` reads every SOCKETLAB_* variable a dashboard uses (the
README's "Configuration" lists them) and checks each: a mistake is one sentence, and the dashboard
stops before it announces anything (StartupProblem: the same words from `python -m webapp`, `make run`
and gunicorn). The object is then handed down: `create_app(config)` reads nothing else, and what the
app starts takes its part of it (the lab, a local agent's AgentConfig, the sandbox's children, whose
environment is made from it). Nothing writes to the environment.

gunicorn: gunicorn.conf.py builds the configuration in the master (on_starting, when_ready: the
tokens, where the dashboard listens) and hands it to the workers it forks with `serve()`; a worker's
`create_app()` takes it from there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from agent.config import AgentConfig, checked_name, policy_text, switch, whole_numbers
from agent.redisconn import check_url
from lab import Limits
from lab.errors import BadInput, LabError

from .auth import Access
from .conns import ConnLimits
from .startup import StartupProblem, check_token_variables
from . import state

# The variables a child of the dashboard (the sandbox's agent) is given from this configuration; the
# rest of the dashboard's environment (PATH, HOME, TMPDIR, LANG, ...) is passed on as it is.
OWN_PREFIX = "SOCKETLAB_"

# The dict form of create_app's argument (Flask's habit, and the tests'): these keys are settings of
# the dashboard; any other key (TESTING, MAX_CONTENT_LENGTH, ...) goes to Flask's app.config as it is.
KEYS = {"FILES": "files", "DOWNLOADS": "downloads", "LIMITS": "limits", "CONN_LIMITS": "conn_limits",
        "ALLOW": "allow", "BIND": "bind", "STATE_DIR": "state_dir", "HOSTS": "hosts",
        "DASHBOARD_BIND": "dashboard_bind", "DASHBOARD_PORT": "dashboard_port", "REDIS": "redis",
        "LOCAL_AGENT": "local_agent", "CAPTURE": "capture", "SANDBOX": "sandbox", "SANDBOX_USER": "sandbox_user",
        "CLASS": "klass", "LESSON_HOST": "lesson_host", "ACCESS": "access", "JOIN_CODE": "join_code"}


def environment() -> dict[str, str]:
    """This process's environment: the one place the dashboard reads it."""
    return dict(os.environ)


@dataclass(frozen=True)
class DashboardConfig:
    files: str = "./lab-files"  # SOCKETLAB_FILES
    downloads: str = "./lab-downloads"  # SOCKETLAB_DOWNLOADS
    limits: Limits = field(default_factory=Limits)  # SOCKETLAB_MAX_<FIELD> of lab.Limits
    conn_limits: ConnLimits = field(default_factory=ConnLimits)  # SOCKETLAB_MAX_<FIELD> of ConnLimits
    allow: str = ""  # SOCKETLAB_ALLOW
    bind: str = ""  # SOCKETLAB_BIND
    state_dir: str = field(default_factory=lambda: str(state.DEFAULT))  # SOCKETLAB_STATE_DIR
    hosts: str = ""  # SOCKETLAB_HOSTS
    # where the dashboard itself listens (its Host check answers to it; the Join panel's links use the
    # port, 0: the port of the request): `python -m webapp --host`, gunicorn's -b
    dashboard_bind: str = ""  # SOCKETLAB_DASHBOARD_BIND
    dashboard_port: int = 0  # SOCKETLAB_DASHBOARD_PORT
    redis: str = ""  # SOCKETLAB_REDIS: a dashboard over lab agents
    local_agent: str = ""  # SOCKETLAB_LOCAL_AGENT: an agent in the dashboard's process too
    capture: bool = False  # SOCKETLAB_CAPTURE: the embedded lab captures its packets (as root)
    sandbox: bool = False  # SOCKETLAB_SANDBOX, --sandbox
    sandbox_user: str = ""  # SOCKETLAB_SANDBOX_USER (a name or a uid), for a dashboard run by root
    sudo_uid: str = ""  # SUDO_UID, SUDO_GID: under sudo, the sandbox's children run as the user who ran it
    sudo_gid: str = ""
    klass: bool = False  # --class (make class)
    lesson_host: str = "127.0.0.1"  # where lessons' servers listen ("0.0.0.0" for a class)
    token: str | None = None  # SOCKETLAB_TOKEN
    view_token: str | None = None  # SOCKETLAB_VIEW_TOKEN
    access: Access | None = None  # the tokens as prepared at start (generated ones too); None: from the two above
    join_code: str | None = None  # a fixed join code (tests); None: kept in the state folder
    flask: Mapping[str, Any] = field(default_factory=dict)  # Flask's own settings (TESTING, ...)
    # what the dashboard's children inherit besides their own SOCKETLAB_* variables (PATH, HOME, LANG, ...):
    # the environment but its SOCKETLAB_* variables, which never reach a child but through this configuration
    inherited: Mapping[str, str] = field(default_factory=lambda: _not_ours(environment()))

    @classmethod
    def from_env(cls, env: Mapping[str, str], **given: Any) -> DashboardConfig:
        """From SOCKETLAB_* variables (and SUDO_UID/SUDO_GID); `given` (the command line's) wins.
        A mistake is a StartupProblem: one sentence, and the dashboard does not start."""
        try:
            check_token_variables(env)
            found = cls(
                files=env.get("SOCKETLAB_FILES") or "./lab-files",
                downloads=env.get("SOCKETLAB_DOWNLOADS") or "./lab-downloads",
                limits=whole_numbers(env, Limits), conn_limits=whole_numbers(env, ConnLimits),
                allow=policy_text(env, "SOCKETLAB_ALLOW", "reach"), bind=policy_text(env, "SOCKETLAB_BIND", "bind"),
                state_dir=env.get("SOCKETLAB_STATE_DIR") or str(state.DEFAULT),
                hosts=env.get("SOCKETLAB_HOSTS", ""),
                dashboard_bind=env.get("SOCKETLAB_DASHBOARD_BIND", ""),
                dashboard_port=_port(env, "SOCKETLAB_DASHBOARD_PORT"),
                redis=env.get("SOCKETLAB_REDIS", ""), local_agent=env.get("SOCKETLAB_LOCAL_AGENT", ""),
                capture=switch(env, "SOCKETLAB_CAPTURE"), sandbox=switch(env, "SOCKETLAB_SANDBOX"),
                sandbox_user=env.get("SOCKETLAB_SANDBOX_USER", "").strip(),
                sudo_uid=env.get("SUDO_UID", ""), sudo_gid=env.get("SUDO_GID", ""),
                token=env.get("SOCKETLAB_TOKEN") or None, view_token=env.get("SOCKETLAB_VIEW_TOKEN") or None,
                inherited=_not_ours(env),
            )
        except LabError as exc:
            raise StartupProblem(str(exc)) from None
        return found.but(**given)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> DashboardConfig:
        """The dict form (`create_app({"FILES": ..., "TESTING": True})`): these settings on the defaults,
        not on the environment. Flask's own keys are kept for app.config."""
        ours = {KEYS[key]: value for key, value in settings.items() if key in KEYS}
        flask = {key: value for key, value in settings.items() if key not in KEYS}
        return cls(flask=flask).but(**ours)

    def but(self, **changes: Any) -> DashboardConfig:
        """A copy with `changes`, checked (a StartupProblem for a mistake)."""
        paths: dict[str, Any] = {k: str(changes[k]) for k in ("files", "downloads", "state_dir") if k in changes}  # (Path or str)
        made = replace(self, **{**changes, **paths})
        made.check()
        return made

    def check(self) -> None:
        try:
            if self.redis:
                check_url(self.redis)
            if self.local_agent:
                checked_name(self.local_agent)
        except BadInput as exc:
            raise StartupProblem(str(exc)) from None

    def agent(self, name: str, redis: str, bind: str, lesson_host: str) -> AgentConfig:
        """The AgentConfig of an agent this dashboard runs in its own process: its lab is this config's."""
        return AgentConfig(name=name, redis=redis, files=self.files, downloads=self.downloads, limits=self.limits,
                           allow=self.allow, bind=bind, capture=self.capture, lesson_host=lesson_host)

    def app_settings(self) -> dict[str, Any]:
        """Flask's app.config: this configuration under the names the routes read, then Flask's own."""
        settings: dict[str, Any] = {key: getattr(self, name) for key, name in KEYS.items() if name != "access"}
        if self.access is not None:
            settings["ACCESS"] = self.access
        settings["MAX_CONTENT_LENGTH"] = 8 << 20  # JSON bodies: a 1 MiB send as hex text fits, more is 413
        settings.update(self.flask)
        return settings


def _not_ours(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.startswith(OWN_PREFIX)}


def _port(env: Mapping[str, str], name: str) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return 0
    if not raw.isdigit() or int(raw) > 65535:
        raise BadInput("setting-not-a-port", name=name, value=raw[:40])
    return int(raw)


_served: list[DashboardConfig] = []  # (at most one: what gunicorn's master prepared)


def serve(config: DashboardConfig) -> None:
    """gunicorn's master: the configuration its workers' `create_app()` take (they are forked from it)."""
    _served[:] = [config]


def served() -> DashboardConfig:
    """The configuration a `create_app()` without one runs with: the one gunicorn's master prepared,
    else the environment's."""
    return _served[0] if _served else DashboardConfig.from_env(environment())


__all__ = ["DashboardConfig", "environment", "serve", "served"]
