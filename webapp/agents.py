"""A dashboard over lab agents: the labs live on other hosts and speak only through Redis Streams.

- The bridge thread XREADs every agent's `ev:{agent}` stream and relays each event into this
  dashboard's own bus (renumbered, `agent` and `agent_seq` kept), which the one relay task emits
  as today. Per agent, events keep the order the agent recorded them. Several dashboards each read
  the streams themselves: nothing is consumed, nothing is sent twice to a browser.
- It also turns heartbeat keys (`hb:{agent}`, PX 2500) into `agent` events: up, and down when
  the key has expired (within 3 s of an agent's death).
- `AgentClient` sends a command (XADD `cmd:{agent}`) and waits at most 5 s for its answer on the
  stream `reply:{agent}:{dashboard id}`, read by one reply thread. The agent's name comes first so
  that an agent's Redis user may write its own replies and no other (agent/acl.py), and an answer
  counts only from the stream of the agent that was asked.

Whoever can write to Redis can write these keys, so nothing read here is trusted: an entry of an
agent's stream is relayed only when it is an event an agent may publish (lab/events/kinds.py `agent`), about
that agent's own sockets, within MAX_ENTRY_BYTES; a heartbeat counts only under a valid agent name,
and at most MAX_AGENTS are listed. What is refused is counted (`refused`, GET /api/stats).
- The bridge also reads the `stage` stream: the classroom stage, shared by every dashboard on the
  same Redis (webapp/shared_stage.py).

The keys and entries are told in docs/many-hosts.md (and shared/CONTRACT.md "Lab agents").
"""

from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, Callable

import orjson
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from agent.redisconn import connect, redacted
from agent.shipper import MAX_ENTRY_BYTES
from lab.client import LabClient
from lab.commands import raise_error
from lab.errors import BadInput, NotFound, Refused
from lab.events.bus import Event, EventBus
from agent.config import NAME
from lab.events.kinds import AGENT_KINDS, AGENT_LAB_KINDS, KINDS

from .shared_stage import STAGE_KEY, SharedStage

log = logging.getLogger(__name__)

COMMAND_SECONDS = 5.0  # a command never waits longer (CONTRACT: "never hangs longer than 5 s")
BLOCK_MS = 500  # each blocking read; the socket timeout is longer
HEARTBEAT_POLL = 0.5
# How long a stage clear waits for the agent's events to be relayed (its shipper sends every 10 ms; a
# stream new to this dashboard is found within HEARTBEAT_POLL plus one blocking read)
RELAY_WAIT_SECONDS = 3.0
# MAX_ENTRY_BYTES (agent/shipper.py, 16 KB): an agent's event is under 1 KB (measured: a recv with both
# previews 775 B, tcp_info 716 B) but for `state` snapshots, which grow with a server's connections
# (~70 B each) and rules, and which the shipper fits within it. A bigger entry is hostile or broken.
MAX_AGENTS = 200  # listed at once (a classroom has tens); beyond it a new name is refused and counted
MAX_HOST_CHARS = 100  # of a heartbeat's "host"
READ_COUNT = 2000


def valid_event(body: Any, agent: str) -> bool:
    """A stream entry is an event an agent may publish (lab/events/kinds.py `agent`), about its own sockets
    (an endpoint id ending in "@<agent>", or none for a kind about its lab as a whole), with the fields
    the page relies on."""
    if not (isinstance(body, dict) and isinstance(body.get("kind"), str) and body["kind"] in AGENT_KINDS
            and type(body.get("seq")) is int and isinstance(body.get("endpoint"), str)
            and type(body.get("ts")) in (int, float) and body.get("agent") == agent):
        return False
    endpoint: str = body["endpoint"]
    return endpoint.endswith(f"@{agent}") if endpoint else body["kind"] in AGENT_LAB_KINDS


def agent_event(bus: EventBus, name: str, what: str, host: str, ts: float, trace: bool = False,
                why: str | None = None, noun: str = "lab agent") -> dict[str, Any]:
    """An `agent` event into this dashboard's bus: a lab agent, or a traced program (`trace`), is
    up or down (`why` it went, when known); `noun` names it in the English `detail`. Returns its JSON form."""
    args: dict[str, Any] = {"event": what, "host": host}
    if trace:
        args["trace"] = True
    if why:
        args["why"] = why
    body = Event(0, ts, "", None, "", "agent", None, None, 0, None, f"{noun} {name} is {what}", args=args).to_json()
    body["seq"], body["agent"] = None, name  # (no agent numbered it: it gets no agent_seq)
    bus.relay_in(body)
    return body


