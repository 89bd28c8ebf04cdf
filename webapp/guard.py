"""The dashboard's outer wall: which Host it answers to, which pages may make it act, and what
its request logs may show.

A page from any other website runs in the teacher's browser, on the teacher's machine, so it can
reach a dashboard on 127.0.0.1 that needs no token. Three checks stop it, all in one WSGI
middleware that sits outside Flask *and* outside the Socket.IO middleware, so the Engine.IO
handshake at /socket.io/ (which Flask's before_request never sees) is covered too:

- `Host` must be a name or address this dashboard answers to (else 400). DNS rebinding points an
  attacker's own name at 127.0.0.1; the browser then sends that name as Host, and we refuse it.
- A state-changing request whose `Origin` (or, without one, `Referer`) is another site is refused
  (403). Browsers always send `Origin` on a POST or DELETE, same-origin or not; scripts, curl and
  the python-socketio client send neither header and work as before.
- API bodies must be `application/json` (else 415). An HTML form or a `no-cors` fetch can only send
  form encodings and text/plain, so a JSON-only API cannot be driven by one.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lab.messages import MESSAGES

from .auth import READ_METHODS

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALL_ADDRESSES = ("0.0.0.0", "::", "")
DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    sentence: str


# sentences: lab/messages.py, the one table (the page words the same codes in its language)
UNKNOWN_HOST = Refusal(400, "unknown-host", MESSAGES["unknown-host"])
CROSS_ORIGIN = Refusal(403, "cross-origin", MESSAGES["cross-origin"])
NOT_JSON = Refusal(415, "not-json", MESSAGES["not-json"])
STATUS_TEXT = {400: "Bad Request", 403: "Forbidden", 415: "Unsupported Media Type"}


def split_host(host: str) -> tuple[str, str]:
    """'name:port', '[v6]:port', 'v4' -> (name or address, port or ''), lower-case."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, rest[1:] if rest.startswith(":") else ""
    if host.count(":") == 1:
        name, _, port = host.partition(":")
        return name, port
    return host, ""  # a name, or a bare IPv6 address (not valid in Host, but harmless to read)


def as_address(name: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(name.partition("%")[0])  # a scope id (fe80::1%eth0) is not part of it
    except ValueError:
        return None


class MachineAddresses:
    """Every address of this machine's interfaces, read without new dependencies (Linux /proc and
    ioctl, plus what the host name resolves to), cached, and read again on a miss, at most once
    every `refresh` seconds, so a flood of forged Hosts cannot turn into a flood of reads."""

    SIOCGIFADDR = 0x8915

    def __init__(self, refresh: float = 2.0) -> None:
        self._refresh = refresh
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._known: frozenset[IPAddress] = frozenset()

    def __contains__(self, address: IPAddress) -> bool:
        if address in self._known:
            return True
        with self._lock:
            if time.monotonic() - self._read_at >= self._refresh:
                self._known = frozenset(self.read())
                self._read_at = time.monotonic()
        return address in self._known

    @classmethod
    def read(cls) -> set[IPAddress]:
        found: set[IPAddress] = set()
        for text in cls._from_proc() | cls._from_ioctl() | cls._from_hostname():
            address = as_address(text)
            if address is not None:
                found.add(address)
        return found

    @staticmethod
    def _from_proc() -> set[str]:
        found = set()
        try:  # IPv6: one line per address, the address as 32 hex digits first
            with open("/proc/net/if_inet6", encoding="ascii") as lines:
                for line in lines:
                    digits = line.split()[0]
                    found.add(":".join(digits[i:i + 4] for i in range(0, 32, 4)))
        except (OSError, IndexError):
            pass
        try:  # IPv4, secondary addresses included: each local address is "|-- a.b.c.d" then "/32 host LOCAL"
            with open("/proc/net/fib_trie", encoding="ascii") as lines:
                last = ""
                for line in lines:
                    if "|--" in line:
                        last = line.split("|--")[1].strip()
                    elif "/32 host LOCAL" in line:
                        found.add(last)
        except OSError:
            pass
        return found

    @classmethod
    def _from_ioctl(cls) -> set[str]:
        """Each interface's IPv4 address, for systems without /proc/net/fib_trie."""
        found = set()
        try:
            import fcntl  # Unix only: imported here so the module still loads elsewhere

            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                for _, name in socket.if_nameindex():
                    try:
                        request = struct.pack("256s", name.encode()[:15])
                        answer = fcntl.ioctl(probe.fileno(), cls.SIOCGIFADDR, request)
                    except OSError:
                        continue  # an interface without an IPv4 address
                    found.add(socket.inet_ntoa(answer[20:24]))
        except (ImportError, OSError):
            pass
        return found

    @staticmethod
    def _from_hostname() -> set[str]:
        try:
            return {str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None)}
        except OSError:
            return set()


