"""The class's exercise, checked live: each student's row of checks, from their traced program and the lab.

A traced program's events reach `Checker.feed` as the dashboard takes them (webapp/traces.py), under the
student's name. The checker keeps, per student and per run of their program, only what the checks read
(`Program`, bounded), whether an exercise runs or not: a server a student started before the teacher began
the exercise is checked from its first call. Threads of its own do the rest while an exercise runs:

- the evaluator: each student whose program said something new (coalesced: a program making 50 calls a
  second is evaluated once a round, not once a call) gets their row again: trace checks (trace.py), the
  lab's side (a lab server of the exercise, `LabSide.results`), and the last probe's results, merged by
  results.every_check. A row that changed is one `exercise` event (its whole row). A round takes at most
  ROUND_MAX students (`chosen`): first those whose program's run has no row yet (a student who just
  started their program: the change the class waits for), then the others in the order they started
  waiting; the rest keep their place for the next round, which begins at once. In a class of 100 programs
  posting all the time every student waits at every round: a new program's first row comes after at most
  ROUND_MAX evaluations, not after the whole class's, and a student who waits is passed over only by the
  runs that began meanwhile, each once;
- the keeper: the rows into the state folder, at most once a KEEP_EVERY (a write waits for the disk);
- the prober, one student at a time: for an exercise where the lab connects to the student's server, each
  program that listens anew is probed (peer.py) at its own port, at the address it posts from. The queue
  holds a student at most once (the newest listener is probed), so it is bounded by the class.

A probe runs up to a few WAITs of peer.py on a silent server; it never holds a lock or the evaluator, and a
probe of an exercise that ended meanwhile is dropped. Results of an exercise accumulate across its runs and
across restarts (one file per exercise in the state folder): a row changes when that student's program is
traced again.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from ..errors import Refused, where
from ..events.bus import EventBus
from . import peer, trace
from .registry import EXERCISES, Exercise
from .results import FAIL, PASS, PENDING, Result, every_check, failed

log = logging.getLogger(__name__)

Ev = Mapping[str, Any]

# What one run of one student's program keeps (Program): per socket its first HEAD events, its last TAIL
# and up to MARKS errors the tracer coded (the classic mistakes: send of a str, a socket never closed);
# at most MAX_SOCKETS sockets (the oldest closed ones go first); what it printed, OUTPUT_HEAD pieces and the
# last OUTPUT_TAIL. The checks read the order of calls, a loop's first and last recv(), the close and the
# coded errors: nothing in the middle of a long conversation. An event is kept as its JSON form less what
# no check reads (`slim`). A student's program thus holds at most MAX_KEPT events here, about 1.5 KB each
# (measured): 430 KB a student at the bound, 45 MB for a class of 100; a typical program holds a few dozen.
HEAD, TAIL, MARKS = 6, 4, 2
MAX_SOCKETS = 24
MAX_KEPT = MAX_SOCKETS * (HEAD + TAIL + MARKS)
KEPT_FIELDS = ("seq", "ts", "endpoint", "proto", "kind", "local", "peer", "size", "data", "call", "args", "result",
               "closed_by", "errno", "code", "params")
LIFE = 4  # of the program's `agent` events (its courier's drop counts, its end), the last kept
OUTPUT_HEAD, OUTPUT_TAIL = 16, 16
MAX_ROWS = 2000  # students with a row in one exercise (a class joins at most 500: webapp/join.py)
KEEP_EVERY = 1.0  # seconds between two writes of an exercise's results to the state folder
ROUND = 0.05  # seconds the evaluator lets new events gather before a round (a courier posts every 0.05 s)
LIVE_SECONDS = 5.0  # a program heard from this recently is running (its courier posts every second at least)
EVENT_GAP = 0.2  # seconds between two `exercise` events of one student at least (a row changing faster waits)
ROUND_MAX = 20  # students evaluated in one round at most (a few ms of work: a round never holds a new row long)


def slim(event: Ev) -> dict[str, Any]:
    """What the checks read of an event: its KEPT_FIELDS that are not null (the text preview, not the hex one
    nor the English detail), the words every event repeats shared (interned): a kept event costs half a whole one."""
    kept = {field: event[field] for field in KEPT_FIELDS if event.get(field) is not None}
    for field in ("endpoint", "proto", "kind", "call"):
        if type(kept.get(field)) is str:
            kept[field] = sys.intern(kept[field])
    return kept


def chosen(waiting: Iterable[str], unseen: Callable[[str], bool], limit: int) -> list[str]:
    """Who of `waiting` (in the order they started waiting) is evaluated this round: those `unseen` first,
    then the others, each group in its order; at most `limit`. The first row of a program is what the
    board waits for; a row already shown changes seldom. The others are passed over only by students new
    this round (each run of a program is new once), so whoever waits longest goes first among them."""
    fresh: list[str] = []
    others: list[str] = []
    for name in waiting:
        if unseen(name):
            fresh.append(name)
            if len(fresh) >= limit:
                break
        elif len(others) < limit:
            others.append(name)
    return (fresh + others)[:limit]


class Store(Protocol):
    """Where results survive a restart (webapp/state.py StateDir)."""

    def read(self, name: str, kind: type = dict) -> Any: ...

    def write(self, name: str, data: Any) -> None: ...


class LabSide(Protocol):
    """The lab's own servers of an exercise that serves the student's client (lab/exercises/serving.py)."""

    def results(self, program: Sequence[Mapping[str, Any]]) -> dict[str, Result]: ...


def results_file(key: str) -> str:
    return f"exercise-{key}.json"


class _Socket:
    __slots__ = ("head", "tail", "marks")

    def __init__(self) -> None:
        self.head: list[Ev] = []
        self.tail: deque[Ev] = deque(maxlen=TAIL)
        self.marks: list[Ev] = []

    def add(self, event: Ev) -> int:
        """File `event`; how many more events the socket holds (0 when its tail let its oldest go)."""
        event = slim(event)
        if len(self.head) < HEAD:
            self.head.append(event)
            return 1
        if event.get("kind") == "error" and event.get("code") and len(self.marks) < MARKS:
            self.marks.append(event)
            return 1
        full = len(self.tail) == TAIL
        self.tail.append(event)
        return 0 if full else 1

    def size(self) -> int:
        return len(self.head) + len(self.marks) + len(self.tail)

    def events(self) -> list[Ev]:
        return [*self.head, *self.marks, *self.tail]

    def closed(self) -> bool:
        return any(e.get("kind") == "close" for e in self.tail) or any(e.get("kind") == "close" for e in self.head)


class Listener(NamedTuple):
    endpoint: str
    port: int
    seq: int  # of its listen event: a program that listens anew is probed anew


class Program:
    """One run of a student's traced program (its courier's `boot`), bounded as the module's docstring says."""

    def __init__(self, boot: int) -> None:
        self.boot = boot
        self.sockets: OrderedDict[str, _Socket] = OrderedDict()  # (the order of their first event)
        self.output_head: list[Ev] = []
        self.output_tail: deque[Ev] = deque(maxlen=OUTPUT_TAIL)
        self.life: deque[Ev] = deque(maxlen=LIFE)
        self.taken = 0  # events fed, kept or not
        self.kept = 0  # events the sockets hold
        self.listener: Listener | None = None  # the newest TCP listener not closed

    def add(self, event: Ev) -> None:
        self.taken += 1
        kind = event.get("kind")
        if kind == "agent":
            self.life.append(slim(event))  # (a check that waits for the program's end reads it)
            return
        if kind == "output":
            if len(self.output_head) < OUTPUT_HEAD:
                self.output_head.append(slim(event))
            else:
                self.output_tail.append(slim(event))
            return
        endpoint = str(event.get("endpoint") or "")
        sock = self.sockets.get(endpoint)
        if sock is None:
            if len(self.sockets) >= MAX_SOCKETS:
                self._forget_one()
            sock = self.sockets[endpoint] = _Socket()
        self.kept += sock.add(event)
        self._follow_listener(endpoint, event)

    def _forget_one(self) -> None:
        """The oldest socket closed and not listening, else the oldest socket."""
        listening = "" if self.listener is None else self.listener.endpoint
        gone = next((name for name, sock in self.sockets.items() if sock.closed() and name != listening),
                    next(iter(self.sockets)))
        self.kept -= self.sockets.pop(gone).size()
        if self.listener is not None and gone == self.listener.endpoint:
            self.listener = None

    def _follow_listener(self, endpoint: str, event: Ev) -> None:
        kind = event.get("kind")
        if kind == "listen" and event.get("call") == "listen" and event.get("proto") == "tcp":
            local = event.get("local")
            seq = event.get("seq")
            if (isinstance(local, Sequence) and len(local) >= 2 and type(local[1]) is int and type(seq) is int):
                self.listener = Listener(endpoint, local[1], seq)
        elif kind == "close" and self.listener is not None and self.listener.endpoint == endpoint:
            self.listener = None

    def events(self) -> list[Ev]:
        """What is kept, oldest first (by the dashboard's seq, as the checks read them)."""
        kept = [e for sock in self.sockets.values() for e in sock.events()]
        kept += self.output_head
        kept += self.output_tail
        kept += self.life
        kept.sort(key=lambda e: e["seq"] if type(e.get("seq")) is int else 0)
        return kept

    def size(self) -> int:
        return self.kept + len(self.output_head) + len(self.output_tail) + len(self.life)