class AgentClient:
    """One agent's lab, as a LabClient: each call is a command over Redis."""

    def __init__(self, hub: AgentHub, name: str) -> None:
        self.hub = hub
        self.name = name

    def call(self, op: str, args: dict[str, Any] | None = None) -> Any:
        answer = self.hub.command(self.name, op, args or {})
        if op == "stage.clear" and isinstance(answer, dict) and type(answer.get("last")) is int:
            # A new stage begins on this dashboard's bus (the `stage` event) only after the events the
            # agent recorded up to the end of its clear, the closes of the sockets it closed among them,
            # have been relayed onto it: so they belong to the stage that ended, on every path, as in
            # the embedded lab (whose closes are on the same bus before the `stage` event). They travel
            # apart (the agent's shipper, Redis, this bridge), and without this wait the page drew
            # them in the new stage. Events recorded after the clear (a packet the capture reads late)
            # are the page's to leave out (ladder-model.js: sockets of an earlier stage).
            if not self.hub.wait_relayed(self.name, answer["last"], RELAY_WAIT_SECONDS):
                log.warning("agent %s: its events up to seq %d were not relayed before the new stage began",
                            self.name, answer["last"])
        if op.startswith(("endpoints.", "downloads.")):  # endpoint and download objects say whose they are
            for item in answer if isinstance(answer, list) else [answer]:
                if isinstance(item, dict) and "id" in item:
                    item["agent"] = self.name
        return answer

    def file(self, dl_id: str) -> tuple[str, Path | bytes]:
        answer = self.call("downloads.file", {"id": dl_id})
        return str(answer["name"]), base64.b64decode(answer["data_b64"])


