"""`POST /api/traces/<name>/events`: a traced program's events, straight from its courier over HTTP
(`python -m agent.trace --dashboard URL --token T`, agent/trace/posting.py), for a dashboard without Redis.

The same path as the Redis bridge's: each event is checked by the bridge's own rule
(webapp/agents.py `valid_event`) and relayed into this dashboard's bus, which the one relay task
emits. A control token is needed (the API's check_access: a viewer gets 403). On top of the
bridge's rule, a traced program may only say what a traced program says: socket calls on its own
sockets (`s<n>@<name>`) and its own drop counts, never a lab endpoint's state or another's lanes.

The courier posts the same events again until it gets a 200 (the dashboard may be restarting), so
this keeps, per program and courier run (`boot`), the newest seq it took: what it already has is
skipped, and every event reaches the page once.
"""

from __future__ import annotations

import threading
from typing import Any

import orjson
from flask import Response, current_app, jsonify

from agent.config import checked_name
from lab import BadInput, TooLarge
from lab.kinds import TRACED_KINDS

from .agents import MAX_ENTRY_BYTES, valid_event
from .api import api, body, labs

MAX_EVENTS = 2000  # per batch (the courier sends at most this many)
MAX_PROGRAMS = 10_000  # (name, boot) pairs remembered; the oldest go first


class TraceDesk:
    """Per traced program and courier run, the newest seq relayed (so a batch posted twice counts once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # (two posts of one program may race: the seq check and relay are one step)
        self.last: dict[tuple[str, int], int] = {}
        self.skipped = 0

    def take(self, name: str, boot: int, events: list[Any]) -> tuple[int, int, int]:
        """Relay each new, valid event; (taken, already had, refused)."""
        bus = labs().bus
        own = f"@{name}"
        taken = had = refused = 0
        with self._lock:
            last = self.last.pop((name, boot), 0)  # (re-inserted below: the newest run stays longest)
            for event in events:
                if not (valid_event(event, name) and event["kind"] in TRACED_KINDS
                        and (event["endpoint"].endswith(own) or (event["kind"] == "agent" and not event["endpoint"]))
                        and len(orjson.dumps(event)) <= MAX_ENTRY_BYTES):
                    refused += 1
                    continue
                if event["seq"] <= last:
                    had += 1
                    continue
                last = event["seq"]
                bus.relay_in(event)
                taken += 1
            self.last[(name, boot)] = last
            while len(self.last) > MAX_PROGRAMS:
                del self.last[next(iter(self.last))]
            self.skipped += refused
        return taken, had, refused


@api.post("/traces/<name>/events")
def trace_events(name: str) -> Response:
    """A batch from a traced program's courier: `{"boot": ms, "events": [event, ...]}`."""
    name = checked_name(name)
    batch = body()
    if not (isinstance(batch, dict) and type(batch.get("boot")) is int and isinstance(batch.get("events"), list)):
        raise BadInput("trace-batch-invalid")
    events: list[Any] = batch["events"]
    if len(events) > MAX_EVENTS:
        raise TooLarge("trace-batch-too-large", limit=MAX_EVENTS, count=len(events))
    desk: TraceDesk = current_app.extensions.setdefault("socketlab_traces", TraceDesk())
    taken, had, refused = desk.take(name, batch["boot"], events)
    return jsonify(taken=taken, already=had, refused=refused)
