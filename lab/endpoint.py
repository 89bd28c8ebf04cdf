"""What every endpoint shares: the lab context, ids, state, threads, and address helpers."""

from __future__ import annotations

import errno
import socket
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import BadInput, Forbidden, LabError, Refused, explain_os_error
from .events import Address, EventBus
from .files import FileStore
from .policy import Policy
from .spec import EndpointSpec


@dataclass(frozen=True)
class Limits:
    """Configurable limits; every one is listed in the README."""

    endpoints: int = 64
    connections_per_server: int = 200
    send_bytes: int = 1 << 20
    datagram_bytes: int = 65507
    file_bytes: int = 4 << 30
    downloads_at_once: int = 4
    events_per_second: int = 20_000


@dataclass
class Context:
    """What an endpoint needs from the lab: where to publish events, the files, the limits."""

    bus: EventBus
    files: FileStore
    limits: Limits = field(default_factory=Limits)
    targets: Policy = field(default_factory=lambda: Policy([], "SOCKETLAB_ALLOW", "reach"))
    binds: Policy = field(default_factory=lambda: Policy([], "SOCKETLAB_BIND", "bind"))


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
        raise Forbidden(f"Lab servers on {host} may only use ports {ports[0]}-{ports[1]} ({ctx.binds.variable}); "
                        f"choose one of those, or 0 to let the lab pick.")
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


def address(sockaddr: Any) -> Address:
    return (str(sockaddr[0]), int(sockaddr[1]))


def spawn(name: str, target: Callable[[], None]) -> threading.Thread:
    # Daemon only as a safety net at interpreter exit: every lab thread is stopped and joined by
    # its endpoint's close().
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def join(thread: threading.Thread | None, timeout: float = 5.0) -> None:
    if thread is not None and thread is not threading.current_thread():
        thread.join(timeout)


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
        self._tasks: list[threading.Thread] = []
        self._tasks_stop = threading.Event()

    def publish(self, kind: str, **fields: Any) -> None:
        fields.setdefault("local", self.local)
        self.ctx.bus.publish(self.id, kind, proto=self.proto, **fields)

    def fail(self, exc: OSError, action: str, host: str, port: int, **fields: Any) -> Refused:
        """Publish an error event for an OS error, and return the Refused to raise."""
        sentence = explain_os_error(exc, action, host, port)
        self.publish("error", detail=sentence, **fields)
        return Refused(sentence)

    def send(self, data: bytes, conn: str | None = None, to: Address | None = None) -> int:
        raise BadInput(f"A {self.kind} cannot send.")

    def repeat(self, payloads: list[bytes], interval: float, conn: str | None, to: Address | None) -> None:
        """Send each payload `interval` seconds apart, in the background (periodic sends)."""
        def run() -> None:
            for data in payloads:
                if self._tasks_stop.wait(interval):
                    return
                try:
                    self.send(data, conn, to)
                except LabError as exc:
                    self.publish("error", detail=f"periodic sending stopped: {exc}")
                    return

        with self._lock:
            self._tasks = [t for t in self._tasks if t.is_alive()]
            self._tasks.append(spawn(f"repeat-{self.id}", run))

    def stop_tasks(self) -> None:
        self._tasks_stop.set()
        for task in list(self._tasks):
            join(task)

    def close(self) -> None:
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
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
            "delimiter": self.spec.delimiter.decode("utf-8", "replace") if self.spec.framing == "line" else None,
            "rules": [rule.to_json() for rule in self.spec.rules],
            "impair": self.spec.impair.to_json() if self.spec.impair else None,
            "broadcast": self.spec.broadcast,
        }
