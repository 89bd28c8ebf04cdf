"""The lab agent: a lab on its own host, talking to dashboards only through Redis (CONTRACT "Lab agents").

Run it with `python -m agent --redis <url> --name <name>`. `agent.redisconn` is shared with the
dashboard's side (webapp/agents.py), so both open Redis the same careful way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .agent import Agent

__all__ = ["Agent"]


def __getattr__(name: str) -> Any:
    """`agent.Agent`, imported when first asked for: `python -m agent.trace` loads this package too, and
    must reach its own sentence when the lab's packages are missing (a Python outside the venv)."""
    if name == "Agent":
        from .agent import Agent

        return Agent
    raise AttributeError(f"module 'agent' has no attribute {name!r}")
