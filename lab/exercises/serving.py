"""The lab's own side of an exercise where it serves the student's client: its servers, and the checks it
judges from its side (registry side "lab").

`LabSide.start()` makes the servers through the LabClient, as any endpoint is made (so the class sees them
as lanes): a greeting server (`client`), a file server and a files server of a seeded file whose size and
SHA-256 are known (`downloader`, `file-request`), a server of lines sent in odd pieces (`line-reader`), a UDP
server answering numbered questions over a seeded lossy link (`udp-retry`). One set of servers serves the
whole class.

`LabSide.results(events)` judges one student's program from its traced events (agent/trace: its sockets'
calls, each socket's `close` with the bytes it received and their SHA-256, and its `output`, what it
printed) and from what the lab's server saw of it (`exercise.seen`): a program's socket is the server's
client when its local (ip, port) is the peer the server saw, or, for a server that keeps no record, when it
connected to (or sent to) the server's port. A check is absent (pending) until the events settle it; it
fails only on evidence (the connection closed, the program ended), with a reason and its values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import LabError
from ..sockets.handlers import LINES
from .registry import Exercise
from .results import Result, failed, passed
from .trace import Calls

if TYPE_CHECKING:
    from ..client import LabClient

Ev = Mapping[str, Any]

FILE_NAME = "exercise-download.bin"
FILE_SIZE = 300 << 10  # a few hundred KiB: many recv() calls, never one
FILE_SEED = 25
QUESTIONS = 10  # the numbers 1 to QUESTIONS, each sent as text; the answer to n is "answer n"
LOSS = {"loss": 0.3, "seed": 25}  # of the answers: the same ones lost every run
_HEX64 = re.compile(r"\b[0-9a-fA-F]{64}\b")
_ANSWER = re.compile(r"answer (\d{1,3})\b")
_WILDCARD = ("0.0.0.0", "::", "")

# key -> the servers it serves with: (role, spec); roles as the stage names them (SHAPES: greet, file, ...)
SERVERS: dict[str, tuple[tuple[str, dict[str, Any]], ...]] = {
    "client": (("greet", {"kind": "tcp-server", "mode": "greet"}),),
    "downloader": (("file", {"kind": "tcp-server", "mode": "file", "file": FILE_NAME}),),
    "file-request": (("files", {"kind": "tcp-server", "mode": "files"}),),
    "line-reader": (("lines", {"kind": "tcp-server", "mode": "lines"}),),
    "udp-retry": (("questions", {"kind": "udp-server", "mode": "reply", "reply": f"ask a number from 1 to {QUESTIONS}",
                                 "rules": [{"match": rf"^\s*([1-9]|{QUESTIONS})\s*$", "reply": "answer $1"}],
                                 "impair": LOSS}),),
}
WITH_FILE = ("downloader", "file-request")


def lab_side(exercise: Exercise) -> bool:
    """Does the lab serve this exercise's student (and so have servers and checks of its own)?"""
    return exercise.role == "serves"


