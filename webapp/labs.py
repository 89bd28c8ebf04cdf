"""Which lab answers a request: the dashboard's own (embedded), or one of the lab agents.

The REST routes ask `Labs` for the client of an endpoint or download id, or of a new spec, and
call commands on it (lab/commands.py); they never know whether the lab is in this process or on
another host. `EmbeddedLabs` is the default: one lab, in this process. `webapp.agents.AgentLabs`
is the same interface over Redis Streams.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from lab.client import LabClient, OneLab
from lab.events import EventBus


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
        """The stage changed here: tell every other dashboard of these labs (lab/stage.py)."""

    def follow_stage(self, adopt: Callable[[str, str, Any], None]) -> None:
        """Give other dashboards' stage changes to `adopt` (Stage.adopt)."""

    def close(self) -> None: ...


class EmbeddedLabs(OneLab):
    """One lab in this process (the default: `make run` without SOCKETLAB_REDIS)."""

    def agents(self) -> list[dict[str, Any]]:
        return []

    def session(self) -> dict[str, Any]:
        ctx = self.lab.ctx
        return {"limits": vars(ctx.limits), "allow": ctx.targets.described, "bind": ctx.binds.described,
                "agents": None}

    def close(self) -> None:
        self.lab.close()
