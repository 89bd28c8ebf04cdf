"""The one interface the dashboard uses to talk to a lab: commands by name (lab/commands.py).

`LocalLab` is the lab in the dashboard's own process (the embedded default); a lab agent on
another host is `webapp.agents.AgentClient`, the same calls carried over Redis Streams. The REST
routes and the classroom stage hold a LabClient and never know which one it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Protocol

from . import commands
from .core import Lab


class LabClient(Protocol):
    name: str  # the agent's name ("" for the embedded lab)

    def call(self, op: str, args: dict[str, Any] | None = None) -> Any:
        """Run a command of lab/commands.py; its LabError is raised here, the same class and code."""

    def file(self, dl_id: str) -> tuple[str, Path | bytes]:
        """A saved download: its name, and its path (same machine) or its bytes."""


class LocalLab:
    """The lab in this process: commands are plain calls, files are paths."""

    def __init__(self, lab: Lab, name: str = "") -> None:
        self.lab = lab
        self.name = name

    def call(self, op: str, args: dict[str, Any] | None = None) -> Any:
        return commands.run(self.lab, op, args)

    def file(self, dl_id: str) -> tuple[str, Path | bytes]:
        path = self.lab.download_path(dl_id)
        return path.name, path


class OneLab:
    """The labs of a dashboard that holds one lab of its own: every id is its, every new thing goes to it."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.bus = lab.bus
        self.client = LocalLab(lab)

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
