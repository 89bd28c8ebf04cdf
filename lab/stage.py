"""The classroom stage: what the whole room is looking at, held once, by the lab.

A stage is a fresh start: beginning one closes every endpoint of the lab (whichever tab or
script made it) and, with a lesson, builds that lesson's sockets here, in the lab. Everyone sees
the same stage: it travels as events through the bus like everything else, so a page that
reloads, a second tab, a viewer and a late joiner all replay to the same place:

- `stage`: a new stage began (lifecycle: always recorded and pinned). Views that show "the
  current stage only" start afresh at this event; the log keeps what came before, marked.
- `classroom`: the stage changed within itself (the lesson is built, an action ran, the teacher
  chose another view or focus). Its `params` are the whole stage, so one event is enough to catch up;
  except a name change, which is many and small: its `params` are only
  `{"stage": n, "part": "name", "named": [address, name or None]}` (a page applies it to the stage
  it holds; a late joiner has the names whole from GET /api/stage, so it is not pinned).

A stage runs a lesson or an exercise (lab/exercises/), never both: an exercise's checker
(lab/exercises/checker.py) follows the stage, and for an exercise where the lab serves the student's client,
the lab's side of it (lab/exercises/serving.py) is built here like a lesson's sockets.

Thread safety: one lock serialises the changes (a build may block for a connect timeout); reading
the stage takes only a snapshot lock, so GET /api/stage never waits for a build.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import TYPE_CHECKING, Any

from .errors import BadInput, LabError, NotFound, Refused, TooLarge
from .exercises.registry import EXERCISES, Exercise, exercise as exercise_named
from .lessons.registry import VIEWS, Lesson, lesson as lesson_numbered
from .names import clean_address, clean_name, name_key

from .exercises.serving import LabSide, lab_side

if TYPE_CHECKING:
    from .client import LabClient, Labs
    from .exercises.checker import Checker


TEACHER_VIEWS = ("log", "ladder", "split", "numbers", "board")
MAX_FOCUS = 8
MAX_LANE_CHARS = 40
MAX_NAMES = 500  # display names one stage keeps (a lecture hall, with room to spare)
NAME_INTERVAL = 1.0  # seconds between two name changes of one address (each is an event for every page)
# Name changes of the whole class (students', not the teacher's): a bucket of NAMES_BURST, refilled at
# NAMES_PER_SECOND. Each address has its own interval, but addresses are many (a /64, a lecture hall's
# NAT, 127.0.0.0/8): 500 of them renaming every second was 500 events a second to every page. A class
# of 60 naming itself at once passes whole; a lecture hall of 300 within half a minute.
NAMES_PER_SECOND = 10.0
NAMES_BURST = 60


def _focus_ok(focus: Any) -> bool:
    """None (the whole diagram) or a few lanes, each named in a few characters."""
    return focus is None or (isinstance(focus, list) and 0 < len(focus) <= MAX_FOCUS
                             and all(isinstance(x, str) and 0 < len(x) <= MAX_LANE_CHARS for x in focus))


def _problem(exc: LabError) -> dict[str, Any]:
    return {"error": str(exc), "code": exc.code, "params": exc.params}


class Stage:
    def __init__(self, labs: Labs, checker: Checker | None = None) -> None:
        self.labs = labs
        self.bus = labs.bus
        self.checker = checker  # checks the exercise this stage runs
        self.client: LabClient | None = None  # the lab the current lesson was built on
        self._changing = threading.Lock()  # one change at a time (held across a lesson's build)
        self._lock = threading.Lock()  # guards the fields below for a consistent snapshot
        self.number = 1
        self.seq = 0
        self.started = time.time()
        self.teacher: dict[str, Any] = {"view": "log", "focus": None}
        self.lesson: Lesson | None = None
        self.state: dict[str, Any] = {}  # the lesson's life on this stage: ids, step, last, ...
        self.exercise: dict[str, Any] | None = None  # {"key", "servers", "file"} of the exercise running
        self.side: Any = None  # the lab's side of that exercise (serving.LabSide), when it serves the students
        self.names: dict[str, str] = {}  # IP address -> display name, for this stage only
        self._keys: dict[str, str] = {}  # name_key(name) -> the address that holds it (names are unique)
        self._named_at: dict[str, float] = {}
        self._bucket, self._bucket_at = float(NAMES_BURST), time.monotonic()  # the class's name changes

    # -- reading ----------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The stage, and how many endpoints a new stage would close now (asked of the labs, outside
        the lock: with agents that is a command each)."""
        with self._lock:
            snapshot = self._snapshot()
        snapshot["endpoints"] = sum(int(client.call("stats")["endpoints"]) for client in self.labs.all())
        return snapshot

    def _snapshot(self) -> dict[str, Any]:
        lesson = None
        if self.lesson is not None:
            s = self.state
            ids = s.get("ids") or {}
            lesson = {**self.lesson.summary(), "ids": {k: v for k, v in ids.items() if k != "run"},
                      "prefill": s.get("prefill"), "link": s.get("link"), "download": s.get("download"),
                      "state": s["state"], "error": s.get("error"), "step": s["step"], "last": s.get("last"),
                      "run": ids.get("run")}
        exercise = self.exercise
        if exercise is not None and exercise.get("key") in EXERCISES:  # (its number and title: the log's divider)
            task = EXERCISES[exercise["key"]]
            exercise = {**exercise, "n": task.n, "title": task.title}
        # deep copies: the snapshot goes into events that outlive this stage's later changes
        return copy.deepcopy({"stage": self.number, "seq": self.seq, "started": self.started,
                              "teacher": self.teacher, "lesson": lesson, "exercise": exercise,
                              "names": self.names})

    # -- changing ---------------------------------------------------------------------------------

    def begin(self, body: Any, host: str = "127.0.0.1") -> dict[str, Any]:
        """POST /api/stage: close everything, start the next stage, build its lesson or its exercise (if
        any). `host`: where the lab's exercise servers listen (the lessons' host: every address, for a class)."""
        if not isinstance(body, dict):
            raise BadInput("not-an-object", example='{"lesson": 4}')
        unknown = sorted(set(body) - {"lesson", "exercise", "agent"})
        if unknown:
            raise BadInput("unknown-field", kind="stage", field=str(unknown[0])[:40], fields="lesson, exercise, agent")
        n = body.get("lesson")
        if n is not None and body.get("exercise") is not None:
            raise BadInput("stage-lesson-and-exercise")
        chosen = None if n is None else lesson_numbered(n)
        task = None if body.get("exercise") is None else exercise_named(body["exercise"])
        client, rest = self.labs.for_new({"agent": body["agent"]} if "agent" in body else {},
                                         needs=chosen.needs if chosen is not None else None)
        if "agent" in rest:  # a dashboard with its own lab, not over agents: there is no agent to name
            raise BadInput("unknown-field", kind="stage of a dashboard without lab agents", field="agent", fields="lesson")
        with self._changing:
            self._end_exercise()
            for each in self.labs.all():
                each.call("stage.clear")
            self.client = client
            with self._lock:
                self.number += 1
                self.started = time.time()
                self._forget_names()  # names are per stage (students' pages give theirs again)
                self.lesson = chosen
                self.state = {"state": "building", "step": 0, "ids": {}}
                self.exercise = None if task is None else {"key": task.key, "servers": [], "file": None}
                if chosen is not None:
                    self.teacher = {"view": chosen.view if chosen.view in TEACHER_VIEWS else self.teacher["view"],
                                    "focus": None}
                elif task is not None:
                    self.teacher = {"view": "board", "focus": None}  # (the class's checks, live)
                else:
                    self.teacher = {**self.teacher, "focus": None}
                began = self._snapshot()
                event = self.bus.publish("", "stage", proto="", detail=self._describe("began"), params=began)
                self.seq = event.seq if event is not None else self.bus.last_seq
            self.labs.share("stage", self._describe("began"), began)
            if task is not None:
                return self._begin_exercise(task, client, host)
            if chosen is None:
                with self._lock:
                    self.state["state"] = "ready"
                return self._changed("a new stage without a lesson")
            try:
                built = client.call("lesson.build", {"n": chosen.n})
            except LabError as exc:
                with self._lock:
                    self.state.update(state="failed", error=_problem(exc))
                return self._changed(f"lesson {chosen.n} could not start: {exc}")
            with self._lock:
                self.state.update(state="ready", ids=built["ids"], prefill=built["prefill"], link=built["link"],
                                  download=built["download"])
            return self._changed(f"lesson {chosen.n} is ready")

    def _begin_exercise(self, task: Exercise, client: LabClient, host: str) -> dict[str, Any]:
        """The lab's side of the exercise (its servers, for an exercise that serves the students' clients),
        then its checker. Called with the change lock held."""
        side, state, what = None, "ready", f"exercise {task.key} is running"
        if lab_side(task):
            side = LabSide(task, client, host)
            try:
                built = side.start()
            except LabError as exc:  # (the checks of the students' own calls still run; the lab's stay pending)
                side.close()
                side, state, what = None, "failed", f"exercise {task.key}: its servers could not start: {exc}"
                with self._lock:
                    self.exercise = {"key": task.key, "servers": [], "file": None, "error": _problem(exc)}
            else:
                with self._lock:
                    self.exercise = {"key": task.key, "servers": list(built.get("servers") or []),
                                     "file": built.get("file")}
        self.side = side
        if self.checker is not None:
            self.checker.begin(self.number, task, side)
        with self._lock:
            self.state["state"] = state
        return self._changed(what)

    def _end_exercise(self) -> None:
        """The exercise running, if any, ends: its checker stops, the lab's side of it closes."""
        if self.checker is not None:
            self.checker.end()
        side, self.side = self.side, None
        if side is not None:
            side.close()

    def close(self) -> None:
        """At the dashboard's shutdown: the exercise's threads and servers go."""
        with self._changing:
            self._end_exercise()

    def act(self, key: str, body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """POST /api/stage/actions/<key>: run one of the lesson's buttons; (stage, result)."""
        with self._changing:
            lesson = self.lesson
            if lesson is None:
                raise Refused("no-lesson", action=key[:40])
            action = next((a for a in lesson.actions if a.key == key), None)
            if action is None:
                raise NotFound("no-such-action", lesson=lesson.n, action=key[:40],
                               actions=", ".join(a.key for a in lesson.actions))
            if self.state["state"] != "ready":
                raise Refused("lesson-not-ready", lesson=lesson.n)
            ids = self.state["ids"]
            if self.client is None:  # a lesson another dashboard built: the lab that holds its sockets
                self.client = next((self.labs.for_id(i) for i in ids.values() if isinstance(i, str)), None)
            if self.client is None:
                raise Refused("lesson-not-ready", lesson=lesson.n)
            began = time.time()  # "at": the page holds the rows this step made (lab/lessons/registry.py Point) from here
            try:
                answer = self.client.call("lesson.act", {"n": lesson.n, "key": key, "ids": ids, "body": body})
            except NotFound as exc:  # a socket the lesson made was stopped from its card meanwhile
                raise Refused("lesson-socket-gone") from exc
            except LabError as exc:
                with self._lock:
                    self.state["step"] += 1
                    self.state["last"] = {"action": key, "label": action.label, "at": began, "ok": False,
                                          **_problem(exc)}
                self._changed(f"lesson {lesson.n}: {key} failed: {exc}")
                raise
            result = answer["result"]
            with self._lock:
                self.state["ids"] = answer["ids"]  # (what the action made, e.g. one more client)
                self.state["step"] += 1
                self.state["last"] = {"action": key, "label": action.label, **result, "at": began}
            return self._changed(f"lesson {lesson.n}: {key}"), result

    def set_teacher(self, body: Any) -> dict[str, Any]:
        """PUT /api/stage/teacher: the controller's view and focus, for every page that follows."""
        if not isinstance(body, dict):
            raise BadInput("not-an-object", example='{"view": "ladder", "focus": null}')
        unknown = sorted(set(body) - {"view", "focus"})
        if unknown:
            raise BadInput("unknown-field", kind="teacher's choice", field=str(unknown[0])[:40], fields="view, focus")
        teacher = dict(self.teacher)
        if "view" in body:
            view = body["view"]
            if view not in TEACHER_VIEWS:
                raise BadInput("unknown-view", view=str(view)[:40], views=", ".join(TEACHER_VIEWS))
            teacher["view"] = view
        if "focus" in body:
            focus = body["focus"]
            if not _focus_ok(focus):
                raise BadInput("bad-focus", max=MAX_FOCUS, chars=MAX_LANE_CHARS)
            teacher["focus"] = focus
        with self._changing:
            with self._lock:
                if teacher == self.teacher:
                    return dict(teacher)  # nothing changed: no event (a page may repeat itself)
                self.teacher = teacher
            self._changed("the teacher's view", "teacher")
        return dict(teacher)

    def set_name(self, address: Any, raw: Any, limited: bool = True) -> dict[str, str]:
        """Name the connections from `address` (a student naming themself is `limited` to one change
        a second, within the class's own limit, and may not take a reserved word; a controller
        renaming someone is not limited). `raw` None clears the name. Names are unique in a stage,
        compared by name_key (case, width, look-alike letters)."""
        address = clean_address(address)
        name = None if raw is None else clean_name(raw, reserved_ok=not limited)
        key = None if name is None else name_key(name)
        with self._changing:
            with self._lock:
                if self.names.get(address) == name:
                    return dict(self.names)
                now = time.monotonic()
                if limited and now - self._named_at.get(address, float("-inf")) < NAME_INTERVAL:
                    raise Refused("name-too-fast")
                holder = None if key is None else self._keys.get(key)
                if holder is not None and holder != address:
                    raise Refused("name-taken", name=self.names[holder])
                if name is not None and address not in self.names and len(self.names) >= MAX_NAMES:
                    raise TooLarge("too-many-names", max=MAX_NAMES)
                if limited:
                    self._bucket = min(float(NAMES_BURST), self._bucket + (now - self._bucket_at) * NAMES_PER_SECOND)
                    self._bucket_at = now
                    if self._bucket < 1:
                        raise Refused("names-too-fast")
                    self._bucket -= 1
                    if len(self._named_at) >= 4 * MAX_NAMES:
                        self._named_at.clear()  # (bounded: the limit is about bursts, not history)
                    self._named_at[address] = now
                self._name(address, name)
            self._changed(f"{address} is {'unnamed' if name is None else 'named'}", "name", [address, name])
        return dict(self.names)

    def _changed(self, what: str, part: str = "lesson", named: list[Any] | None = None) -> dict[str, Any]:
        """Tell this dashboard's pages, and the others over lab agents. `part` says what changed
        ("lesson", "teacher", or "name" with `named` [address, name]): another dashboard takes only
        that part, so two changes made at once on two dashboards (a view here, a name there) both stay.
        This dashboard's pages get the whole stage, but for a name change only the change."""
        with self._lock:
            snapshot = self._snapshot()
            detail = f"stage {self.number}: {what}"
            self._publish("classroom", detail, part, named)
        self.labs.share("classroom", detail, {**snapshot, "part": part, **({"named": named} if named else {})})
        return snapshot

    def _publish(self, kind: str, detail: str, part: str | None = None, named: list[Any] | None = None) -> None:
        """The event for this dashboard's pages (called with the lock held)."""
        if part == "name" and named is not None:
            self.bus.publish("", kind, proto="", detail=detail, params={"stage": self.number, "part": "name",
                                                                         "named": list(named)}, pin=False)
        else:
            self.bus.publish("", kind, proto="", detail=detail, params=self._snapshot())

    # -- another dashboard's change (over lab agents) ------------------------------------------------

    def adopt(self, kind: str, detail: str, snapshot: Any) -> None:
        """Take the stage another dashboard on the same lab agents began or changed, and tell this
        dashboard's pages with the same event. `snapshot` came through Redis: it is checked, and
        one that does not hold together is refused with ValueError (the bridge counts it)."""
        if kind not in ("stage", "classroom") or not isinstance(snapshot, dict):
            raise ValueError("not a stage")
        number, teacher, names, about = (snapshot.get("stage"), snapshot.get("teacher"), snapshot.get("names"),
                                         snapshot.get("lesson"))
        task = _exercise_of(snapshot.get("exercise"))
        if not (isinstance(number, int) and number > 0 and isinstance(teacher, dict)
                and teacher.get("view") in TEACHER_VIEWS and _focus_ok(teacher.get("focus"))
                and isinstance(snapshot.get("started"), (int, float)) and isinstance(names, dict)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in names.items())
                and (about is None or isinstance(about, dict))):
            raise ValueError("a stage that does not hold together")
        lesson, ids = None, {}
        state: dict[str, Any] = {"state": "ready", "step": 0, "ids": {}}
        if about is not None:
            lesson = lesson_numbered(about.get("n"))  # (BadInput for a number no lesson has)
            if (not isinstance(about.get("ids"), dict) or not isinstance(about.get("step"), int)
                    or about.get("state") not in ("building", "ready", "failed")):
                raise ValueError("a lesson that does not hold together")
            ids = about["ids"]
            state = {"state": about["state"], "step": about["step"], "last": about.get("last"),
                     "error": about.get("error"), "prefill": about.get("prefill"), "link": about.get("link"),
                     "download": about.get("download"),
                     "ids": {**ids, **({"run": about["run"]} if about.get("run") else {})}}
        part = snapshot.get("part")
        named = _named_of(snapshot) if part == "name" else None
        with self._changing:
            with self._lock:
                if kind == "classroom" and number == self.number and part in ("lesson", "teacher", "name"):
                    # this stage's one change: only that part (a change made here meanwhile stays)
                    if part == "teacher":
                        self.teacher = {"view": teacher["view"], "focus": teacher.get("focus")}
                    elif named is not None:
                        self._name(*named)
                    else:
                        self.lesson, self.state, self.client, self.exercise = lesson, state, None, task
                    self._publish(kind, str(detail)[:200], part, list(named) if named is not None else None)
                    return
                # (checked before any change; only here: a name change of this stage did not need them all)
                names = {clean_address(k): clean_name(v, reserved_ok=True) for k, v in names.items()}
                self.number, self.started = number, float(snapshot["started"])
                self.teacher = {"view": teacher["view"], "focus": teacher.get("focus")}
                self.lesson, self.state, self.client = lesson, state, None  # (found at its first action)
                self.exercise = task  # (checked on the dashboard that began it; its servers are there)
                self._forget_names(keep_limits=kind != "stage")
                for address, name in names.items():
                    self._name(address, name)
                event = self.bus.publish("", kind, proto="", detail=str(detail)[:200], params=self._snapshot())
                if kind == "stage":
                    self.seq = event.seq if event is not None else self.bus.last_seq
            self._follow_exercise(number, task)

    def _follow_exercise(self, number: int, task: dict[str, Any] | None) -> None:
        """Another dashboard's stage runs `task`: the programs that post here are checked for it too (the lab's
        own side of it is on that dashboard: here its checks stay pending). Called with the change lock held."""
        if self.checker is None:
            return
        if task is None:
            self._end_exercise()
        elif self.checker.running() != (number, task["key"]):
            self._end_exercise()
            self.checker.begin(number, EXERCISES[task["key"]])

    def _name(self, address: str, name: str | None) -> None:
        """Set or clear one name, keeping the keys beside (another dashboard's name may hold a key
        already: the newer one wins, so the two dashboards end alike)."""
        old = self.names.pop(address, None)
        if old is not None and self._keys.get(name_key(old)) == address:
            del self._keys[name_key(old)]
        if name is not None:
            self.names[address] = name
            self._keys[name_key(name)] = address

    def _forget_names(self, keep_limits: bool = False) -> None:
        self.names, self._keys = {}, {}
        if not keep_limits:
            self._named_at = {}

    def _describe(self, what: str) -> str:
        lesson = self.lesson
        about = f"lesson {lesson.n} ({lesson.text['en']['title']})" if lesson else \
            f"exercise {self.exercise['key']}" if self.exercise else "no lesson"
        return f"stage {self.number} {what}: {about}; every endpoint of the lab was closed"


def _exercise_of(given: Any) -> dict[str, Any] | None:
    """The exercise of another dashboard's stage, checked: None, or its key, servers and file."""
    if given is None:
        return None
    if not (isinstance(given, dict) and given.get("key") in EXERCISES and isinstance(given.get("servers"), list)
            and (given.get("file") is None or isinstance(given.get("file"), dict))):
        raise ValueError("an exercise that does not hold together")
    return {"key": given["key"], "servers": given["servers"], "file": given.get("file"),
            **({"error": given["error"]} if isinstance(given.get("error"), dict) else {})}


def _named_of(snapshot: dict[str, Any]) -> tuple[str, str | None]:
    """The one name another dashboard changed: (address, name or None for cleared), checked."""
    given = snapshot.get("named")
    if not (isinstance(given, list) and len(given) == 2 and (given[1] is None or isinstance(given[1], str))):
        raise ValueError("a name change that does not hold together")
    return clean_address(given[0]), None if given[1] is None else clean_name(given[1], reserved_ok=True)


__all__ = ["Stage", "TEACHER_VIEWS", "VIEWS"]
