"""What every endpoint shares: the lab context, ids, state, threads, and address helpers."""

from __future__ import annotations

import errno
import logging
import socket
import struct
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Callable, Iterator

from ..errors import BadInput, Forbidden, LabError, Refused, os_problem
from ..events.bus import Address, EventBus
from ..files import FileStore
from ..interfaces import reachable_at
from ..policy import Policy
from .reactor import Reactor
from .scheduler import Scheduler
from ..spec import EndpointSpec


@dataclass(frozen=True)
class Limits:
    """Configurable limits; every one is listed in docs/configuration.md."""

    endpoints: int = 64
    connections_per_server: int = 1000  # a lecture hall on one server: 1,000 idle cost ~30 MB (bench 15)
    send_bytes: int = 1 << 20
    datagram_bytes: int = 65507
    file_bytes: int = 4 << 30
    downloads_at_once: int = 4
    downloads_bytes: int = 16 << 30  # bytes the downloads folder may hold; the oldest saved files go first
    events_per_second: int = 20_000
    idle_seconds: int = 600  # a lab server closes a connection that moved no byte for this long
    periodic_per_endpoint: int = 8  # periodic sends (interval_ms > 0) waiting at once, per endpoint
    periodic_total: int = 64  # ... and in the whole lab; one scheduler thread serves them all
    send_timeout_ms: int = 5000  # a TCP send the peer does not read within this is abandoned (backpressure)
    delay_datagrams: int = 1024  # datagrams an impaired UDP endpoint holds back (delay, reorder) at once
    delay_bytes: int = 8 << 20  # ... and their bytes; beyond either, a datagram is dropped and counted


@dataclass
class Context:
    """What an endpoint needs from the lab: where to publish events, the files, the limits."""

    bus: EventBus
    files: FileStore
    limits: Limits = field(default_factory=Limits)
    targets: Policy = field(default_factory=lambda: Policy([], "SOCKETLAB_ALLOW", "reach"))
    binds: Policy = field(default_factory=lambda: Policy([], "SOCKETLAB_BIND", "bind"))
    scheduler: Scheduler = field(default_factory=Scheduler)  # its thread starts at the first periodic send
    reactor: Reactor = field(default_factory=Reactor)  # serves the connections that never wait (echo)


def bind_socket(ctx: Context, host: str, port: int, socktype: int) -> socket.socket:
    """A socket bound to host:port as the bind policy allows (a port range makes port 0 pick within it).

    Raises Forbidden outside the policy, Refused with a sentence when the OS says no.
    """
    family, sockaddr = ctx.binds.check(host, port, socktype, passive=True)
    ports = ctx.binds.ports_for(sockaddr[0])
    if ports is None:
        candidates = [port]
    elif port == 0:
        candidates = list(range(ports[0], ports[1] + 1))[:2000]
    elif ports[0] <= port <= ports[1]:
        candidates = [port]
    else:
        raise Forbidden("policy-port-range", host=host, low=ports[0], high=ports[1], variable=ctx.binds.variable)
    sock = socket.socket(family, socktype)
    # TCP: a restarted server may rebind at once, despite old connections in TIME_WAIT.
    # UDP on a broadcast address (e.g. 127.255.255.255 or 10.0.0.255): several servers may share the
    # port, and each gets its copy of every broadcast. Elsewhere UDP keeps "port in use".
    if socktype == socket.SOCK_STREAM or sockaddr[0].endswith(".255"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    for candidate in candidates:
        try:
            sock.bind((sockaddr[0], candidate))
            return sock
        except OSError as exc:
            if candidate == candidates[-1] or exc.errno != errno.EADDRINUSE:
                sock.close()
                raise
    raise AssertionError("unreachable: the loop returns or raises")


def timeval(seconds: float) -> bytes:
    """A struct timeval for SO_SNDTIMEO/SO_RCVTIMEO: the kernel bounds a blocking call, and the
    socket stays blocking (one system call per send or recv, where settimeout() adds a poll)."""
    return struct.pack("ll", int(seconds), int(seconds % 1 * 1_000_000))


def address(sockaddr: Any) -> Address:
    return (str(sockaddr[0]), int(sockaddr[1]))


def spawn(name: str, target: Callable[[], None], on_crash: Callable[[BaseException], None] | None = None) -> threading.Thread:
    """Start a lab thread. One that dies of an unexpected exception first tells `on_crash` (which
    marks its endpoint `error` and publishes an event, so nothing says "listening" while deaf), then
    lets the exception go on to threading.excepthook: loud in tests and in the log."""
    def run() -> None:
        try:
            target()
        except BaseException as exc:
            if on_crash is not None:
                on_crash(exc)
            raise

    # Daemon only as a safety net at interpreter exit: every lab thread is stopped and joined by
    # its endpoint's close().
    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def os_fields(exc: OSError, action: str, host: str, port: int) -> tuple[str | None, str | None, dict[str, Any] | None]:
    """An OS error as event fields: (errno name, the problem's stable code, its params)."""
    problem = os_problem(exc, action, host, port)
    return errno_name(exc), problem.code, problem.params


def errno_name(exc: OSError) -> str | None:
    """"ECONNREFUSED" for an OSError with that errno (None for one without, like a timeout)."""
    return errno.errorcode.get(exc.errno) if exc.errno else None


def exc_code(exc: BaseException) -> str | None:
    """The stable code of a LabError (None for one that has none)."""
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) else None