def _updated(kept: Mapping[str, Any]) -> float:
    """When kept results were last written (0 for a file this version did not write)."""
    updated = kept.get("updated")
    return float(updated) if isinstance(updated, (int, float)) and not isinstance(updated, bool) else 0.0


class _Traced:
    """A student's program as the checker follows it, whether an exercise runs or not (one that was started
    before the teacher began the exercise is checked from its first call)."""

    __slots__ = ("address", "program", "heard")

    def __init__(self, address: str, program: Program) -> None:
        self.address = address  # where the program posts from (the only address the lab probes)
        self.program = program
        self.heard = time.monotonic()


class _Student:
    """A student's row of the exercise, and what it was made of."""

    __slots__ = ("name", "peer", "peer_for", "probed", "row", "passed_at", "settled", "settled_for", "said_at")

    def __init__(self, name: str) -> None:
        self.name = name
        self.peer: dict[str, Result] = {}  # the last probe's results
        self.peer_for: tuple[int, Listener] | None = None  # the (run, listener) they are of
        self.probed: tuple[int, Listener] | None = None  # the last (run, listener) probed or being probed
        self.row: dict[str, Any] | None = None  # as last published (or kept)
        self.passed_at: dict[str, float] = {}
        self.settled: dict[str, Result] = {}  # this run's checks that passed or failed (pending never undoes them)
        self.settled_for: int | None = None  # that run (its courier's boot)
        self.said_at = float("-inf")  # (monotonic) when its last `exercise` event was published


