"""Joining the class: a short code on the projector, traded for a token of the student's own.

The view link carries a long token; nobody types that from a projector, and a token shared by the
whole class can be neither told apart nor taken back. So the dashboard shows a short link
(`http://<LAN address>:<port>/join`) and a six-character code; a student types the code there
(POST /api/join) and gets a token of their own (`Students`): it reads what the view token reads,
names the student's address and posts the student's traced programs, and the teacher may revoke it.

Guessing the code (`JoinDesk`). The code space is 31^6 (about 900 million). Two bounds, both for the
whole dashboard, because an address says little: a class behind one NAT is one address, and one
IPv6 host holds a whole /64:
- a code is checked against at most WRONG_PER_CODE wrong codes, then it is replaced by a new one
  (the Join panel shows it within its next poll), so one code falls to a guess with a chance of at
  most 100 in 900 million;
- at most WRONG_PER_MINUTE wrong codes are checked a minute from everyone together; past that, and
  for as long as the last minute holds that many, a source (an IPv4 address, an IPv6 /64) that typed
  a wrong code in that minute is refused without its code being looked at, while any other source is
  still heard. An attacker thus tests about WRONG_PER_MINUTE codes a minute, plus one a minute per
  address it owns; a class is never refused for what others typed, and students behind one address
  who type the right code all join (a right code never counts against anyone).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import threading
import time
import unicodedata
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from lab.errors import NotFound, Refused, TooLarge
from lab.interfaces import machine_addresses

from .auth import Access, is_loopback, new_token
from .sandbox import AGENT_NAME, CLASS_AGENT
from .state import StateDir

log = logging.getLogger(__name__)

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off a projector, typed on a phone
CODE_LENGTH = 6
WRONG_PER_CODE = 100  # wrong codes one code is checked against before it is replaced
WRONG_PER_MINUTE = 100  # wrong codes checked a minute, whatever their source
WINDOW = 60.0
MAX_TRACKED = 10_000  # sources remembered in a minute; past it, every source counts as having guessed
WILDCARDS = ("", "0.0.0.0", "::")
JOIN_FILE, STUDENTS_FILE = "join.json", "students.json"


def new_code(unlike: str = "") -> str:
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        if code != unlike:
            return code


def normalise(code: Any) -> str:
    """What a student typed, as the code is written: case and separators do not matter."""
    return "".join(ch for ch in str(code)[:64].upper() if ch.isalnum())


def source_of(address: str) -> str:
    """Whom a wrong code is counted against: an IPv4 address, or an IPv6 address's /64 (a host is
    given a whole /64 and may use any address in it)."""
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%")[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class JoinDesk:
    """The join code and the bounds on guessing it (see the module's docstring)."""

    def __init__(self, code: str | None = None, state: StateDir | None = None) -> None:
        self._state = state  # None: the code lives in memory only (a dashboard that needs no token)
        kept = state.read(JOIN_FILE) if state is not None else None
        kept_code = normalise((kept or {}).get("code", ""))
        self.code = code or (kept_code if len(kept_code) == CODE_LENGTH else new_code())
        self.changed: dict[str, Any] = {"ts": time.time(), "reason": "start"}
        self.rotations = 0
        self._wrong_on_code = 0
        self._window: deque[float] = deque()  # when each wrong code of the last minute came
        self._sources: dict[str, float] = {}  # source -> its latest wrong code this minute, oldest first
        self._lock = threading.Lock()
        if state is not None and self.code != kept_code:
            self._keep()

    def check(self, address: str, typed: Any) -> None:
        """Return when `typed` is the code; Refused with a sentence otherwise."""
        source = source_of(address)
        now = time.monotonic()
        with self._lock:
            self._forget(now)
            if len(self._window) >= WRONG_PER_MINUTE and (source in self._sources or len(self._sources) >= MAX_TRACKED):
                since = self._sources.get(source, now)
                raise Refused("join-too-many-tries", seconds=max(1, round(WINDOW - (now - since))))
            if hmac.compare_digest(normalise(typed).encode(), self.code.encode()):
                return
            self._window.append(now)
            self._sources.pop(source, None)  # (re-inserted: the dict stays ordered by the latest wrong code)
            self._sources[source] = now
            self._wrong_on_code += 1
            if self._wrong_on_code >= WRONG_PER_CODE:
                self._rotate("guessed")
        raise Refused("join-wrong-code")

    def rotate(self) -> str:
        """A new code now (the teacher's "New code"): the old one no longer works."""
        with self._lock:
            self._rotate("teacher")
            return self.code

    def _rotate(self, reason: str) -> None:
        self.code = new_code(unlike=self.code)
        self._wrong_on_code = 0
        self.rotations += 1
        self.changed = {"ts": time.time(), "reason": reason}
        self._keep()

    def _keep(self) -> None:
        if self._state is not None:
            try:
                self._state.write(JOIN_FILE, {"code": self.code})
            except OSError as exc:  # the code in use stays right; only a restart would bring back the old one
                log.warning("the join code could not be kept in the state folder: %s", exc)

    def _forget(self, now: float) -> None:
        while self._window and now - self._window[0] >= WINDOW:
            self._window.popleft()
        while self._sources:
            oldest = next(iter(self._sources))
            if now - self._sources[oldest] < WINDOW:
                break
            del self._sources[oldest]

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            self._forget(time.monotonic())
            return {"code": self.code, "code_changed": dict(self.changed), "rotations": self.rotations,
                    "wrong_last_minute": len(self._window),
                    "wrong_on_code": self._wrong_on_code, "wrong_per_code": WRONG_PER_CODE}


# -- students' own tokens ----------------------------------------------------------------------------

MAX_STUDENTS = 500  # students holding a token (not revoked) at once; a class is well under it
MAX_PER_SOURCE = 100  # of them, joined from one source (a class behind one NAT fits)
MAX_KEPT = 2000  # entries kept, revoked ones included; the oldest revoked go first
NAME_LIMIT = 32  # a student's name is an agent name (agent/config.py) with room for "-<n>"
SLUG = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class Student:
    name: str  # [A-Za-z0-9_.-]: its traced programs' name, its key in GET/DELETE /api/students
    shown: str | None  # the name given when joining, in any script
    address: str
    joined: float
    revoked: float | None
    sha256: str  # of its token: the token itself is never kept

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "shown": self.shown, "address": self.address, "joined": self.joined,
                "revoked": self.revoked}


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


