"""The agent's events, from its lab's bus to the stream ev:{agent}: every 10 ms, one pipelined XADD.

Invariant: `sent` is the newest seq that Redis is known to hold; every event after it is still in the
lab's bus (for a lab agent: in what its courier holds of it, agent/courier.py), or counted as dropped
there. So the bus is the outage buffer: while Redis is away nothing is
taken from it, and when Redis is back the shipper asks Redis for the newest id it holds and goes on
from there. Ids are explicit, `{boot_ms}-{seq}`: an XADD sent twice (its answer was lost) is refused by
Redis as "equal or smaller than the target stream top item", which means it is already there, so no
event is ever written twice. Events the bus let go meanwhile become one event of kind "agent",
args {"event": "dropped", "count": n}, at the id of the first one missing: never lost silently.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Protocol, Sequence

import orjson
import redis

from lab.events.bus import Event, Recorded

from .retry import PROBLEMS, UNREACHABLE, Outage

# At most one pipeline every BATCH_SECONDS, paced from the previous one: under load every batch
# carries what came in meanwhile (one round trip for all), and the first event after a quiet spell
# goes at once instead of waiting a whole window (bench 8 with the relay paced too: p50 26 -> 16 ms; 5 ms
# pacing here was no better, p99 68 against 55 ms).
BATCH_SECONDS = 0.01
BATCH_EVENTS = 2000  # at most this many per pipeline (a larger backlog takes several, back to back)
MAXLEN = 200_000  # about 100 s of a busy lab (2000 events/s): a dashboard back within that misses nothing
# XADD <key> MAXLEN ~ <MAXLEN> <boot>-<seq> e <data>, in RESP: the part after the key, with the
# id's and the data's lengths and values still to fill (a Shipper puts its key in front, once)
_MAXLEN_RESP = b"$6\r\nMAXLEN\r\n$1\r\n~\r\n$%d\r\n%d\r\n" % (len(str(MAXLEN)), MAXLEN)
_ID_AND_DATA = b"$%d\r\n%s-%d\r\n$1\r\ne\r\n$%d\r\n%s\r\n"
# The most one stream entry may hold: dashboards refuse bigger ones (webapp/agents.py), as anyone who can
# write to Redis could write them. Every event is far below it but a `state` snapshot, which grows with a
# server's connections and rules: `fitted` cuts those to size, saying how many there were.
MAX_ENTRY_BYTES = 16 << 10
RULE_REPLY_SHOWN = 200  # characters of each rule's reply a cut snapshot keeps
ALREADY_THERE = "equal or smaller"  # Redis: "The ID specified in XADD is equal or smaller than the target stream top item"

log = logging.getLogger("agent.shipper")


class Source(Protocol):
    """Where a Shipper takes its events from, by seq: a lab's EventBus (a traced program's courier), or
    what a lab agent's courier holds of its lab's (agent/courier.py)."""

    @property
    def last_seq(self) -> int: ...

    def since(self, after: int, limit: int = ...) -> tuple[Sequence[Recorded], int]: ...

    def wait(self, after: int, timeout: float, cancelled: Callable[[], bool] = ...) -> bool: ...


class Shipper:
    def __init__(self, client: redis.Redis, bus: Source, name: str, boot_ms: int, stopping: threading.Event) -> None:
        self.client, self.bus, self.name, self.boot_ms = client, bus, name, boot_ms
        self.key = f"ev:{name}"
        key = self.key.encode()  # (an agent's name is letters, digits and _.-: no '%' to confuse the template)
        self._xadd = b"*8\r\n$4\r\nXADD\r\n$%d\r\n%s\r\n" % (len(key), key) + _MAXLEN_RESP + _ID_AND_DATA
        self.stopping = stopping
        self.outage = Outage(log, f"agent {name}: shipping events")
        self.sent = 0
        self.shipped = 0  # entries Redis took (or already held)
        self.dropped = 0  # events the bus let go before Redis took them
        self._resync = True  # ask Redis where it stands before the next XADD (at start, after an outage)

    def run(self) -> None:
        shipped_at = 0.0
        while not self.stopping.is_set():
            if not self.bus.wait(self.sent, 0.5, cancelled=self.stopping.is_set) and not self._resync:
                continue
            pause = shipped_at + BATCH_SECONDS - time.monotonic()
            if pause > 0:
                self.stopping.wait(pause)
            shipped_at = time.monotonic()
            try:
                while self.ship_once() >= BATCH_EVENTS and not self.stopping.is_set():
                    pass  # a backlog (after an outage): send it batch after batch, without waiting
                self.outage.ok()
            except UNREACHABLE as exc:
                self._resync = True
                self.stopping.wait(self.outage.failed(exc))
            except redis.ResponseError as exc:  # e.g. WRONGTYPE: someone made ev:{name} a string
                self._resync = True
                self.stopping.wait(self.outage.failed(exc))
        try:  # a last batch, once: what the lab recorded while stopping (no waiting for a lost Redis)
            self.ship_once()
        except PROBLEMS as exc:
            log.warning("agent %s: events after seq %d were not shipped at stop (%s)", self.name, self.sent, exc)

    def ship_once(self) -> int:
        """Send what the bus holds after `sent` (at most one batch); returns how many entries went."""
        if self._resync:
            self._resynchronise()
        events, dropped = self.bus.since(self.sent, BATCH_EVENTS)
        if not events:
            return 0
        entries = [(e.seq, self._encode(e)) for e in events]
        if dropped:
            gap = _first_gap(self.sent, events)
            at = next((i for i, e in enumerate(events) if e.seq > gap), len(events))
            ts = _ts(events[at]) if at < len(events) else time.time()  # (sorted by ts, it stays where the gap is)
            why = f"{dropped} events left agent {self.name}'s buffer before Redis took them"
            entries.insert(at, (gap, self._encode(dropped_event(gap, ts, dropped, why))))
        results = self._xadd_all(entries)
        for (seq, _), result in zip(entries, results, strict=True):
            if isinstance(result, Exception) and ALREADY_THERE not in str(result):
                raise result  # (entries before it are in Redis: the resync after the error finds them)
            if isinstance(result, Exception) and self._overtaken():
                # "equal or smaller" means "already there" only below our own ids: above them stands an
                # entry someone else wrote (`XADD ev:{name} * ...` by hand takes a later millisecond), and
                # counting ours as shipped would lose every event from here on. Resynchronise (which
                # numbers above it) and send the rest again on the next round.
                self._resync = True
                return 0
            self.sent = max(self.sent, seq)
            self.shipped += 1
        self.sent = events[-1].seq
        self.dropped += dropped
        return len(entries)

    def _xadd_all(self, entries: list[tuple[int, bytes]]) -> list[Any]:
        """One XADD per entry, pipelined in one write; each answer, or the ResponseError it was.

        The commands are packed here rather than by redis-py's pipeline: its packing of each argument
        was half the shipper's time (a profile of 20,000 events: 25 of 54 us an event), on the lab's own
        process, where it slows the sockets being watched. Same bytes on the wire, same answers.
        """
        boot = str(self.boot_ms).encode()
        template = self._xadd
        payload = b"".join(template % (len(boot) + 1 + len(str(seq)), boot, seq, len(data), data)
                           for seq, data in entries)
        pool = self.client.connection_pool
        connection = pool.get_connection()
        try:
            connection.send_packed_command([payload], check_health=False)  # type: ignore[no-untyped-call]
            results: list[Any] = []
            for _ in entries:
                try:
                    results.append(connection.read_response())
                except redis.ResponseError as exc:
                    results.append(exc)
            return results
        except BaseException:
            connection.disconnect()  # type: ignore[no-untyped-call]  # (half-read answers: never reuse it)
            raise
        finally:
            pool.release(connection)

    def _top(self) -> tuple[int, int, bool] | None:
        """The stream's newest entry: its id's millisecond and sequence, and whether it is ours (an event
        of this agent at that very seq). An entry someone wrote by hand may share our millisecond: its
        id alone cannot tell, and taking it for ours would skip our events from its seq on."""
        top: Any = self.client.xrevrange(self.key, "+", "-", count=1)  # (protocol 2: [(id, fields)])
        if not top:
            return None
        entry_id, fields = top[0]
        ms, _, seq = entry_id.decode().partition("-")
        try:
            body = orjson.loads(fields.get(b"e", b""))
            ours = isinstance(body, dict) and body.get("agent") == self.name and body.get("seq") == int(seq)
        except (orjson.JSONDecodeError, ValueError):
            ours = False
        return int(ms), int(seq), ours

    def _resynchronise(self) -> None:
        """Go on from the newest entry Redis holds: nothing it has is sent again, nothing it lost is skipped."""
        top = self._top()
        if top:
            ms, seq, ours = top
            if ms > self.boot_ms or (ms == self.boot_ms and (not ours or (self.sent == 0 and self.shipped == 0))):
                # an earlier agent of this name wrote ids above ours (the clock went back, or it started
                # in this same millisecond), or someone wrote an entry by hand: number above them, or
                # every XADD would look "already there"
                log.warning("agent %s: ev:%s already holds ids from %d ms; numbering from %d ms", self.name, self.name,
                            ms, ms + 1)
                self.boot_ms = ms + 1
            elif ms == self.boot_ms:
                # Redis's own word: it may hold more than we saw confirmed (an answer lost in the outage),
                # or less (a Redis restarted from an older snapshot): go on right after what it holds
                self.sent = min(seq, self.bus.last_seq)
        # (an empty stream, or only older boots' ids: Redis restarted empty; what it held is gone with
        # it, and what we had confirmed is not sent again: dashboards read on from the ids they had)
        self._resync = False

    def _overtaken(self) -> bool:
        """Whether the stream's newest entry is not this agent's own: above our millisecond, or at it
        but written by someone else."""
        top = self._top()
        return top is not None and (top[0] > self.boot_ms or (top[0] == self.boot_ms and not top[2]))

    def _encode(self, event: Recorded) -> bytes:
        body: dict[str, Any] = event.to_json()
        body["agent"] = self.name
        return fitted(body)



def dropped_event(seq: int, ts: float, count: int, why: str) -> Event:
    """The `agent` event that stands, at `seq`, for `count` events a buffer let go before they were taken."""
    return Event(seq, ts, "", None, "", "agent", None, None, 0, None, why, args={"event": "dropped", "count": count})


def fitted(body: dict[str, Any], limit: int = MAX_ENTRY_BYTES) -> bytes:
    """`body` as one stream entry of at most `limit` bytes. A `state` snapshot too big for it keeps its
    first connections (`connections_total` says how many there are: GET /api/endpoints has them all)
    and the start of each rule's reply (`rules_cut`); any other event too big keeps its fields but
    for its previews and args (`cut`): dashboards would refuse it whole."""
    data = orjson.dumps(body)
    if len(data) <= limit:
        return data
    snapshot = body.get("state")
    if isinstance(snapshot, dict):
        snapshot = body["state"] = dict(snapshot)
        rules = snapshot.get("rules")
        if isinstance(rules, list) and rules:
            snapshot["rules"] = [{**r, "reply": r["reply"][:RULE_REPLY_SHOWN]} if isinstance(r.get("reply"), str) else r
                                 for r in rules if isinstance(r, dict)]
            snapshot["rules_cut"] = True
        connections = snapshot.get("connections")
        if isinstance(connections, list) and connections:
            snapshot["connections_total"] = len(connections)
            over = len(orjson.dumps(body)) - limit
            if over > 0:  # (each connection's summary is about the same size: drop enough, and a few more)
                each = max(1, len(orjson.dumps(connections)) // len(connections))
                snapshot["connections"] = connections[:max(0, len(connections) - over // each - 4)]
        data = orjson.dumps(body)
        if len(data) <= limit:
            return data
    return orjson.dumps({**body, "data": None, "hex": None, "args": None, "state": None, "params": None,
                         "detail": str(body.get("detail", ""))[:200], "cut": True})


def _first_gap(after: int, events: Sequence[Recorded]) -> int:
    """The first seq after `after` that `events` (ascending) lacks."""
    expected = after + 1
    for event in events:
        if event.seq != expected:
            return expected
        expected += 1
    return expected


def _ts(event: Recorded) -> float:
    return event.ts if isinstance(event, Event) else float(event.body.get("ts") or time.time())


def now_ms() -> int:
    return int(time.time() * 1000)
