"""The one-file tracer's own part: `python3 socketlab_trace.py my_program.py [args...]`.

webapp/tracer_file.py makes socketlab_trace.py for a student who joined: this package's program-side
modules (labfacts' values, facts, tracer, unpack, tsocket, running) and this one, as their sources,
with the dashboard's address, the student's name and token written in. It needs nothing but Python's
standard library (3.8 and later) and no module some OS lacks, so it runs on any student's laptop.

The tracing is `python -m agent.trace`'s own (the same modules). What differs is only the way out:
no courier process (Windows has no fork, no pass_fds, no select on a pipe), but one thread of the
program's own that turns the tracer's records into events (unpack.py) in a bounded buffer and posts
them as the courier does (posting.py): `POST <dashboard>/api/traces/<name>/events` with the token,
`{"boot": ms, "events": [...]}`, the same events again until the dashboard answers 200, an empty
batch every KEEPALIVE_SECONDS while the program is quiet, `"end": true` once at exit. What the buffer
lets go before the dashboard took it is one `agent` "dropped" event, as in the courier.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import sys
import threading
import time
import urllib.parse
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Tuple

from .labfacts import FIELDS, SHOWN_AS
from .running import missing, run
from .tracer import Tracer
from .tsocket import install
from .unpack import dropped as record_dropped
from .unpack import unpack

CAPACITY = 50_000  # events held while the dashboard is away (the courier's bus holds as many)
BATCH_EVENTS = 2000  # the dashboard refuses more in one body (webapp/traces.py MAX_EVENTS)
FRAME_RECORDS = 5000  # records turned into events in one go
BATCH_SECONDS = 0.05
MAX_EVERY = 1.0  # the longest a batch gathers, whatever a dashboard says (the page's lag stays under ~1 s)
IDLE_SECONDS = 0.5
KEEPALIVE_SECONDS = 1.0  # the dashboard counts a program silent for 5 s as gone
HTTP_SECONDS = 5.0
FLUSH_SECONDS = 10.0  # at exit, at most this long for the last events
FIRST_WAIT, MAX_WAIT = 0.05, 2.0
REFUSED = (400, 401, 403, 404, 413, 415)  # the dashboard said no for good: posting again changes nothing
PROG = "socketlab_trace.py"


def _write_json_form() -> Callable[[Tuple[Any, ...]], Dict[str, Any]]:
    """(seq, *fields) -> the event's JSON form, written out from FIELDS and SHOWN_AS as lab/events/bus.py
    writes Event.to_json: the same keys, in the same order, with the same values."""
    shown = {field: SHOWN_AS.get(field, {field: field}) for field in FIELDS}
    items = ", ".join(f"{key!r}: {value}" for keys in shown.values() for key, value in keys.items())
    source = f"def to_json(event):\n    {', '.join(FIELDS)}, = event\n    return {{{items}}}\n"
    namespace: Dict[str, Any] = {}
    exec(source, namespace)  # (made from the field names and SHOWN_AS alone)
    form: Callable[[Tuple[Any, ...]], Dict[str, Any]] = namespace["to_json"]
    return form


to_json = _write_json_form()


class Buffer:
    """Events numbered from 1, the newest CAPACITY of them held; the older ones are counted as they go."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.events: Deque[Tuple[Any, ...]] = deque(maxlen=capacity)
        self.last_seq = 0

    def record(self, *fields: Any) -> None:
        """An event's fields after `seq` (unpack.py's call), padded with their defaults (None)."""
        self.last_seq += 1
        self.events.append((self.last_seq, *fields, *(None,) * (len(FIELDS) - 1 - len(fields))))

    def since(self, after: int, limit: int) -> Tuple[List[Tuple[Any, ...]], int]:
        """Up to `limit` events after seq `after`, and how many after it were let go."""
        events = self.events
        while events and events[0][0] <= after:
            events.popleft()  # (taken by the dashboard: the poster alone reads, and never asks again)
        first = events[0][0] if events else self.last_seq + 1
        return [events[i] for i in range(min(limit, len(events)))], first - after - 1