def _row(student: _Student, address: str, results: Mapping[str, Result]) -> dict[str, Any]:
    """A student's row (GET /api/exercise/results, the `exercise` event's params without stage and exercise)."""
    now = round(time.time(), 3)
    for code, r in results.items():
        if r.state == PASS:
            student.passed_at.setdefault(code, now)
    return {"name": student.name, "address": address,
            "checks": {code: r.state for code, r in results.items()},
            "hints": [code for code, r in results.items() if r.state == FAIL],
            "reasons": {code: {"reason": r.reason, "params": r.params} for code, r in results.items()
                        if r.state == FAIL},
            "passed_at": {code: student.passed_at[code] for code in results if code in student.passed_at}}


class _Run:
    """One exercise running on one stage, and its two threads."""

    def __init__(self, stage: int, exercise: Exercise, lab_side: LabSide | None) -> None:
        self.stage, self.exercise, self.lab_side = stage, exercise, lab_side
        self.stopped = threading.Event()
        # students to evaluate again, in the order they started waiting: name -> not before (monotonic)
        self.dirty: OrderedDict[str, float] = OrderedDict()
        self.idle = False  # the evaluator waits for someone to be due
        self.probes: OrderedDict[str, None] = OrderedDict()  # at most one entry per student
        self.threads: list[threading.Thread] = []