class HostPolicy:
    """The Host names and addresses the dashboard answers to.

    Always loopback ('localhost', 127.0.0.0/8, ::1); the address(es) it binds; SOCKETLAB_HOSTS.
    Bound to all addresses (0.0.0.0 or ::), also every address of the machine and its host name,
    so a class opening the printed link, by name or by IP, needs no configuration. The port is
    never checked: a rebinding attack changes the name, and the port is whatever the socket got.
    """

    def __init__(self, binds: Iterable[str], extra: Iterable[str], machine: MachineAddresses | None = None) -> None:
        self.names: set[str] = {"localhost"}
        self.addresses: set[IPAddress] = set()
        self.all_addresses = False
        for bind in binds:
            if split_host(bind)[0] in ALL_ADDRESSES:
                self.all_addresses = True
            else:
                self._add(bind)
        for entry in extra:
            self._add(entry)
        if self.all_addresses:
            self.names.add(socket.gethostname().lower())
        self.machine = machine or MachineAddresses()

    @classmethod
    def from_settings(cls, binds: str, hosts: str) -> HostPolicy:
        """From comma-separated strings: the dashboard's bind addresses and SOCKETLAB_HOSTS."""
        return cls([b for b in binds.split(",") if b.strip()], [h for h in hosts.split(",") if h.strip()])

    def _add(self, entry: str) -> None:
        name = split_host(entry)[0].rstrip(".")  # an entry may carry a port: it is not checked
        address = as_address(name)
        if address is not None:
            self.addresses.add(address)
        elif name:
            self.names.add(name)

    def allows(self, host: str) -> bool:
        name, _ = split_host(host)
        name = name.rstrip(".")
        if name in self.names:
            return True
        address = as_address(name)
        if address is None:
            return False
        return address.is_loopback or address in self.addresses or (self.all_addresses and address in self.machine)


def same_origin(url: str, host: str) -> bool:
    """Whether `url` (an Origin or Referer) names the site at `host` (the request's Host header).

    Host name and port are compared, an absent port being the default of the URL's scheme; the
    scheme itself is not, because behind a TLS-terminating proxy the dashboard sees http while the
    page is https, and both name the same server.
    """
    try:
        parts = urlsplit(url.strip())
        port_in_url = parts.port
    except ValueError:
        return False
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return False  # "null" (sandboxed frames, file: pages) and every other scheme
    default = DEFAULT_PORTS[parts.scheme]
    name, port = split_host(host)
    return parts.hostname == name and str(port_in_url or default) == (port or default)


class Guard:
    """WSGI middleware: Host, then Origin/Referer, then Content-Type; see the module docstring."""

    def __init__(self, app: WSGIApp, hosts: HostPolicy) -> None:
        self.app = app
        self.hosts = hosts

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        refusal = self.check(environ)
        if refusal is None:
            return self.app(environ, start_response)
        return self.refuse(refusal, environ, start_response)

    def check(self, environ: Environ) -> Refusal | None:
        host = environ.get("HTTP_HOST")
        # HTTP/1.0 may leave Host out; browsers never do, and DNS rebinding needs a browser.
        if host is not None and not self.hosts.allows(host):
            return UNKNOWN_HOST
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method not in READ_METHODS:
            claimed = environ.get("HTTP_ORIGIN") or environ.get("HTTP_REFERER")
            if claimed is not None and (host is None or not same_origin(claimed, host)):
                return CROSS_ORIGIN
        path = environ.get("PATH_INFO", "")
        if (path == "/api" or path.startswith("/api/")) and not self._json_or_no_body(environ, method):
            return NOT_JSON
        return None

    @staticmethod
    def _json_or_no_body(environ: Environ, method: str) -> bool:
        kind: str = environ.get("CONTENT_TYPE", "")
        length: str = environ.get("CONTENT_LENGTH", "")
        chunked = "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()
        has_body = length not in ("", "0") or chunked
        if not has_body and not (kind and method in BODY_METHODS):
            return True  # a bare DELETE or POST from a script
        return kind.partition(";")[0].strip().lower() == "application/json"

    @staticmethod
    def refuse(refusal: Refusal, environ: Environ, start_response: StartResponse) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(("/api", "/socket.io")):
            body = json.dumps({"error": refusal.sentence, "code": refusal.code, "params": {}}).encode()
            kind = "application/json"
        else:
            body, kind = refusal.sentence.encode() + b"\n", "text/plain; charset=utf-8"
        # The body of a refused request is never read: close the connection, so its unread bytes
        # can never be taken for the next request on it.
        start_response(f"{refusal.status} {STATUS_TEXT[refusal.status]}", [
            ("Content-Type", kind), ("Content-Length", str(len(body))), ("Connection", "close"),
            ("X-Content-Type-Options", "nosniff")])
        return [body]
