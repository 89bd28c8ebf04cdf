"""Bounds on the connections that can hold a server thread, so /api/health and the API always have one.

Under the production gunicorn command (docs/security.md) (gthread worker) and under Werkzeug, a request holds one thread
from its first byte to its last, and a websocket is one request that lasts as long as the viewer
watches. Two kinds of connection can therefore take every thread without any token:

- a request head that never ends (slowloris), or a body that never does: the gunicorn worker in
  worker.py waits for whole requests without a thread, heads under `head_seconds` and bodies under
  `body_seconds`, and bounds how many may wait (`pending*`) and the bytes they hold;
- a Socket.IO connection that never joins the namespace (or many that do): `LiveGate` counts Socket.IO
  requests in flight per client address and in total, refuses the excess with 429/503 and a
  sentence, and `LiveGate.reap` closes any whose session has not joined within `join_seconds`.

The total is kept below the server's thread count (`ConnBudget.fit_threads`), so what remains is
always there for everything else. Every refusal and every closing is counted (`ConnBudget.snapshot`).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from lab.messages import MESSAGES

from . import socketio_internals as internals

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

RESERVED_THREADS_MIN = 4  # threads never given to Socket.IO, whatever the thread count


@dataclass(frozen=True)
class ConnLimits:
    """Read from SOCKETLAB_MAX_<FIELD> (webapp/config.py); 0 means "derived" where noted."""

    websockets: int = 200  # Socket.IO requests in flight (a websocket is one), lowered to fit the threads
    websockets_per_address: int = 0  # 0: half of `websockets` (a classroom behind one NAT shares an address)
    pending: int = 512  # connections whose request (head or body) has not fully arrived
    pending_per_address: int = 64
    pending_bytes: int = 64 << 20  # what those hold at once (gunicorn worker), beyond which the oldest is closed
    head_seconds: int = 10  # a whole request head must arrive within this
    body_seconds: int = 10  # a whole request body must arrive within this, from the end of its head
    join_seconds: int = 5  # a Socket.IO connection must join the namespace within this


STATUS = {  # refusal code -> HTTP status (the sentence of each code: lab/messages.py)
    "too-many-websockets": "503 Service Unavailable",
    "too-many-websockets-from-address": "429 Too Many Requests",
    "too-many-pending": "503 Service Unavailable",
    "too-many-pending-from-address": "429 Too Many Requests",
    "head-timeout": "408 Request Timeout",
    "head-too-large": "431 Request Header Fields Too Large",
    "body-timeout": "408 Request Timeout",
    "length-required": "411 Length Required",
    "too-large": "413 Content Too Large",
}
REFUSALS = {code: (status, MESSAGES[code]) for code, status in STATUS.items()}  # code -> (HTTP status, sentence)
APP_REFUSALS = {"too-large"}  # also answered by the app (api.http_error), whose body carries `category` too


def refusal_response(code: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """Status line, headers and JSON body for a refusal: {"error": sentence, "code": code}."""
    status, sentence = REFUSALS[code]
    fields: dict[str, Any] = {"error": sentence, "code": code, "params": {}}
    if code in APP_REFUSALS:
        fields["category"] = code  # the same body as when the app refuses it, whatever refused first
    body = json.dumps(fields).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Connection", "close")]
    if status.startswith(("503", "429")):
        headers.append(("Retry-After", "5"))
    return status, headers, body


def raw_refusal(code: str) -> bytes:
    """The same refusal as bytes on the wire, for servers that answer before any WSGI app runs."""
    status, headers, body = refusal_response(code)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return f"HTTP/1.1 {status}\r\n{head}\r\n".encode() + body


@dataclass(eq=False)
class LiveRequest:
    """One Socket.IO request in flight: a websocket for its whole life, or one long poll."""

    address: str
    sock: socket.socket | None
    eio_sid: str | None  # from ?sid= (polling, upgrades); a fresh websocket's is found at join time
    started: float = field(default_factory=time.monotonic)
    joined: bool = False
    reaped: bool = False


class ConnBudget:
    """Counts and limits, shared by the WSGI gate and the gunicorn worker; thread-safe."""

    def __init__(self, limits: ConnLimits | None = None) -> None:
        self.limits = limits or ConnLimits()
        self.websockets = self.limits.websockets
        self.refused: Counter[str] = Counter()  # refusal code -> count
        self.closed: Counter[str] = Counter()  # why the server closed a connection -> count
        self._lock = threading.Lock()
        self._live: set[LiveRequest] = set()
        self._live_from: Counter[str] = Counter()

    @property
    def websockets_per_address(self) -> int:
        return self.limits.websockets_per_address or max(1, self.websockets // 2)

    def fit_threads(self, threads: int) -> None:
        """Keep Socket.IO below a server's `threads`, leaving a fifth (at least 4) for the API."""
        fitting = max(1, threads - max(RESERVED_THREADS_MIN, threads // 5))
        if self.websockets > fitting:
            log.info("Socket.IO connections limited to %d of the server's %d threads "
                     "(raise --threads to serve more viewers at once)", fitting, threads)
            self.websockets = fitting

    def admit(self, request: LiveRequest) -> str | None:
        """Count `request` in, or return the refusal code (and count the refusal)."""
        with self._lock:
            if len(self._live) >= self.websockets:
                code = "too-many-websockets"
            elif self._live_from[request.address] >= self.websockets_per_address:
                code = "too-many-websockets-from-address"
            else:
                self._live.add(request)
                self._live_from[request.address] += 1
                return None
            self.refused[code] += 1
            return code

    def release(self, request: LiveRequest) -> None:
        with self._lock:
            if request in self._live:
                self._live.remove(request)
                self._live_from[request.address] -= 1
                if not self._live_from[request.address]:
                    del self._live_from[request.address]

    def live(self) -> list[LiveRequest]:
        with self._lock:
            return list(self._live)

    def count_refused(self, code: str) -> None:
        with self._lock:
            self.refused[code] += 1

    def count_closed(self, why: str) -> None:
        with self._lock:
            self.closed[why] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"live": len(self._live), "live_limit": self.websockets,
                    "live_limit_per_address": self.websockets_per_address,
                    "refused": dict(self.refused), "closed": dict(self.closed)}


class LiveGate:
    """WSGI middleware around the Socket.IO endpoint: admits, counts and reaps its requests.

    A request is counted from its call to its return: in threading mode engineio serves a whole
    websocket, and a whole long poll, inside that call.
    """

    def __init__(self, app: WSGIApp, budget: ConnBudget, sio_server: Any, path: str = "/socket.io/") -> None:
        self.app, self.budget, self.sio, self.path = app, budget, sio_server, path
        self._first_seen: dict[str, float] = {}  # Engine.IO sessions not (yet) joined -> when seen

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not environ.get("PATH_INFO", "").startswith(self.path):
            return self.app(environ, start_response)
        sid = parse_qs(environ.get("QUERY_STRING", "")).get("sid", [None])[0]
        request = LiveRequest(environ.get("REMOTE_ADDR") or "",
                              environ.get("gunicorn.socket") or environ.get("werkzeug.socket"), sid)
        # Flask-SocketIO copies the environ before engineio keeps it for the session: a key survives
        environ["socketlab.live"] = request
        refusal = self.budget.admit(request)
        if refusal is not None:
            status, headers, body = refusal_response(refusal)
            start_response(status, headers)
            return [body]
        try:
            return self.app(environ, start_response)  # engineio answers with a list: the work is done here
        finally:
            self.budget.release(request)

    def reap(self) -> None:
        """Close Socket.IO connections whose session has not joined within `join_seconds`.

        Called about once a second from the relay task, the one thread that talks to clients.
        Closing never waits on a client: the Engine.IO session is closed without flushing, and the
        TCP socket is shut down, which wakes the thread that serves it.
        """
        limit = self.budget.limits.join_seconds
        now = time.monotonic()
        joined = internals.joined(self.sio)
        sid_of_request = {id(env.get("socketlab.live")): eio for eio, env in internals.environs(self.sio).items()}
        sessions = internals.sessions(self.sio)
        for request in self.budget.live():
            if request.joined or request.reaped or now - request.started < limit:
                continue
            eio_sid = request.eio_sid or sid_of_request.get(id(request))
            if eio_sid in joined:
                request.joined = True  # joined once is enough: a viewer may stay as long as it likes
                continue
            request.reaped = True
            self.budget.count_closed("not-joined")
            if eio_sid in sessions:
                internals.abort(sessions[eio_sid])
            if request.sock is not None:
                try:
                    request.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already gone
        # sessions with no request in flight (a polling client between polls) hold no thread, but
        # memory: they get the same deadline
        self._first_seen = {sid: self._first_seen.get(sid, now) for sid, s in sessions.items()
                            if sid not in joined and not internals.is_closed(s)}
        for sid, seen in self._first_seen.items():
            if now - seen >= limit:
                self.budget.count_closed("not-joined")
                internals.abort(sessions[sid])