class LabSide:
    def __init__(self, exercise: Exercise, client: LabClient, host: str) -> None:
        self.exercise, self.client, self.host = exercise, client, host
        self.servers: list[dict[str, Any]] = []  # the endpoints made, as the lab answered
        self.roles: list[str] = []
        self.file: dict[str, Any] | None = None

    def start(self) -> dict[str, Any]:
        """Make the exercise's servers on `host`, port 0; {"servers": [...], "file": {...} | None}."""
        if self.exercise.key in WITH_FILE:
            made = self.client.call("files.generate", {"name": FILE_NAME, "size": FILE_SIZE, "seed": FILE_SEED})
            self.file = {"name": made["name"], "size": made["size"], "sha256": made["sha256"]}
        try:
            for role, spec in SERVERS.get(self.exercise.key, ()):
                self.servers.append(self.client.call("endpoints.create", {"body": {**spec, "host": self.host, "port": 0}}))
                self.roles.append(role)
        except LabError:
            self.close()
            raise
        return {"servers": [self._described(role, server) for role, server in zip(self.roles, self.servers, strict=True)],
                "file": self.file}

    def _described(self, role: str, server: Mapping[str, Any]) -> dict[str, Any]:
        host, port = server["local"][0], server["local"][1]
        if host in _WILDCARD:  # students type one of the machine's addresses, a LAN one first
            reachable = [a for a in server.get("reachable") or () if a.get("family") == 4] or server.get("reachable") or []
            lan = [a for a in reachable if a.get("kind") == "lan"] or reachable
            host = lan[0]["address"] if lan else self.host
        described = {"proto": "udp" if server["kind"].startswith("udp") else "tcp", "host": host, "port": port,
                     "role": role}
        if role == "questions":
            described["questions"] = QUESTIONS
        return described

    def close(self) -> None:
        """Remove the servers (their clients' connections with them)."""
        servers, self.servers, self.roles = self.servers, [], []
        for server in servers:
            try:
                self.client.call("endpoints.remove", {"id": server["id"]})
            except LabError:
                pass  # (gone already: a new stage cleared the lab)

    # -- judging one student's program ---------------------------------------------------------

    def results(self, program: Sequence[Mapping[str, Any]]) -> dict[str, Result]:
        """The lab-side checks of this exercise that `program`'s events (and the servers' records) settle."""
        if not self.servers:
            return {}
        calls = Calls(program)
        found: dict[str, Result] = {}
        for check in self.exercise.checks:
            if check.side != "lab":
                continue
            result = JUDGES[(self.exercise.key, check.code)](self, calls)
            if result is not None:
                found[check.code] = result
        return found

    def _server(self, role: str) -> Mapping[str, Any]:
        return self.servers[self.roles.index(role)]

    def seen(self, role: str) -> dict[tuple[str, int], dict[str, Any]]:
        try:
            entries = self.client.call("exercise.seen", {"id": self._server(role)["id"]})
        except LabError:
            return {}
        return {(str(e["peer"][0]), int(e["peer"][1])): e for e in entries}

    def _sockets(self, calls: Calls, role: str) -> list[str]:
        """The program's sockets that talked to the server of `role`: connected to its port (TCP), or sent to it (UDP)."""
        server = self._server(role)
        port, proto = server["local"][1], "udp" if server["kind"].startswith("udp") else "tcp"
        mine = []
        for s, evs in calls.sockets.items():
            if calls.proto(s) != proto:
                continue
            kinds = ("connect",) if proto == "tcp" else ("send",)
            if any(e["kind"] in kinds and _port(e.get("peer")) == port for _, e in evs):
                mine.append(s)
        return mine


def _port(address: Any) -> int | None:
    return address[1] if isinstance(address, Sequence) and len(address) >= 2 and isinstance(address[1], int) else None


def _local(calls: Calls, socket: str) -> tuple[str, int] | None:
    for _, e in calls.sockets[socket]:
        local = e.get("local")
        if isinstance(local, Sequence) and len(local) >= 2 and isinstance(local[1], int):
            return str(local[0]), local[1]
    return None


def _closed(calls: Calls, socket: str) -> Mapping[str, Any] | None:
    """The args of the socket's close() (its "received" and "sha256"), once it closed."""
    for _, e in calls.of(socket, "close"):
        args = e.get("args")
        return args if isinstance(args, Mapping) else {}
    return None


def _printed(calls: Calls) -> str:
    """What the program printed: its `output` events' texts, in order."""
    return "".join(str((e.get("args") or {}).get("text") or "") for e in calls.events if e["kind"] == "output")


def _ended(calls: Calls) -> bool:
    """The program has ended: the dashboard says its run is down, or the tracer found sockets left open at exit."""
    return any((e["kind"] == "agent" and (e.get("args") or {}).get("event") == "down")
               or (e["kind"] == "error" and e.get("code") == "socket-never-closed") for e in calls.events)


# -- the judges: one per (exercise, check); None while the events do not settle it -------------------

def _name_received(side: LabSide, calls: Calls) -> Result | None:
    code = "name-received"
    sockets = side._sockets(calls, "greet")
    if not sockets:
        return None
    seen = side.seen("greet")
    for s in sockets:
        entry = seen.get(_local(calls, s) or ("", 0))
        if entry and entry.get("name"):
            return passed(code)
    for s in reversed(sockets):
        entry = seen.get(_local(calls, s) or ("", 0))
        if entry is not None and _closed(calls, s) is not None:
            return failed(code, "no-name", received=int(entry.get("received") or 0))
    return None