class AgentHub:
    """The dashboard's side of Redis: the bridge (events and heartbeats), the replies, the commands."""

    def __init__(self, url: str, bus: EventBus | None = None) -> None:
        self.url = url
        self.bus = bus or EventBus(capacity=50_000, pinned=5_000)
        self.id = uuid.uuid4().hex[:12]
        self.redis = connect(url, socket_timeout=BLOCK_MS / 1000 + 2)
        self.agents: dict[str, dict[str, Any]] = {}  # name -> {"name","host","state","since","boot_ms"}
        self.owners: dict[str, str] = {}  # endpoint or download id -> agent name (removed ones too)
        self.live: dict[str, str] = {}  # endpoint id -> agent, while it exists
        self.refused: Counter[str] = Counter()  # what was read and not believed, by reason
        self._refused_names: set[bytes] = set()  # (keys counted once each, not at every poll)
        self._positions: dict[bytes, bytes] = {}  # ev:{agent} -> last id read
        self.stage = SharedStage(self.redis, self.id)
        self._next_scan = 0.0
        self._waiting: dict[str, tuple[str, Future[tuple[bool, Any]]]] = {}  # command id -> (agent, answer)
        self._replies_from: dict[bytes, bytes] = {}  # reply:{agent}:{id} -> last entry read (agents asked)
        self._lock = threading.Lock()
        self._relayed: dict[str, int] = {}  # agent -> the seq of its newest event relayed
        self._relaying = threading.Condition()
        self._adopting = False  # the bridge is taking another dashboard's stage change: it relays nothing meanwhile
        self._stop = threading.Event()
        self.heartbeat_polls = 0  # heartbeat polls done (tests wait on it)
        self._threads: list[threading.Thread] = []

    # -- life ---------------------------------------------------------------------------------

    def start(self) -> None:
        for name, target in (("agents-bridge", self._bridge), ("agents-replies", self._replies),
                             ("agents-heartbeats", self._heartbeats)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("dashboard %s over the lab agents at %s", self.id, redacted(self.url))

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        try:
            if self._replies_from:
                self.redis.delete(*self._replies_from)
        except RedisError:
            pass
        self.redis.close()

    def _loop(self, what: str, once: Any) -> None:
        """Run `once()` until stopped; Redis away is logged once per outage, retried every 0.5 s."""
        down_since = 0.0
        while not self._stop.is_set():
            try:
                once()
                if down_since:
                    log.info("%s: Redis is back after %.1f s", what, time.monotonic() - down_since)
                    down_since = 0.0
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                if not down_since:
                    down_since = time.monotonic()
                    log.warning("%s: Redis unreachable (%s); retrying", what, exc)
                self._stop.wait(0.5)
            except Exception:  # a bug must not stop the bridge for everyone: logged, and on we go
                log.exception("%s failed", what)
                self._stop.wait(0.5)

    # -- events -------------------------------------------------------------------------------

    def _bridge(self) -> None:
        self._loop("bridge", self._bridge_once)

    def _bridge_once(self) -> None:
        if time.monotonic() >= self._next_scan:  # new agents' streams: looked for twice a second, not per read
            self._find_streams()
            self._next_scan = time.monotonic() + HEARTBEAT_POLL
        # the stage first: within one answer, a new stage comes before the events of the lesson it builds
        streams = {**self.stage.streams(), **self._positions}
        if not streams:
            self._stop.wait(BLOCK_MS / 1000)
            return
        answer: Any = self.redis.xread(streams, count=READ_COUNT, block=BLOCK_MS)  # type: ignore[arg-type]
        for stream, entries in answer or []:
            if stream == STAGE_KEY:
                for entry_id, fields in entries:
                    with self._relaying:
                        self._adopting = True
                        self._relaying.notify_all()
                    try:  # (another dashboard's stage: it waits while this dashboard changes its own)
                        self.stage.take(entry_id, fields)
                    finally:
                        with self._relaying:
                            self._adopting = False
                continue
            agent = stream.decode()[3:]
            for entry_id, fields in entries:
                self._positions[stream] = entry_id
                self._take(agent, fields.get(b"e"))

    def _find_streams(self) -> None:
        """Every `ev:<agent name>` stream, read from its start (its MAXLEN keeps about 100 s): so a
        dashboard that (re)starts shows what the agents did meanwhile. At most MAX_AGENTS of them."""
        for key in self.redis.scan_iter(match=b"ev:*", count=1000):
            if key not in self._positions and self._believed(key, "stream", len(self._positions)):
                self._positions[key] = b"0-0"

    def _believed(self, key: bytes, what: str, known: int) -> bool:
        """Whether `ev:`/`hb:` `key` names an agent this dashboard may list (`known` are listed now):
        a valid agent name (agent/config.py), within MAX_AGENTS; a refused key is counted once."""
        name = key[3:].decode(errors="replace")
        why = f"{what}-name" if not NAME.fullmatch(name) else f"{what}-too-many" if known >= MAX_AGENTS else ""
        if not why:
            return True
        if key not in self._refused_names and len(self._refused_names) < 100_000:
            self._refused_names.add(key)
            self.refused[why] += 1
        return False

    def _take(self, agent: str, raw: Any) -> None:
        if not isinstance(raw, bytes):
            self.refused["entry-not-an-event"] += 1
            return
        if len(raw) > MAX_ENTRY_BYTES:
            self.refused["entry-too-large"] += 1
            return
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self.refused["entry-not-an-event"] += 1
            return
        if not valid_event(body, agent):
            kind = body.get("kind") if isinstance(body, dict) else None
            # (a known kind: one an agent may not publish, or about sockets not its own)
            self.refused["entry-not-the-agents" if isinstance(kind, str) and kind in KINDS else "entry-not-an-event"] += 1
            return
        snapshot = body.get("state")
        with self._lock:
            if body["endpoint"]:
                self.owners[body["endpoint"]] = agent
            if body["kind"] == "state" and isinstance(snapshot, dict) and "kind" in snapshot:  # an endpoint's
                if snapshot.get("removed"):
                    self.live.pop(body["endpoint"], None)
                else:
                    self.live[body["endpoint"]] = agent
        agent_seq: int = body["seq"]  # (relay_in renumbers it: the agent's own stays as `agent_seq`)
        self.bus.relay_in(body, len(raw))
        with self._relaying:
            # (not the max: an agent's stream holds its events in order, and one that restarted numbers from 1)
            self._relayed[agent] = agent_seq
            self._relaying.notify_all()

    def wait_relayed(self, agent: str, seq: int, timeout: float) -> bool:
        """Wait until the bridge has relayed `agent`'s events up to its `seq`; False after `timeout`, or
        at once when the bridge is held up taking another dashboard's stage change (it waits for the
        change this dashboard is making, which waits here: the page then leaves out what comes late)."""
        with self._relaying:
            self._relaying.wait_for(lambda: self._relayed.get(agent, 0) >= seq or self._adopting, timeout)
            return self._relayed.get(agent, 0) >= seq

    @property
    def skipped(self) -> int:
        """What Redis held and this dashboard did not believe: agents' entries and heartbeat keys
        (`refused`, by reason), and the shared stage's entries."""
        return sum(self.refused.values()) + self.stage.skipped

    # -- heartbeats ---------------------------------------------------------------------------

    def _heartbeats(self) -> None:
        self._loop("heartbeats", self._heartbeats_once)

    def _heartbeats_once(self) -> None:
        # Copy, change, then publish the new dict in one assignment: request threads iterate
        # self.agents (up(), /api/agents) while this thread lists agents, and a dict they hold is
        # never changed under them (neither the dict nor the entries in it).
        agents = dict(self.agents)
        keys: list[bytes] = []
        fresh = 0
        for key in self.redis.scan_iter(match=b"hb:*", count=1000):  # (names listed already keep their place)
            if key[3:].decode(errors="replace") in agents:
                keys.append(key)
            elif self._believed(key, "heartbeat", self._listed_for_room(agents) + fresh):
                keys.append(key)
                fresh += 1
        values: Any = self.redis.mget(keys) if keys else []
        seen: dict[str, dict[str, Any]] = {}
        for key, value in zip(keys, values, strict=True):
            try:
                beat = orjson.loads(value) if value and len(value) <= MAX_ENTRY_BYTES else None
            except orjson.JSONDecodeError:
                beat = None
            if isinstance(beat, dict):
                seen[key[3:].decode()] = beat
        now = time.time()
        changed: list[tuple[dict[str, Any], str]] = []
        for name, beat in seen.items():
            known = agents.get(name)
            if known is None or known["state"] == "down" or known.get("boot_ms") != beat.get("boot_ms"):
                # ("commands": false is a traced program, python -m agent.trace: it has no lab to drive)
                agents[name] = {"name": name, "host": str(beat.get("host", ""))[:MAX_HOST_CHARS], "state": "up", "since": now,
                                "boot_ms": beat.get("boot_ms"), "commands": beat.get("commands") is not False}
                changed.append((agents[name], "up"))
                if agents[name]["commands"]:  # its answers are read from now on, before it is asked
                    self._replies_from.setdefault(self.reply_key(name), b"0-0")
        for name, known in list(agents.items()):
            if known["state"] == "up" and name not in seen:
                agents[name] = {**known, "state": "down", "since": now}
                changed.append((agents[name], "down"))
        self.agents = agents  # (listed before its event is published: a page told "up" finds the agent)
        for known, what in changed:
            agent_event(self.bus, known["name"], what, known["host"], now, trace=not known["commands"])
        self.heartbeat_polls += 1
        self._stop.wait(HEARTBEAT_POLL)

    @staticmethod
    def _listed_for_room(agents: dict[str, dict[str, Any]]) -> int:
        """How many agents are listed, after forgetting the one down longest when the list is full
        (so names that came and went, a ghost's or a renamed host's, never keep a new agent out)."""
        if len(agents) >= MAX_AGENTS:
            down = [a for a in agents.values() if a["state"] == "down"]
            if down:
                del agents[min(down, key=lambda a: a["since"])["name"]]
        return len(agents)

    # -- commands -----------------------------------------------------------------------------

    def reply_key(self, agent: str) -> bytes:
        """Where `agent` answers this dashboard (its ACL user may write `reply:<agent>:*` only)."""
        return f"reply:{agent}:{self.id}".encode()

    def _replies(self) -> None:
        def once() -> None:
            streams = dict(self._replies_from)  # (a stream added meanwhile is read from its start next round)
            if not streams:
                self._stop.wait(0.05)
                return
            answer: Any = self.redis.xread(streams, count=500, block=BLOCK_MS)  # type: ignore[arg-type]
            for stream, entries in answer or []:
                agent = stream.decode(errors="replace")[6:].rpartition(":")[0]
                for entry_id, fields in entries:
                    self._replies_from[stream] = entry_id
                    command_id = fields.get(b"id", b"").decode(errors="replace")
                    waiting = self._waiting.get(command_id)
                    if waiting is None or waiting[0] != agent:
                        continue  # an answer after its deadline, or to a command this agent was not given
                    del self._waiting[command_id]
                    try:
                        waiting[1].set_result((fields.get(b"ok") == b"1", orjson.loads(fields.get(b"body", b"null"))))
                    except orjson.JSONDecodeError:
                        waiting[1].set_result((False, {"code": "agent-error", "params": {"reason": "a broken answer"}}))

        self._loop("replies", once)

    def command(self, agent: str, op: str, args: dict[str, Any]) -> Any:
        """Send one command and wait for its answer (5 s at most, then a sentence)."""
        known = self.agents.get(agent)
        if known is None:
            raise NotFound("no-such-agent", agent=agent[:40], agents=", ".join(self.up()) or "none")
        if known["state"] != "up":
            raise Refused("agent-down", agent=agent, since=time.strftime("%H:%M:%S", time.localtime(known["since"])))
        try:  # (the API's body() refuses numbers past 64 bits; a lone surrogate or deep nesting ends here)
            encoded = orjson.dumps(args)
        except orjson.JSONEncodeError:
            raise BadInput("json-not-encodable") from None
        command_id = uuid.uuid4().hex
        answer: Future[tuple[bool, Any]] = Future()
        self._waiting[command_id] = (agent, answer)
        reply_key = self.reply_key(agent)
        self._replies_from.setdefault(reply_key, b"0-0")  # (a new dashboard id: nothing older is there)
        deadline = time.time() + COMMAND_SECONDS
        try:
            self.redis.xadd(f"cmd:{agent}", {"id": command_id, "op": op, "args": encoded,
                                             "reply": reply_key, "deadline": repr(deadline)},
                            maxlen=10_000, approximate=True)
            ok, body = answer.result(timeout=max(0.0, deadline - time.time()))
        except FutureTimeout:  # (first: it is the builtin TimeoutError, an OSError, since Python 3.11)
            raise Refused("agent-timeout", agent=agent, seconds=int(COMMAND_SECONDS)) from None
        except (RedisConnectionError, RedisTimeoutError, OSError):
            raise Refused("redis-unreachable") from None
        finally:
            self._waiting.pop(command_id, None)
        if not ok:
            raise_error(body)
        self._note_owner(agent, body)
        return body

    def _note_owner(self, agent: str, body: Any) -> None:
        """A create answers with the new id: known before its first event arrives."""
        if isinstance(body, dict) and isinstance(body.get("id"), str):
            with self._lock:
                self.owners[body["id"]] = agent

    def up(self) -> list[str]:
        """The agents up that take commands: a traced program (agent/trace/) is listed, never asked."""
        return sorted(name for name, a in self.agents.items() if a["state"] == "up" and a.get("commands", True))


class AgentLabs:
    """Labs over Redis: the Labs interface of lab/client.py."""

    def __init__(self, url: str, default_agent: str = "", wire_agent: str = "") -> None:
        """`default_agent`: where what names no agent goes when several are up; `wire_agent`: where a
        lesson that needs the wire (packets or real loss) goes. Both unset: a body must name its agent."""
        self.hub = AgentHub(url)
        self.bus = self.hub.bus
        self.default_agent, self.wire_agent = default_agent, wire_agent
        self.hub.start()

    def client(self, name: str) -> LabClient:
        return AgentClient(self.hub, name)

    def all(self) -> list[LabClient]:
        return [self.client(name) for name in self.hub.up()]

    def for_id(self, item_id: str) -> LabClient:
        owner = self.hub.owners.get(item_id)
        if owner is not None:
            return self.client(owner)  # (down: its commands answer 409 with the agent's name and since when)
        up = self.hub.up()
        if not up:
            raise Refused("no-agent-up")
        return self.client(up[0])  # an id nobody announced: that agent's lab says "no such ..." in its words

    def for_new(self, body: Any, needs: str | None = None) -> tuple[LabClient, Any]:
        up = self.hub.up()
        if isinstance(body, dict) and "agent" in body:
            body = dict(body)
            name = str(body.pop("agent"))[:40]
            if name not in self.hub.agents:
                raise NotFound("no-such-agent", agent=name, agents=", ".join(up) or "none")
            return self.client(name), body
        # a class's dashboard: a lesson that needs the wire goes to the sandbox, everything else to the
        # lab on the classroom's network (`make class`: webapp/__init__.py)
        routed = self.wire_agent if needs is not None else self.default_agent
        if routed and routed in up:
            return self.client(routed), body
        if len(up) == 1:
            return self.client(up[0]), body
        if not up:
            raise Refused("no-agent-up")
        raise Refused("agent-needed", agents=", ".join(up))

    def agents(self) -> list[dict[str, Any]]:
        counts: dict[str, int] = {}
        for owner in list(self.hub.live.values()):
            counts[owner] = counts.get(owner, 0) + 1
        return [{"name": a["name"], "host": a["host"], "state": a["state"], "since": a["since"],
                 "endpoints": counts.get(a["name"], 0), **({} if a["commands"] else {"trace": True})}
                for a in sorted(self.hub.agents.values(), key=lambda a: a["name"])]

    def session(self) -> dict[str, Any]:
        return {"limits": None, "allow": None, "bind": None, "agents": self.agents(),
                "default_agent": self.default_agent or None}

    def share(self, kind: str, detail: str, snapshot: dict[str, Any]) -> None:
        self.hub.stage.share(kind, detail, snapshot)

    def follow_stage(self, adopt: Callable[[str, str, Any], None]) -> None:
        self.hub.stage.follow(adopt)

    def close(self) -> None:
        self.hub.close()


__all__ = ["AgentClient", "AgentHub", "AgentLabs", "valid_event"]