def crash_params(exc: BaseException, what: str) -> dict[str, Any]:
    """The values of the `crash` code's sentence (lab/messages.py)."""
    return {"what": what, "exception": type(exc).__name__, "text": str(exc)[:200]}


def crash_sentence(exc: BaseException, what: str) -> str:
    return (f"the lab's {what} thread stopped unexpectedly ({type(exc).__name__}: {str(exc)[:200]}); "
            "it no longer works: stop it and start a new one, and please report this")


log = logging.getLogger(__name__)

_stuck_lock = threading.Lock()
_stuck: list[str] = []  # the names of threads a join() gave up on, oldest first (bounded)


def join(thread: threading.Thread | None, timeout: float = 5.0) -> bool:
    """Wait for `thread` to end, `timeout` seconds at most; False (logged, and counted by
    stuck_threads()) when it is still running then: a thread the lab cannot stop is a bug to see,
    not to hide, but closing the rest must not wait on it for ever."""
    if thread is None or thread is threading.current_thread():
        return True
    thread.join(timeout)
    if not thread.is_alive():
        return True
    log.warning("thread %s did not end within %.1f s of being asked to; going on without it", thread.name, timeout)
    with _stuck_lock:
        _stuck.append(thread.name)
        del _stuck[:-100]
    return False


def stuck_threads() -> list[str]:
    """The names of the threads join() gave up on in this process (the latest 100)."""
    with _stuck_lock:
        return list(_stuck)