AGENT_NAMES = {CLASS_AGENT, AGENT_NAME}  # make class's two labs: never a student's


def student_name(shown: str | None, taken: set[str]) -> str:
    """A name a trace URL takes (agent/config.py's rule), unique case-insensitively among `taken`
    (lower-cased): the given name's letters in ASCII ("José" -> "Jose", "Ann Lee" -> "Ann-Lee"), or
    "student-<n>" when none are left ("小明")."""
    taken = taken | AGENT_NAMES
    ascii_ = unicodedata.normalize("NFKD", shown or "").encode("ascii", "ignore").decode()
    base = SLUG.sub("-", ascii_).strip("-.")[:NAME_LIMIT].rstrip("-.") or "student"
    if base != "student" and base.lower() not in taken:
        return base
    n = 1 if base == "student" else 2
    while f"{base}-{n}".lower() in taken:
        n += 1
    return f"{base}-{n}"


class Students:
    """Every student's token (as its SHA-256: a copy of the state folder lets nobody act as a
    student), kept in the state folder so that a restart logs nobody out."""

    def __init__(self, state: StateDir | None = None) -> None:
        self._state = state
        self._lock = threading.Lock()
        self._all: dict[str, Student] = {}  # name -> student, oldest first
        self._by_digest: dict[str, Student] = {}
        kept = state.read(STUDENTS_FILE) if state is not None else None
        for entry in (kept or {}).get("students", []):
            try:
                student = Student(**{k: entry[k] for k in Student.__dataclass_fields__})
            except (KeyError, TypeError):
                continue  # (an entry this version did not write)
            self._all[student.name] = student
            if student.revoked is None:
                self._by_digest[student.sha256] = student

    def find(self, token: str) -> str | None:
        student = self._by_digest.get(digest(token))  # (a dict lookup leaks nothing of a 144-bit token)
        return student.name if student is not None and student.revoked is None else None

    def add(self, address: str, shown: str | None) -> tuple[Student, str]:
        """A new student and its token; TooLarge when the class (or one source's share of it) is full."""
        token = new_token(24)
        with self._lock:
            self._room(address)
            student = Student(student_name(shown, {n.lower() for n in self._all}), shown, address,
                              round(time.time(), 3), None, digest(token))
            self._all[student.name] = student
            self._by_digest[student.sha256] = student
            try:
                self._keep()
            except OSError as exc:
                del self._all[student.name], self._by_digest[student.sha256]
                raise Refused("join-not-kept", reason=exc.strerror or str(exc)) from None
        return student, token

    def has_room(self, address: str) -> None:
        """Return when a student from `address` may join now; TooLarge otherwise."""
        with self._lock:
            self._room(address)

    def _room(self, address: str) -> None:
        source = source_of(address)
        active = [s for s in self._all.values() if s.revoked is None]
        if len(active) >= MAX_STUDENTS:
            raise TooLarge("join-class-full", max=MAX_STUDENTS)
        if sum(source_of(s.address) == source for s in active) >= MAX_PER_SOURCE:
            raise TooLarge("join-too-many-from-address", max=MAX_PER_SOURCE)

    def revoke(self, name: str) -> Student:
        """Refuse this student's token from now on (its entry stays, listed as revoked)."""
        with self._lock:
            student = self._all.get(name)
            if student is None:
                raise NotFound("no-such-student", name=name[:60])
            if student.revoked is None:
                student.revoked = round(time.time(), 3)
                self._by_digest.pop(student.sha256, None)
                try:
                    self._keep()
                except OSError as exc:  # refused now in this process; a restart would not know it
                    log.warning("the revocation of %s could not be kept in the state folder: %s", name, exc)
            return student

    def active(self, name: str) -> bool:
        """A student joined under this name, and not revoked."""
        student = self._all.get(name)
        return student is not None and student.revoked is None

    def revoked(self, name: str) -> bool:
        student = self._all.get(name)
        return student is not None and student.revoked is not None

    def listed(self) -> list[dict[str, Any]]:
        with self._lock:
            return [s.to_json() for s in self._all.values()]

    def _keep(self) -> None:
        if len(self._all) > MAX_KEPT:
            for name in [s.name for s in self._all.values() if s.revoked is not None][:len(self._all) - MAX_KEPT]:
                del self._all[name]
        if self._state is not None:
            self._state.write(STUDENTS_FILE, {"students": [asdict(s) for s in self._all.values()]})


