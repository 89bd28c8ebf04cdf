"""Where a lab is, as two interfaces: one lab (`LabClient`: commands by name, lab/commands.py) and
the labs a dashboard drives (`Labs`: which lab answers a request).

Each has two implementations named for where the lab is: `LocalClient` and `LocalLabs` for the lab in
the dashboard's own process (the embedded default), `webapp.agents.AgentClient` and `AgentLabs` for
lab agents on other hosts, the same calls carried over Redis Streams. The REST routes and the
classroom stage hold these interfaces and never know which one they have.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Protocol

from . import commands
from .core import Lab
from .events.bus import EventBus


class LabClient(Protocol):
    name: str  # the agent's name ("" for the embedded lab)

    def call(self, op: str, args: dict[str, Any] | None = None) -> Any:
        """Run a command of lab/commands.py; its LabError is raised here, the same class and code."""

    def file(self, dl_id: str) -> tuple[str, Path | bytes]:
        """A saved download: its name, and its path (same machine) or its bytes."""


class LocalClient:
    """The lab in this process: commands are plain calls, files are paths."""

    def __init__(self, lab: Lab, name: str = "") -> None:
        self.lab = lab
        self.name = name

    def call(self, op: str, args: dict[str, Any] | None = None) -> Any:
        return commands.run(self.lab, op, args)

    def file(self, dl_id: str) -> tuple[str, Path | bytes]:
        path = self.lab.download_path(dl_id)
        return path.name, path


class Labs(Protocol):
    bus: EventBus  # the events every page sees (the relay's source)

    def all(self) -> list[LabClient]:
        """Every lab that is up now."""

    def for_id(self, item_id: str) -> LabClient:
        """The lab that holds an endpoint or a download (NotFound, or Refused when its agent is down)."""

    def for_new(self, body: Any, needs: str | None = None) -> tuple[LabClient, Any]:
        """The lab a new endpoint, download or lesson goes to (`"agent"` in the body, or the only one
        up, or where the dashboard routes it: a lesson that `needs` the wire to the sandbox), and the
        body without that field."""

    def agents(self) -> list[dict[str, Any]]:
        """GET /api/agents."""

    def session(self) -> dict[str, Any]:
        """What GET /api/session says of the labs: limits and policies (the embedded lab's)."""

    def share(self, kind: str, detail: str, snapshot: dict[str, Any]) -> None:
        """The stage changed here: tell every other dashboard of these labs (lab/stage.py); over lab
        agents, every dashboard on the same Redis shows one stage (webapp/agents.py)."""

    def follow_stage(self, adopt: Callable[[str, str, Any], None]) -> None:
        """Give other dashboards' stage changes to `adopt` (Stage.adopt)."""

    def close(self) -> None: ...


class LocalLabs:
    """The labs of a dashboard that holds one lab of its own (the default: `make run` without
    SOCKETLAB_REDIS): every id is its, every new thing goes to it."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.bus = lab.bus
        self.client = LocalClient(lab)

    def all(self) -> list[LabClient]:
        return [self.client]

    def for_id(self, item_id: str) -> LabClient:
        return self.client

    def for_new(self, body: Any, needs: str | None = None) -> tuple[LabClient, Any]:
        # (a spec that names an agent goes on as it is: its parser names "agent" as a field it does not take)
        return self.client, body

    def share(self, kind: str, detail: str, snapshot: dict[str, Any]) -> None:
        """The stage changed: one dashboard, one lab; nobody else to tell."""

    def follow_stage(self, adopt: Callable[[str, str, Any], None]) -> None:
        """No other dashboard shares this lab's stage."""

    def agents(self) -> list[dict[str, Any]]:
        return []

    def session(self) -> dict[str, Any]:
        ctx = self.lab.ctx
        return {"limits": vars(ctx.limits), "allow": ctx.targets.described, "bind": ctx.binds.described,
                "agents": None}

    def close(self) -> None:
        self.lab.close()
