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

Each program posting here is listed by GET /api/agents beside the lab agents, as a Redis-traced
program is (`"trace": true`): up from its first batch (an `agent` "up" event, with the address it
posted from as its host), down when its courier says `"end": true` (the program ended) or after
SILENT_SECONDS without a batch (the courier posts an empty one every second while the program is
quiet), noticed at the next post or listing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, jsonify, request

from agent.config import checked_name
from agent.shipper import MAX_ENTRY_BYTES
from lab import BadInput, Refused, TooLarge
from lab.events.kinds import TRACED_KINDS, TRACED_PROGRAM_KINDS

from .agents import agent_event, valid_event
from .api import body, guarded, labs

routes = guarded(Blueprint("traces", __name__, url_prefix="/api"))

MAX_EVENTS = 2000  # per batch (the courier sends at most this many)
MAX_PROGRAMS = 10_000  # (name, boot) pairs remembered; the oldest go first
# The dashboard paces its programs: each answer says how long the next batch may gather (`"every"`), so
# that the whole class posts about PACE_REQUESTS times a second. A program alone posts every 50 ms (the
# lesson on the projector follows at once); a class of 100, every 0.5 s (a request costs the dashboard
# far more than an event in it: 8 programs posting every 50 ms took 4x the CPU of every 0.5 s).
PACE_REQUESTS = 200
PACE_MIN, PACE_MAX = 0.05, 0.5
SILENT_SECONDS = 5.0  # a program not heard from for this long is gone (its courier posts every second)
MAX_SOCKETS = 10_000  # open sockets counted per program (a program opening more is counted as this many)


Watch = Callable[[str, int, str, list[dict[str, Any]]], None]


class TraceDesk:
    """Per traced program and courier run, the newest seq relayed (so a batch posted twice counts once).
    `watch` is given each batch's new events of a program's newest run, as relayed (none: a keepalive),
    and the `agent` "down" event of its end: (name, boot, the address it posted from, events); the
    exercise's checker files them (lab/exercises/checker.py)."""

    def __init__(self, watch: Watch | None = None) -> None:
        self.watch = watch
        self._lock = threading.Lock()  # (two posts of one program may race: the seq check and relay are one step)
        self.last: dict[tuple[str, int], int] = {}
        self.skipped = 0
        # name -> {"name", "host", "state", "since", "boot", "heard" (monotonic), "open": the sockets not closed}
        self.programs: dict[str, dict[str, Any]] = {}
        self._up: dict[str, dict[str, Any]] = {}  # the programs up, the least recently heard first

    def pace(self) -> float:
        """Seconds a program's next batch may gather: the programs posting now share PACE_REQUESTS a second."""
        return min(PACE_MAX, max(PACE_MIN, len(self._up) / PACE_REQUESTS))

    def listed(self) -> list[dict[str, Any]]:
        """The programs, as GET /api/agents lists an agent (and `"trace": true`)."""
        with self._lock:
            self._sweep(labs().bus)
            return [{"name": p["name"], "host": p["host"], "state": p["state"], "since": p["since"],
                     "endpoints": len(p["open"]), "trace": True} for p in self.programs.values()]

    def take(self, name: str, boot: int, events: list[Any], host: str = "", end: bool = False) -> tuple[int, int, int]:
        """Relay each new, valid event; (taken, already had, refused)."""
        bus = labs().bus
        own = f"@{name}"
        taken = had = 0
        # The whole batch is judged before any of it is relayed: a check that failed half-way would
        # leave the first events relayed and the seq not noted, and the courier's retry relays them again.
        sized = [(event, _json_size(event, name, own)) for event in events]
        good = [(event, size) for event, size in sized if size is not None]
        refused = len(events) - len(good)
        with self._lock:
            self._sweep(bus)
            program = self._heard(bus, name, boot, host, _first_ts(events))
            last = self.last.pop((name, boot), 0)  # (re-inserted below: the newest run stays longest)
            fresh = []
            for event, size in good:  # (its JSON's size, measured once: the ring budgets by it)
                if event["seq"] <= last:
                    had += 1
                    continue
                last = event["seq"]
                if bus.relay_in(event, size) is not None:
                    fresh.append(event)
                taken += 1
                if program is not None:
                    _count_socket(program["open"], event)
            if self.watch is not None and program is not None:
                self.watch(name, boot, host, fresh)  # (under the lock: a program's batches reach it in order)
            self.last[(name, boot)] = last
            while len(self.last) > MAX_PROGRAMS:
                del self.last[next(iter(self.last))]
            self.skipped += refused
            if end and program is not None:
                self._gone(bus, program, "ended")
        return taken, had, refused

    def _heard(self, bus: Any, name: str, boot: int, host: str, began: float) -> dict[str, Any] | None:
        """The program that posted: a new run (a later `boot`) comes up; a run gone silent comes back;
        a run that ended stays ended (a late retry of its last batch); an older run changes nothing
        (None: its events still count once, the listing shows the newer run)."""
        program = self.programs.get(name)
        if program is not None and boot < program["boot"]:
            return None
        if program is None or boot > program["boot"] or program["state"] == "down" and program["why"] == "silent":
            program = {"name": name, "host": host, "state": "up", "since": time.time(), "boot": boot, "open": set(),
                       "why": None}
            agent_event(bus, name, "up", host, began, trace=True, noun="traced program")
        program["heard"] = time.monotonic()
        self.programs.pop(name, None)
        self.programs[name] = program  # (the newest heard stays longest)
        if program["state"] == "up":
            self._up.pop(name, None)
            self._up[name] = program
        while len(self.programs) > MAX_PROGRAMS:
            self._up.pop(next(iter(self.programs)), None)
            del self.programs[next(iter(self.programs))]
        return program

    def _sweep(self, bus: Any) -> None:
        """Programs not heard from for SILENT_SECONDS: gone (their courier was killed, or the network)."""
        now = time.monotonic()
        while self._up:  # (least recently heard first: it stops at the first one still heard from)
            program = next(iter(self._up.values()))
            if now - program["heard"] <= SILENT_SECONDS:
                break
            self._gone(bus, program, "silent")

    def _gone(self, bus: Any, program: dict[str, Any], why: str) -> None:
        if program["state"] == "up":
            program.update(state="down", since=time.time(), why=why)
            program["open"].clear()
            self._up.pop(program["name"], None)
            down = agent_event(bus, program["name"], "down", program["host"], time.time(), trace=True, why=why,
                               noun="traced program")
            if self.watch is not None:  # (the program ended: a check that waited for its end may now fail)
                self.watch(program["name"], program["boot"], program["host"], [down])


