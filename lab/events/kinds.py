"""The one registry of event kinds: every kind the lab publishes is named here, once.

Everything else reads this table: the event buffer (which kinds are lifecycle, so always recorded
and pinned), the API (GET /api/session hands it to the page), the page (how the ladder draws a kind,
which translation key words it), and the tests (every published kind is registered, every kind has a
translation and a drawing rule). Adding a kind is one entry here plus its translations.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

Draw = Literal["lane-start", "lane-end", "arrow", "mark", "wire", "none"]
LogRow = Literal["row", "divider", "none"]
FromAgent = Literal["socket", "lab", "never"]


class Kind(NamedTuple):
    """What an event kind is, as data.

    `lifecycle`: tells the story of a socket's life, so it is always recorded (never rate-limited)
    and pinned in the buffer for late joiners; every other kind may come by the thousand per second.
    `draw`: how the sequence diagram draws it. `changes`: it may change an endpoint's card.
    `log`: how the log shows it: a row, a divider between stages, or nothing (snapshots).
    `agent`: what a lab agent may publish of it through its own stream (webapp/agents.py relays nothing
    else): "socket", about one of its own sockets (the endpoint id ends in "@<agent>"); "lab", also
    about its lab as a whole (no endpoint); "never", only a dashboard publishes it (the classroom).
    """

    name: str
    lifecycle: bool
    draw: Draw
    changes: bool
    log: LogRow = "row"
    agent: FromAgent = "socket"


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("listen", True, "lane-start", True),
    Kind("accept", True, "lane-start", True),
    Kind("connect", True, "lane-start", True),
    Kind("send", False, "arrow", False),
    Kind("recv", False, "arrow", False),
    Kind("message", False, "mark", False),
    Kind("shutdown", True, "mark", True),
    Kind("close", True, "lane-end", True),
    Kind("refuse", True, "mark", False),
    # errors are not lifecycle, but have a budget of their own in the buffer (see EventBus._admit)
    Kind("error", False, "mark", True, agent="lab"),  # (also the lab's own: capture stopped)
    Kind("relay", False, "mark", False),
    Kind("http", False, "mark", False),
    Kind("lost", False, "mark", False),
    Kind("header", True, "mark", True),
    Kind("progress", False, "none", True),
    Kind("done", True, "mark", True),
    Kind("tcp_info", False, "none", False),
    Kind("backpressure", False, "mark", False),
    Kind("state", True, "none", True, "none"),
    # the classroom (lab/stage.py): a new stage begins (the views start afresh), and the stage
    # changed within one (a lesson built, an action ran, the teacher's view); no socket of their own
    Kind("stage", True, "none", False, "divider", agent="never"),
    Kind("classroom", True, "none", False, "none", agent="never"),
    # a lab agent (agent/, CONTRACT "Lab agents"): args.event is "up" or "down" (the dashboard saw its
    # heartbeat come or go) or "dropped" (args.count events left the agent's buffer during a Redis outage)
    Kind("agent", True, "none", False, agent="lab"),
    # a traced student program (agent/trace/): a socket call with no kind of its own, args name it:
    # socket() {family, type}, a TCP bind() {address}, settimeout() {timeout}, setsockopt() {level, option, value}
    Kind("setup", False, "mark", False),
    # a segment or datagram on the wire (lab/wire/, CONTRACT "The wire"): args hold its header
    # {flags, seq, ack, win, len, src, dst, analysis}; drawn as a thin arrow in the wire layer
    Kind("packet", False, "wire", False),
    # a lesson run is over, judged from its data (lab/lessons/loss_watch.py: every TCP message echoed, or TCP
    # idle past its RTO): args {reason, count, tcp: {received, retransmits, seconds, dropped}, udp: {...}};
    # lifecycle, so the panel that waits for it never loses it to the rate limit
    Kind("settled", True, "none", False),
    # an exercise (lab/exercises/): one student's row changed (a check passed or failed). params
    # {"stage", "exercise", "name", "address", "checks": {code: state}, "hints": [code], "reasons":
    # {code: {"reason", "params"}}}: the whole row, so one event is enough; sent only when the row
    # changes (a few per student per exercise), so lifecycle: never lost to the rate limit
    Kind("exercise", True, "none", False, "none", agent="never"),
    # what a traced student program printed (agent/trace/tracer.py Output): args {"text": at most 4 KiB,
    # "stream": "stdout", "dropped"?: characters let go before it}; about the program, not one of its sockets
    # (no endpoint); joined in order, the texts are its output, which some exercises' checks read
    Kind("output", False, "none", False, agent="lab"),
)}

#: Kinds always recorded and pinned in the buffer (derived: never list them again elsewhere).
LIFECYCLE_KINDS: frozenset[str] = frozenset(k.name for k in KINDS.values() if k.lifecycle)

#: What a lab agent's stream may carry, and of those what may be about no socket (derived, as above).
AGENT_KINDS: frozenset[str] = frozenset(k.name for k in KINDS.values() if k.agent != "never")
AGENT_LAB_KINDS: frozenset[str] = frozenset(k.name for k in KINDS.values() if k.agent == "lab")

#: What a traced program's events may be (agent/trace/ records only these): its socket calls and its
#: drop counts, never a lab endpoint's state. The dashboard's route for traced programs takes no other.
TRACED_KINDS: frozenset[str] = frozenset({"setup", "listen", "accept", "connect", "send", "recv", "shutdown", "close",
                                          "error", "agent", "output"})
#: Of those, what is about the program as a whole, with no endpoint: its drop counts, what it printed.
TRACED_PROGRAM_KINDS: frozenset[str] = frozenset({"agent", "output"})


def kinds_json() -> dict[str, dict[str, object]]:
    """The registry as the page reads it (GET /api/session "kinds")."""
    return {k.name: {"lifecycle": k.lifecycle, "draw": k.draw, "changes": k.changes, "log": k.log}
            for k in KINDS.values()}