def join_info(access: Access, bind: str, port: int, code: str, with_view: bool = True) -> dict[str, Any]:
    """Where students reach this dashboard: its addresses (LAN first), the short link and its code,
    the link the QR code holds (the short link with the code), and the view link when `with_view`
    (a student's token never learns the view token: it could not be revoked)."""
    hosts = [h.strip().strip("[]") for h in bind.split(",") if h.strip()] or ["127.0.0.1"]
    addresses: list[dict[str, object]] = []
    for host in hosts:
        if host in WILDCARDS:
            addresses += [a.to_json() for a in machine_addresses((4,) if host == "0.0.0.0" else (4, 6))]
        else:
            addresses.append({"interface": "", "address": host, "family": 6 if ":" in host else 4,
                              "kind": "loopback" if is_loopback(host) else "lan"})
    lan = [a for a in addresses if a["kind"] == "lan"]
    loopback_only = not lan
    chosen = str((lan or addresses or [{"address": "127.0.0.1"}])[0]["address"])
    base = f"http://{'[' + chosen + ']' if ':' in chosen else chosen}:{port}/"
    needs_code = access.view is not None
    info = {"loopback_only": loopback_only, "addresses": addresses, "host": chosen, "port": port,
            "short_url": f"{base}join", "join_url": f"{base}join#{code}" if needs_code else base,
            "code": code, "needs_code": needs_code}
    if with_view:
        info["view_url"] = f"{base}?token={access.view}" if access.view else base
    return info


def qr_svg(text: str) -> str:
    """The QR code of `text` as an SVG that scales to any size (segno: a maintained, pure-Python
    encoder; the page shows it big enough for a phone at the back of the room)."""
    import io

    import segno

    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=1, border=4, xmldecl=False, nl=False,
                                     omitsize=True, dark="#000", light="#fff", title="QR code: join link")
    return out.getvalue().decode()