def _json_size(event: Any, name: str, own: str) -> int | None:
    """The size of `event` as JSON when it is what a traced program may say (the bridge's rule, its own
    kinds and sockets) and an event the page's transport can carry: orjson writes it (no lone surrogate,
    no nesting past its limit) within the size of one stream entry; None otherwise."""
    if not (valid_event(event, name) and event["kind"] in TRACED_KINDS
            and (event["endpoint"].endswith(own) or (event["kind"] in TRACED_PROGRAM_KINDS and not event["endpoint"]))):
        return None
    try:
        size = len(orjson.dumps(event))
    except orjson.JSONEncodeError:
        return None
    return size if size <= MAX_ENTRY_BYTES else None


def _count_socket(open_: set[str], event: dict[str, Any]) -> None:
    """A program's sockets open now: those with an event and no `close` yet (at most MAX_SOCKETS)."""
    if event["kind"] == "close":
        open_.discard(event["endpoint"])
    elif event["endpoint"] and event["kind"] != "agent" and len(open_) < MAX_SOCKETS:
        open_.add(event["endpoint"])


def _first_ts(events: list[Any]) -> float:
    """When a run began, as far as this batch says: its earliest event's time (the page sorts by
    time: "started" comes before the calls, though their batch arrived first), never after now."""
    now = time.time()
    times = [float(e["ts"]) for e in events if isinstance(e, dict) and type(e.get("ts")) in (int, float)]
    return min([now, *(t for t in times if now - 600 < t < now)])  # (a hostile or skewed clock: now)


@routes.post("/traces/<name>/events")
def trace_events(name: str) -> Response:
    """A batch from a traced program's courier: `{"boot": ms, "events": [event, ...]}`."""
    name = checked_name(name)
    if any(agent["name"] == name and not agent.get("trace") for agent in labs().agents()):
        # a lab's own agent: a program posting under its name would draw lanes the class takes for the lab's
        raise Refused("trace-name-is-agent", name=name)
    batch = body()
    if not (isinstance(batch, dict) and type(batch.get("boot")) is int and isinstance(batch.get("events"), list)
            and type(batch.get("end", False)) is bool):
        raise BadInput("trace-batch-invalid")
    events: list[Any] = batch["events"]
    if len(events) > MAX_EVENTS:
        raise TooLarge("trace-batch-too-large", limit=MAX_EVENTS, count=len(events))
    desk: TraceDesk = current_app.extensions.setdefault("socketlab_traces", TraceDesk())
    taken, had, refused = desk.take(name, batch["boot"], events, request.remote_addr or "", batch.get("end") is True)
    return jsonify(taken=taken, already=had, refused=refused, every=desk.pace())