class Endpoint:
    """Base class: an id, a kind, a state, and the context to publish events in."""

    kind = "endpoint"
    proto = "tcp"

    def __init__(self, ctx: Context, ep_id: str, spec: EndpointSpec) -> None:
        self.ctx = ctx
        self.id = ep_id
        self.spec = spec
        self.state = "new"
        self.mode: str | None = spec.mode
        self.local: Address | None = None
        self.remote: Address | None = None
        self.bytes_in = 0
        self.bytes_out = 0
        self._lock = threading.Lock()
        # Counting has a lock of its own: the connections' threads and the senders add to the same
        # totals at once (`+=` on an attribute is a read and a write), and none waits for the other locks.
        self._count_lock = threading.Lock()
        self._reachable: list[dict[str, object]] | None = None

    def __enter__(self) -> Endpoint:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def count_in(self, n: int) -> None:
        """Add `n` received bytes to this endpoint's total (from any thread)."""
        with self._count_lock:
            self.bytes_in += n

    def count_out(self, n: int) -> None:
        """Add `n` sent bytes to this endpoint's total (from any thread)."""
        with self._count_lock:
            self.bytes_out += n

    def publish(self, kind: str, **fields: Any) -> None:
        fields.setdefault("local", self.local)
        self.ctx.bus.publish(self.id, kind, proto=self.proto, **fields)

    def publish_state(self, removed: bool = False) -> None:
        """A `state` event: this endpoint's snapshot, so pages keep its card current without asking.

        Published on each lifecycle change (create, accept, a connection's close, stop-listening,
        remove, error), never per send or recv. `removed` marks the last one of an endpoint.
        """
        snapshot = self.to_json(snapshot=True)
        if removed:
            snapshot["removed"] = True
        self.publish("state", detail=f"{self.kind} {self.id} is {'removed' if removed else self.state}", state=snapshot)

    def start(self) -> None:
        """Start the endpoint's threads. Lab.create calls it after the endpoint's first `state`
        event, so every page knows the endpoint before any event of its threads arrives."""

    def crashed(self, exc: BaseException) -> None:
        """A thread of this endpoint died of a bug: say so, in its state and in an event."""
        self.state = "error"
        self.publish("error", detail=crash_sentence(exc, self.kind), code="crash",
                     params=crash_params(exc, self.kind))
        self.publish_state()

    def fail(self, exc: OSError, action: str, host: str, port: int, call: str, **fields: Any) -> Refused:
        """Publish an error event for an OS error of socket call `call`, and return the Refused to raise."""
        problem = os_problem(exc, action, host, port)
        self.publish("error", detail=problem.sentence, call=call, errno=errno_name(exc), code=problem.code,
                     params=problem.params, **fields)
        return Refused(problem.code, **problem.params)

    def send(self, data: bytes, conn: str | None = None, to: Address | None = None) -> int:
        raise BadInput("cannot-send", kind=self.kind)

    def repeat(self, payloads: Iterator[bytes], count: int, interval: float, conn: str | None, to: Address | None) -> None:
        """Send `count` payloads `interval` seconds apart, in the background (periodic sends).

        The payloads are made one at a time as they are due, and the lab's one scheduler sends
        them: a request costs one entry in its heap, not a thread or N copies of the data.
        Raises TooLarge at the per-endpoint or total cap (SOCKETLAB_MAX_PERIODIC_*).
        """
        left = count

        def step() -> bool:
            nonlocal left
            data = next(payloads, None)
            if data is None:
                return False
            left -= 1
            try:
                self.send(data, conn, to)
            except LabError as exc:
                self.publish("error", detail=f"periodic sending stopped: {exc}", code=exc_code(exc),
                             params=getattr(exc, "params", None))
                return False
            return left > 0

        if count > 0:
            limits = self.ctx.limits
            self.ctx.scheduler.every(self.id, interval, step, per_owner=limits.periodic_per_endpoint,
                                     total=limits.periodic_total)

    def stop_tasks(self) -> None:
        """Cancel this endpoint's periodic sends; a send under way is waited for (it has a deadline)."""
        self.ctx.scheduler.cancel(self.id, timeout=self.ctx.limits.send_timeout_ms / 1000 + 1)

    def close(self) -> None:
        raise NotImplementedError

    def to_json(self, snapshot: bool = False) -> dict[str, Any]:
        """The endpoint as JSON; a `snapshot` (for state events) makes no syscall and holds no
        fresh per-connection objects (see TcpServer.to_json)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "mode": self.mode,
            "state": self.state,
            "local": list(self.local) if self.local else None,
            "remote": list(self.remote) if self.remote else None,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "framing": self.spec.framing,
            "recv_delay_ms": self.spec.recv_delay_ms,
            "delimiter": self.spec.delimiter.decode("utf-8", "replace") if self.spec.framing == "line" else None,
            "rules": [rule.to_json() for rule in self.spec.rules],
            "impair": self.spec.impair.to_json() if self.spec.impair else None,
            "link": self.spec.link.to_json() if self.spec.link else None,
            "broadcast": self.spec.broadcast,
            "reachable": self.reachable_json(),
        }

    def reachable_json(self) -> list[dict[str, object]] | None:
        """For a server bound to every address (0.0.0.0, ::): the machine's real addresses, one per
        interface, as students type them; read once, when first asked (a class's addresses hold still)."""
        if not self.kind.endswith("server") or not self.local or self.local[0] not in ("0.0.0.0", "::"):
            return None
        if self._reachable is None:
            self._reachable = [a.to_json() for a in reachable_at(self.local[0])]
        return self._reachable
