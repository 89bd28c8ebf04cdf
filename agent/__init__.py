"""The lab agent: a lab on its own host, talking to dashboards only through Redis (CONTRACT "Lab agents").

Run it with `python -m agent --redis <url> --name <name>`. `agent.redisconn` is shared with the
dashboard's side (webapp/agents.py), so both open Redis the same careful way.
"""

from __future__ import annotations

from .agent import Agent

__all__ = ["Agent"]