class Refusal(Exception):
    """The dashboard said no for good (a token revoked or not this name's): posting again changes nothing."""


class Poster:
    """The thread that moves the tracer's records to the dashboard (see the module's docstring)."""

    def __init__(self, tracer: Tracer, dashboard: str, name: str, token: str) -> None:
        self.tracer, self.name = tracer, name
        parts = urllib.parse.urlsplit(dashboard)
        self.https = parts.scheme == "https"
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port
        self.path = f"{parts.path.rstrip('/')}/api/traces/{urllib.parse.quote(name)}/events"
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        self.boot_ms = int(time.time() * 1000)
        self.buffer = Buffer()
        self.sent = 0  # the newest seq the dashboard took
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="socketlab-trace-post", daemon=True)
        self._deadline = float("inf")
        self._posted = 0.0  # (monotonic) the last post the dashboard answered
        self.every = BATCH_SECONDS  # how long a batch gathers: the dashboard paces its programs (`pace`)
        self._failing = False
        self._lost_reported = 0

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        """The program ended: go on until every event is taken, or FLUSH_SECONDS passed."""
        self._deadline = time.monotonic() + FLUSH_SECONDS
        self.stopping.set()
        self.tracer.wakeup.set()
        self.thread.join(FLUSH_SECONDS + HTTP_SECONDS)

    def _run(self) -> None:
        self.tracer.untraced.add(threading.get_ident())  # (its own posts are not the program's calls)
        wait = 0.0
        try:
            while time.monotonic() < self._deadline:
                stopping = self.stopping.is_set()  # (read first: records put before it are taken below)
                self._take()
                if stopping and self.buffer.last_seq <= self.sent:
                    self._post_empty(end=True)
                    return
                if self.buffer.last_seq > self.sent:
                    try:
                        while self._post_batch() >= BATCH_EVENTS:
                            pass
                        wait = 0.0
                        if self._failing:
                            self._failing = False
                            print(f"{PROG}: the dashboard answers again", file=sys.stderr)
                    except OSError as exc:  # unreachable, restarting, a 5xx: the same events again, later
                        if not self._failing:
                            self._failing = True
                            print(f"{PROG}: the dashboard at {self.host} does not answer ({exc}); keeping the "
                                  f"events and retrying", file=sys.stderr)
                        wait = min(MAX_WAIT, wait * 2 if wait else FIRST_WAIT)
                        self.stopping.wait(wait)
                        continue
                elif time.monotonic() - self._posted >= KEEPALIVE_SECONDS and not stopping:
                    self._post_empty()
                if not stopping:
                    self._sleep()
        except Refusal as exc:
            self.tracer.on = False  # (nobody takes them: recording would only cost the program)
            print(f"{PROG}: the dashboard refused the events: {exc}", file=sys.stderr)

    def _sleep(self) -> None:
        """A batch gathers for BATCH_SECONDS; with nothing to do, sleep until the next record (tracer.py)."""
        tracer = self.tracer
        if tracer.records:
            self.stopping.wait(self.every)
            return
        tracer.idle = True
        if tracer.records:  # (appended before it saw `idle`: it did not wake us)
            tracer.idle = False
            return
        tracer.wakeup.wait(min(IDLE_SECONDS, KEEPALIVE_SECONDS))
        tracer.wakeup.clear()

    def _take(self) -> None:
        """The tracer's records, as events in the buffer (and the program's own drops, as one event)."""
        records = self.tracer.records
        while records:
            popleft = records.popleft
            unpack(self.buffer, [popleft() for _ in range(min(len(records), FRAME_RECORDS))])
        lost = self.tracer.dropped()  # (all so far)
        if lost > self._lost_reported:
            record_dropped(self.buffer, time.time(), lost - self._lost_reported)
            self._lost_reported = lost

    def _post_batch(self) -> int:
        events, lost = self.buffer.since(self.sent, BATCH_EVENTS - 1)
        if not events:
            return 0
        bodies = [self._body(event) for event in events]
        if lost:  # (at the gap: seqs stay ascending, and the dashboard takes them in order)
            gap = self.sent + 1
            bodies.insert(0, self._body((gap, events[0][1], "", None, "", "agent", None, None, 0, None,
                                         f"{lost} events left the buffer before the dashboard took them", None,
                                         {"event": "dropped", "count": lost},
                                         *(None,) * (len(FIELDS) - 13))))
        self._post({"boot": self.boot_ms, "events": bodies})
        self.sent = events[-1][0]
        return len(events)

    def _post_empty(self, **extra: Any) -> None:
        """"Still running" (or "ended"), best effort: a failure here is one the next batch meets again."""
        try:
            self._post({"boot": self.boot_ms, "events": [], **extra})
        except OSError:
            self._posted = time.monotonic()  # (not again before KEEPALIVE_SECONDS)

    def _body(self, event: Tuple[Any, ...]) -> Dict[str, Any]:
        body = to_json(event)
        body["agent"] = self.name
        return body

    def _post(self, batch: Dict[str, Any]) -> None:
        data = json.dumps(batch, separators=(",", ":"), default=repr).encode()
        kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        connection = kind(self.host, self.port, timeout=HTTP_SECONDS)
        try:
            connection.request("POST", self.path, body=data, headers=self.headers)
            answer = connection.getresponse()
            said = answer.read(64 << 10)
        except http.client.HTTPException as exc:  # cut off mid-answer (killed, restarting): not an OSError
            raise OSError(f"{type(exc).__name__}: {exc}") from None
        finally:
            connection.close()
        if answer.status in REFUSED:
            raise Refusal(f"{answer.status} {_sentence(said)}")
        if answer.status != 200:
            raise OSError(f"HTTP {answer.status}")
        self._posted = time.monotonic()
        self.every = pace(said, self.every)