def _file_size(side: LabSide, calls: Calls) -> Result | None:
    assert side.file is not None
    size = side.file["size"]
    closes = [args for s in side._sockets(calls, "file") if (args := _closed(calls, s)) is not None]
    if any(args.get("received") == size for args in closes):
        return passed("file-size")
    if closes:
        return failed("file-size", "file-cut-short", got=int(closes[-1].get("received") or 0), size=size)
    return None


def _printed_sha256(side: LabSide, calls: Calls) -> Result | None:
    """downloader: the SHA-256 the program printed is the file's."""
    assert side.file is not None
    expected = side.file["sha256"]
    printed = [h.lower() for h in _HEX64.findall(_printed(calls))]
    if expected in printed:
        return passed("file-sha256")
    if printed:
        return failed("file-sha256", "sha256-differs", printed=printed[-1][:16], expected=expected[:16])
    if _ended(calls) and side._sockets(calls, "file"):
        return failed("file-sha256", "sha256-not-printed")
    return None


def _received_sha256(side: LabSide, calls: Calls) -> Result | None:
    """file-request: the bytes the program received on its request's socket are the file's."""
    assert side.file is not None
    closes = [args for s in side._sockets(calls, "files") if (args := _closed(calls, s)) is not None]
    if any(args.get("sha256") == side.file["sha256"] for args in closes):
        return passed("file-sha256")
    if closes:
        return failed("file-sha256", "file-differs", got=int(closes[-1].get("received") or 0), size=side.file["size"])
    return None


def _request_line(side: LabSide, calls: Calls) -> Result | None:
    """The files server answers a complete line only: an answer means it got one; a socket closed with nothing
    back, whose sends held no newline, left the server waiting for the end of the line."""
    code = "request-line"
    for s in side._sockets(calls, "files"):
        args = _closed(calls, s)
        sent = [e for _, e in calls.of(s, "send")]
        if any("\n" in str(e.get("data") or "") for e in sent) or any(e.get("result") for _, e in calls.of(s, "recv")):
            return passed(code)
        if args is not None and sent and not args.get("received"):
            return failed(code, "no-newline", sent=sum(int(e.get("size") or 0) for e in sent))
    return None


def _lines_whole(side: LabSide, calls: Calls) -> Result | None:
    """Each line the lab sent is within one printed line (a prefix such as "got: " is the program's own), that
    printed line holds no other of them (two lines glued as one), and they come in order."""
    code = "lines-whole"
    sockets = side._sockets(calls, "lines")
    if not sockets:
        return None
    printed = _printed(calls).split("\n")
    at = -1
    for n, line in enumerate(LINES, 1):
        holding = [i for i, text in enumerate(printed) if line in text]
        if len(holding) > 1:
            return failed(code, "line-repeated", n=n, line=line, times=len(holding))
        glued = bool(holding) and sum(other in printed[holding[0]] for other in LINES) > 1
        if not holding or glued or holding[0] <= at:
            done = any(_closed(calls, s) is not None for s in sockets) or _ended(calls)
            return failed(code, "line-broken", n=n, line=line) if done else None
        at = holding[0]
    return passed(code)


def _every_answer(side: LabSide, calls: Calls) -> Result | None:
    code = "every-answer"
    sockets = side._sockets(calls, "questions")
    if not sockets:
        return None
    answered = {int(m) for s in sockets for _, e in calls.of(s, "recv") for m in _ANSWER.findall(str(e.get("data") or ""))}
    missing = [n for n in range(1, QUESTIONS + 1) if n not in answered]
    if not missing:
        return passed(code)
    if all(_closed(calls, s) is not None for s in sockets) or _ended(calls):
        return failed(code, "answers-missing", got=QUESTIONS - len(missing), questions=QUESTIONS,
                      missing=", ".join(map(str, missing[:10])))
    return None


JUDGES: dict[tuple[str, str], Callable[[LabSide, Calls], Result | None]] = {
    ("client", "name-received"): _name_received,
    ("downloader", "file-size"): _file_size,
    ("downloader", "file-sha256"): _printed_sha256,
    ("file-request", "request-line"): _request_line,
    ("file-request", "file-sha256"): _received_sha256,
    ("line-reader", "lines-whole"): _lines_whole,
    ("udp-retry", "every-answer"): _every_answer,
}
