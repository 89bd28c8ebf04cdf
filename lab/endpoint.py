"""What every endpoint shares: the lab context, ids, state, threads, and address helpers."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import BadInput, Refused, explain_os_error
from .events import Address, EventBus
from .files import FileStore


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


def resolve(host: str, port: int, socktype: int, passive: bool = False) -> tuple[int, Address]:
    """(family, sockaddr) for host:port; raises Refused with a sentence when the name is unknown."""
    try:
        infos = socket.getaddrinfo(host, port, 0, socktype, 0, socket.AI_PASSIVE if passive else 0)
    except (socket.gaierror, UnicodeError) as exc:
        if isinstance(exc, socket.gaierror):
            raise Refused(explain_os_error(exc, "reach", host, port)) from None
        raise BadInput(f"'{host}' is not a valid host name.") from None
    family, _, _, _, sockaddr = infos[0]
    return family, (str(sockaddr[0]), int(sockaddr[1]))


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

    def __init__(self, ctx: Context, ep_id: str) -> None:
        self.ctx = ctx
        self.id = ep_id
        self.state = "new"
        self.mode: str | None = None
        self.local: Address | None = None
        self.remote: Address | None = None
        self.bytes_in = 0
        self.bytes_out = 0
        self._lock = threading.Lock()

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
        }