def pace(said: bytes, every: float) -> float:
    """How long the next batch gathers, as the dashboard's answer says (`"every"`: a class of 100 programs
    posting every 50 ms is 2,000 requests a second; the dashboard spaces them), kept within
    BATCH_SECONDS..MAX_EVERY whatever it says; `every` unchanged when it says nothing."""
    try:
        body = json.loads(said or b"{}")
        given = body.get("every") if isinstance(body, dict) else None
    except ValueError:
        return every
    if isinstance(given, bool) or not isinstance(given, (int, float)) or math.isnan(given):
        return every
    return min(MAX_EVERY, max(BATCH_SECONDS, float(given)))


def _sentence(said: bytes) -> str:
    try:
        body = json.loads(said or b"{}")
        return str(body.get("error", "")) if isinstance(body, dict) else ""
    except ValueError:
        return ""


USAGE = f"usage: python3 {PROG} my_program.py [its arguments...]   (Windows: py {PROG} my_program.py)"


def main(argv: List[str], dashboard: str, name: str, token: str) -> int:
    """Run the program named first in `argv`, traced, its events posted to `dashboard` as `name`."""
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr if not argv else sys.stdout)
        return 2 if not argv else 0
    program = argv[0]
    not_there = missing(program)
    if not_there:  # (python's own words and status for a missing file)
        print(not_there, file=sys.stderr)
        return 2
    print(f"{PROG}: {name}'s {os.path.basename(program)}, traced: its socket calls show on {dashboard}",
          file=sys.stderr)
    tracer = Tracer(name)
    poster = Poster(tracer, dashboard, name, token)

    def finish() -> None:
        if tracer.on:
            tracer.finish()
        poster.close()

    def in_child() -> None:  # a fork's child: untraced (its records would be taken for its parent's)
        tracer.on = False
        poster.stopping.set()

    own = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # (this module's file is <the file>/onefile.py)
    if not sys.path or os.path.abspath(sys.path[0] or os.curdir) != own:
        sys.path.insert(0, own)  # (python -I or -P put no folder first: run() puts the program's in its place)
    poster.start()
    install(tracer)
    if hasattr(os, "register_at_fork"):  # (POSIX only)
        os.register_at_fork(after_in_child=in_child)
    return run(program, argv[1:], finish)