class Checker:
    """The exercise running now (if any), each student's row of it, and the results kept of every exercise."""

    def __init__(self, bus: EventBus, store: Store | None = None, wait: float = peer.WAIT,
                 limit: int = peer.LIMIT) -> None:
        self.bus, self.store = bus, store
        self.wait, self.limit = wait, limit
        self._lock = threading.Lock()
        # (two conditions on the one lock: a feed wakes the evaluator only, and only when it was idle; a
        # thread woken for nothing would fight the feeding threads for the lock and the GIL)
        self._to_evaluate = threading.Condition(self._lock)
        self._to_probe = threading.Condition(self._lock)
        self.run: _Run | None = None
        self.students: dict[str, _Student] = {}  # of the exercise running or last run
        self.programs: OrderedDict[str, _Traced] = OrderedDict()  # student -> program, least recently heard first
        self.key: str | None = None  # that exercise
        self.stage: int | None = None
        self.refused = 0  # rows not made: past MAX_ROWS students
        self.forgotten = 0  # programs forgotten, least recently heard first, past MAX_ROWS
        self.probed = 0  # probes run
        self._unsaved = False
        self._kept: dict[str, dict[str, Any]] = {}  # key -> {"stage", "updated", "rows": [...]}, as kept
        if store is not None:
            for key in EXERCISES:
                kept = store.read(results_file(key))
                if isinstance(kept, dict) and isinstance(kept.get("rows"), list):
                    self._kept[key] = kept
        if self._kept:
            last = max(self._kept, key=lambda k: _updated(self._kept[k]))
            self._load(last, self._kept[last].get("stage"))

    # -- the exercise ---------------------------------------------------------------------------------

    def begin(self, stage: int, exercise: Exercise, lab_side: LabSide | None = None) -> None:
        """Run `exercise` on stage `stage` from now on (the one before ends)."""
        self.end()
        run = _Run(stage, exercise, lab_side)
        with self._lock:
            self.run = run
            self._load(exercise.key, stage)
            now = time.monotonic()
            for name, traced in self.programs.items():  # (programs running now: checked from the start)
                if now - traced.heard <= LIVE_SECONDS:
                    run.dirty[name] = 0.0
        run.threads = [threading.Thread(target=self._evaluate, args=(run,), name="exercise-checks", daemon=True),
                       threading.Thread(target=self._keeping, args=(run,), name="exercise-keep", daemon=True),
                       threading.Thread(target=self._probe, args=(run,), name="exercise-probes", daemon=True)]
        for thread in run.threads:
            thread.start()

    def running(self) -> tuple[int, str] | None:
        """(stage, exercise key) of the exercise running, or None."""
        with self._lock:
            return None if self.run is None else (self.run.stage, self.run.exercise.key)

    def end(self) -> None:
        """No exercise runs any more: the threads stop (a probe under way ends within its own WAITs, its
        results dropped), and the rows are kept in the state folder."""
        with self._lock:
            run, self.run = self.run, None
            if run is None:
                return
            run.stopped.set()
            self._to_evaluate.notify_all()
            self._to_probe.notify_all()
        for thread in run.threads[:2]:  # (the evaluator, and the keeper: no older rows written after these)
            if thread is not threading.current_thread():
                thread.join(5)
        self._keep(force=True)

    def close(self) -> None:
        self.end()

    def _load(self, key: str, stage: Any) -> None:
        """The rows kept of exercise `key` become the rows shown (called with the lock held, or at start)."""
        if self.key == key:
            self.stage = stage if isinstance(stage, int) else self.stage
            return
        self.key, self.stage = key, stage if isinstance(stage, int) else None
        self.students = {}
        exercise = EXERCISES[key]
        codes = {c.code for c in exercise.checks}
        for row in self._kept.get(key, {}).get("rows", [])[:MAX_ROWS]:
            if not (isinstance(row, dict) and isinstance(row.get("name"), str) and isinstance(row.get("checks"), dict)):
                continue  # (a row this version did not write)
            student = _Student(row["name"])
            passed_at = row.get("passed_at")
            if isinstance(passed_at, dict):
                student.passed_at = {c: float(t) for c, t in passed_at.items()
                                     if c in codes and type(t) in (int, float)}
            student.row = row
            self.students[student.name] = student

    # -- what programs say ----------------------------------------------------------------------------

    def feed(self, name: str, boot: int, host: str, events: Sequence[Ev]) -> None:
        """Events a student's traced program posted (already checked and taken by the dashboard), from `host`;
        none: the program is still there (its courier's keepalive). Cheap: they are filed, the evaluator woken."""
        with self._lock:
            traced = self.programs.pop(name, None)  # (put back last: the most recently heard)
            if traced is None:
                if len(self.programs) >= MAX_ROWS:
                    self.programs.popitem(last=False)
                    self.forgotten += 1
                traced = _Traced(host, Program(boot))
            elif boot > traced.program.boot:
                traced.program = Program(boot)  # a new run: its own checks, from nothing
            self.programs[name] = traced
            if boot < traced.program.boot:
                return  # (a late batch of a run that was followed by another)
            traced.heard = time.monotonic()
            if host:
                traced.address = host
            for event in events:
                traced.program.add(event)
            if self.run is not None and events:
                self._dirty(self.run, name)

    def _dirty(self, run: _Run, name: str, after: float = 0.0) -> None:
        """`name`'s row to evaluate again, not before `after` (monotonic; called with the lock held). A
        student waiting keeps their place in the queue."""
        run.dirty[name] = max(after, run.dirty.get(name, 0.0))
        if run.idle and run.dirty[name] <= time.monotonic():
            self._to_evaluate.notify()

    # -- the evaluator --------------------------------------------------------------------------------

    def _evaluate(self, run: _Run) -> None:
        behind = False  # (the last round left students due: their events have gathered already)
        while True:
            with self._lock:
                while not run.stopped.is_set():
                    due = min(run.dirty.values(), default=None)  # (a row said a moment ago waits its EVENT_GAP)
                    wait = None if due is None else due - time.monotonic()
                    if wait is not None and wait <= 0:
                        break
                    run.idle = True  # (nobody due: the next one due wakes it, not each feed)
                    self._to_evaluate.wait(wait)
                    run.idle = False
                if run.stopped.is_set():
                    return
            if not behind:
                run.stopped.wait(ROUND)  # (more of the same programs' events gather: one evaluation for them all)
            with self._lock:
                names = self._chosen(run)
                behind = len(names) >= ROUND_MAX
            for name in names:
                if run.stopped.is_set():
                    return
                try:
                    self._check(run, name)
                except Exception:  # a student's events this code did not foresee: logged, the class goes on
                    log.exception("the checks of %s could not be evaluated", name)

    def _keeping(self, run: _Run) -> None:
        """The rows into the state folder every KEEP_EVERY while they change, in a thread of its own: a
        write waits for the disk (fsync), and a busy disk must not hold the rows the board waits for."""
        while not run.stopped.wait(KEEP_EVERY):
            self._keep()

    def _chosen(self, run: _Run) -> list[str]:
        """This round's students, taken off the queue (called with the lock held): `chosen`, where a student
        is new when their program's run has no row yet (a new student, a program run again, a row kept from
        before a restart), unless they are past MAX_ROWS (never to have a row: not ahead of anyone)."""

        def unseen(name: str) -> bool:
            traced, student = self.programs.get(name), self.students.get(name)
            if student is None:
                return len(self.students) < MAX_ROWS
            return traced is not None and student.settled_for != traced.program.boot

        now = time.monotonic()
        names = chosen([name for name, after in run.dirty.items() if after <= now], unseen, ROUND_MAX)
        for name in names:
            del run.dirty[name]
        return names

    def _check(self, run: _Run, name: str) -> None:
        with self._lock:
            traced = self.programs.get(name)
            if traced is None or self.run is not run:
                return
            student = self.students.get(name)
            if student is None:
                if len(self.students) >= MAX_ROWS:
                    self.refused += 1
                    return
                student = self.students[name] = _Student(name)
            program, address = traced.program, traced.address
            events = program.events()
            peer_results = student.peer if student.peer_for and student.peer_for[0] == program.boot else {}
            listener = program.listener
        exercise = run.exercise
        found = trace.evaluate(exercise, events)
        lab = run.lab_side.results(events) if run.lab_side is not None else {}
        results = every_check(exercise, found, peer_results, lab)
        with self._lock:
            if self.run is not run or self.students.get(name) is not student or traced.program is not program:
                return
            if student.settled_for != program.boot:
                student.settled, student.settled_for = {}, program.boot
            # What a run settled stays settled until evidence says otherwise: the checks read a window of the
            # program's events, and a server between two clients is "pending" on what it did a moment ago.
            results = {code: student.settled.get(code, r) if r.state == PENDING else r for code, r in results.items()}
            student.settled.update((code, r) for code, r in results.items() if r.state != PENDING)
            if (exercise.role == "connects" and listener is not None and student.probed != (program.boot, listener)
                    and name not in run.probes):
                run.probes[name] = None
                self._to_probe.notify()
            row = _row(student, address, results)
            if row == student.row:
                return
            if student.row is not None and time.monotonic() - student.said_at < EVENT_GAP:
                self._dirty(run, name, student.said_at + EVENT_GAP)  # (then the page sees the newest row, not each)
                return
            student.row = row
            student.said_at = time.monotonic()
            self._unsaved = True
            self.bus.publish("", "exercise", proto="",
                             detail=f"exercise {exercise.key}: {name}'s checks changed",
                             params={"stage": run.stage, "exercise": exercise.key, **row})

    # -- the prober -----------------------------------------------------------------------------------

    def _probe(self, run: _Run) -> None:
        while True:
            with self._lock:
                self._to_probe.wait_for(lambda: run.stopped.is_set() or bool(run.probes))
                if run.stopped.is_set():
                    return
                name, _ = run.probes.popitem(last=False)
                student, traced = self.students.get(name), self.programs.get(name)
                if student is None or traced is None or traced.program.listener is None:
                    continue
                program, listener, host = traced.program, traced.program.listener, traced.address
                student.probed = (program.boot, listener)
                events = program.events()
            try:
                found = self._peer(run.exercise, events, host, listener)
            except Exception:
                log.exception("the lab could not probe %s's server", name)
                continue
            with self._lock:
                self.probed += 1
                if found is None or self.run is not run or traced.program is not program:
                    continue
                student.peer, student.peer_for = found, (program.boot, listener)
                self._dirty(run, name)

    def _peer(self, exercise: Exercise, events: Sequence[Ev], host: str, listener: Listener) -> dict[str, Result] | None:
        """The peer checks of `exercise` against the student's listener; None when it is gone meanwhile."""
        try:
            return peer.probe(exercise, events, host, listener.port, self.wait, self.limit)
        except Refused as refused:
            if refused.code != "exercise-listener-unreachable":
                return None  # (closed since: a new listen, if any, is probed next)
            address = where(host, listener.port)
            return {c.code: failed(c.code, "listener-unreachable", address=refused.params.get("address", address),
                                   host=host) for c in exercise.checks if c.side == "peer"}

    # -- results --------------------------------------------------------------------------------------

    def results(self) -> dict[str, Any]:
        """GET /api/exercise/results: the exercise running, or the last one run (kept across a restart)."""
        with self._lock:
            rows = sorted((s.row for s in self.students.values() if s.row is not None), key=lambda r: r["name"])
            return {"exercise": self.key, "running": self.run is not None, "stage": self.stage,
                    "students": [dict(r) for r in rows]}

    def stats(self) -> dict[str, Any]:
        with self._lock:
            run = self.run
            return {"students": len(self.students), "programs": len(self.programs), "refused": self.refused,
                    "forgotten": self.forgotten, "probed": self.probed, "queued": len(run.probes) if run else 0,
                    "kept_events": sum(t.program.size() for t in self.programs.values())}

    def _keep(self, force: bool = False) -> None:
        """The rows of the exercise into the state folder, at most once a KEEP_EVERY (`force`: now)."""
        with self._lock:
            key = self.key
            if not self._unsaved or key is None:
                return
            kept = self._kept.get(key)
            if not force and kept is not None and time.time() - _updated(kept) < KEEP_EVERY:
                return
            data = {"exercise": key, "stage": self.stage, "updated": time.time(),
                    "rows": [s.row for s in self.students.values() if s.row is not None]}
            self._kept[key] = data
            self._unsaved = False
        if self.store is None:
            return
        try:
            self.store.write(results_file(key), data)
        except OSError as exc:  # the rows shown stay right; only a restart would bring back older ones
            log.warning("the results of exercise %s could not be kept in the state folder: %s", key, exc)

