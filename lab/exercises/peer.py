"""Checks with the lab as the peer: real sockets from the lab to a student's own traced server.

The lab connects only where that student's program is listening: the port must be one its own
traced `listen()` calls reported (and not closed since), at the address its events were posted from
(`target`); anything else is refused with a code, so a student cannot point the lab at another
program. Every probe runs in the calling thread, with a timeout on each socket call and a cap on the
bytes read from each connection: a server that accepts and never answers costs WAIT seconds and
leaves no thread, one that answers megabytes costs LIMIT bytes of memory.
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from ..errors import Refused, where
from .registry import Exercise
from .results import Result, failed, passed, pending
from .trace import Calls

WAIT = 5.0  # seconds a probe waits for an answer (a person's program on a busy laptop may be slow)
LIMIT = 64 << 10  # bytes read from one connection at most: every probe's answer is far smaller
PAUSE = 0.2  # seconds between the pieces of a split message: long enough to arrive as pieces of their own
_WILDCARD = ("0.0.0.0", "::", "")


class Target(NamedTuple):
    host: str
    port: int


def target(events: Iterable[Mapping[str, Any]], host: str, port: Any) -> Target:
    """(host, port) to probe, checked against the program's own events: `port` must be a TCP port one of its
    traced listen() calls reported and that listener not closed since; it must listen on every address or on
    `host`, the address the program's events came from. Anything else: Refused, with a code."""
    calls = Calls(events)
    listening: dict[int, str] = {}
    for s in calls.listeners:
        if calls.proto(s) != "tcp" or calls.of(s, "close"):
            continue
        local = calls.of(s, "listen", "listen")[-1][1].get("local")
        if isinstance(local, Sequence) and len(local) >= 2 and isinstance(local[1], int):
            listening[local[1]] = str(local[0])
    ports = ", ".join(str(p) for p in sorted(listening)) or "none"
    if isinstance(port, bool) or not isinstance(port, int) or port not in listening:
        raise Refused("exercise-port-not-yours", port=str(port)[:20], ports=ports)
    if listening[port] not in (*_WILDCARD, host):
        raise Refused("exercise-listener-unreachable", address=where(listening[port], port), host=host)
    return Target(host, port)


# -- reading with a deadline and a cap --------------------------------------------------------------

class Got(NamedTuple):
    data: bytes
    end: str  # "enough" (what was wanted) | "eof" | "timeout" | "reset" | "limit"


Done = Callable[[bytearray], bool]


def _read(sock: socket.socket, done: Done, deadline: float, limit: int = LIMIT) -> Got:
    """Bytes until `done(data)`, the peer's end, the deadline or `limit` bytes, whichever comes first."""
    data = bytearray()
    while not done(data):
        left = deadline - time.monotonic()
        if left <= 0:
            return Got(bytes(data), "timeout")
        if len(data) >= limit:
            return Got(bytes(data), "limit")
        sock.settimeout(left)
        try:
            piece = sock.recv(min(65536, limit - len(data)))
        except TimeoutError:
            return Got(bytes(data), "timeout")
        except OSError:
            return Got(bytes(data), "reset")
        if not piece:
            return Got(bytes(data), "eof")
        data += piece
    return Got(bytes(data), "enough")


def _connect(t: Target, wait: float, stack: contextlib.ExitStack) -> socket.socket:
    return stack.enter_context(socket.create_connection(t, timeout=wait))


def _not_reached(code: str, exc: OSError, t: Target, wait: float) -> Result:
    if isinstance(exc, TimeoutError):
        return failed(code, "no-answer", seconds=wait)
    if isinstance(exc, ConnectionRefusedError):
        return failed(code, "not-listening", address=where(*t))
    return failed(code, "connection-reset")


def _echoed(code: str, sent: bytes, got: Got, wait: float, limit: int) -> Result:
    if got.data == sent:
        return passed(code)
    if not got.data and got.end == "timeout":
        return failed(code, "no-answer", seconds=wait)
    if got.end == "limit":
        return failed(code, "too-long", limit=limit)
    if sent.startswith(got.data):
        if got.end == "reset":
            return failed(code, "connection-reset")
        return failed(code, "cut-short", got=len(got.data), sent=len(sent)) if got.end == "eof" else \
            failed(code, "no-answer", seconds=wait)
    return failed(code, "wrong-bytes", sent=len(sent), got=len(got.data))


def _upto(n: int) -> Done:
    return lambda data: len(data) >= n


def _holds(text: bytes) -> Done:
    return lambda data: text in data


# -- the probes, one per exercise that the lab connects to ------------------------------------------

def probe_echo(t: Target, wait: float = WAIT, limit: int = LIMIT) -> dict[str, Result]:
    """One message whole, three glued in one send, one split over three sends with pauses, three clients at once."""
    results: dict[str, Result] = {}
    silent = False  # a case heard nothing at all within `wait`
    cases: list[tuple[str, list[bytes]]] = [
        ("echo-exact", [b"hello, echo server\n"]),
        ("echo-glued", [b"one\ntwo\nthree\n"]),
        ("echo-split", [b"a message ", b"sent in ", b"three pieces\n"])]
    for code, pieces in cases:
        sent = b"".join(pieces)
        if silent:
            # a server that answered nothing at all in WAIT seconds answers the next case no better: the
            # class's other students wait behind this probe, so one silent server costs WAIT, not 4 x WAIT
            results[code] = failed(code, "no-answer", seconds=wait)
            continue
        with contextlib.ExitStack() as stack:
            try:
                sock = _connect(t, wait, stack)
                for n, piece in enumerate(pieces):
                    if n:
                        time.sleep(PAUSE)  # (the point of the probe: pieces that arrive apart)
                    sock.sendall(piece)
                got = _read(sock, _upto(len(sent)), time.monotonic() + wait, min(limit, len(sent)))
            except OSError as exc:
                results[code] = _not_reached(code, exc, t, wait)
                continue
            results[code] = _echoed(code, sent, got, wait, limit)
            silent = not got.data and got.end == "timeout"
    code = "three-clients"
    if silent:
        results[code] = failed(code, "answered", answered=0, clients=3)
        return results
    with contextlib.ExitStack() as stack:
        try:
            socks = [_connect(t, wait, stack) for _ in range(3)]
            messages = [f"client {n} says hello\n".encode() for n in (1, 2, 3)]
            for sock, message in zip(socks, messages, strict=True):
                sock.sendall(message)
        except OSError as exc:
            results[code] = _not_reached(code, exc, t, wait)
            return results
        deadline = time.monotonic() + wait  # (one deadline for all three: they are served at once or not at all)
        answered = sum(_read(s, _upto(len(m)), deadline, len(m)).data == m for s, m in zip(socks, messages, strict=True))
        results[code] = passed(code) if answered == 3 else failed(code, "answered", answered=answered, clients=3)
    return results


def probe_relay(t: Target, wait: float = WAIT, limit: int = LIMIT) -> dict[str, Result]:
    """Three clients; the last one connected speaks first (by then the server has the others), then the first."""
    others, not_sender = "relay-others", "relay-not-sender"
    with contextlib.ExitStack() as stack:
        try:
            socks = [_connect(t, wait, stack) for _ in range(3)]
        except OSError as exc:
            return {others: _not_reached(others, exc, t, wait), not_sender: _not_reached(not_sender, exc, t, wait)}
        bounced: int | None = None
        for sender in (3, 1):
            text = f"hello from client {sender}".encode()
            try:
                socks[sender - 1].sendall(text + b"\n")
            except OSError as exc:
                return {others: _not_reached(others, exc, t, wait), not_sender: _not_reached(not_sender, exc, t, wait)}
            deadline = time.monotonic() + wait
            for client in (1, 2, 3):
                if client != sender:
                    got = _read(socks[client - 1], _holds(text), deadline, limit)
                    if got.end != "enough":
                        # (whether the sender gets a copy tells nothing while the others get none)
                        return {others: failed(others, "not-relayed", sender=sender, client=client, seconds=wait),
                                not_sender: pending(not_sender)}
            # the others have it: a copy for the sender would have been sent by now, or is a moment behind
            if bounced is None and _read(socks[sender - 1], _holds(text),
                                         time.monotonic() + PAUSE * 2, limit).end == "enough":
                bounced = sender
    return {others: passed(others),
            not_sender: passed(not_sender) if bounced is None else failed(not_sender, "echoed-to-sender", sender=bounced)}


_STATUS = re.compile(rb"HTTP/1\.[01] [1-5][0-9][0-9]( [^\r\n]*)?\r?")
_HEADER = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+:[ \t]*[^\r\n]*\r?")
_BLANK = re.compile(rb"\r?\n\r?\n")


def _shown(line: bytes) -> str:
    return line[:80].decode("utf-8", errors="replace")


def judge_http(raw: bytes, end: str, wait: float = WAIT, limit: int = LIMIT) -> dict[str, Result]:
    """The four HTTP checks of a response read as `raw`, ended by `end` (Got.end): pure, sans I/O."""
    codes = ("http-status-line", "http-headers", "http-body-length", "http-closes")
    if not raw:
        reason = ("no-answer", {"seconds": wait}) if end == "timeout" else ("cut-short", {"got": 0, "sent": 1}) \
            if end == "eof" else ("connection-reset", {})
        return {c: failed(c, reason[0], **reason[1]) for c in codes}
    results: dict[str, Result] = {}
    first = raw.split(b"\n", 1)[0]
    results["http-status-line"] = passed("http-status-line") if _STATUS.fullmatch(first) else \
        failed("http-status-line", "bad-status-line", line=_shown(first))
    blank = _BLANK.search(raw)
    if blank is None:
        results["http-headers"] = failed("http-headers", "no-blank-line")
        results["http-body-length"] = failed("http-body-length", "too-long", limit=limit) if end == "limit" else \
            failed("http-body-length", "no-blank-line")
    else:
        head, body = raw[:blank.start()].split(b"\n")[1:], raw[blank.end():]
        bad = next((line for line in head if not _HEADER.fullmatch(line)), None)
        results["http-headers"] = passed("http-headers") if bad is None else \
            failed("http-headers", "bad-header", line=_shown(bad))
        declared = next((line.split(b":", 1)[1].strip() for line in head
                         if line.lower().startswith(b"content-length:")), None)
        if end == "limit":
            results["http-body-length"] = failed("http-body-length", "too-long", limit=limit)
        elif declared is not None and (not declared.isdigit() or int(declared) != len(body)):
            results["http-body-length"] = failed("http-body-length", "length-mismatch",
                                                 declared=_shown(declared), actual=len(body))
        else:
            results["http-body-length"] = passed("http-body-length")
    results["http-closes"] = passed("http-closes") if end == "eof" else \
        failed("http-closes", "too-long", limit=limit) if end == "limit" else \
        failed("http-closes", "connection-reset") if end == "reset" else \
        failed("http-closes", "not-closed", seconds=wait)
    return results


def probe_http(t: Target, wait: float = WAIT, limit: int = LIMIT) -> dict[str, Result]:
    """GET / as a browser sends it; the response read until the server closes (HTTP/1.0), at most `limit` bytes."""
    request = f"GET / HTTP/1.0\r\nHost: {where(*t)}\r\nUser-Agent: socketlab-exercise\r\n\r\n".encode()
    with contextlib.ExitStack() as stack:
        try:
            sock = _connect(t, wait, stack)
            sock.sendall(request)
        except OSError as exc:
            return {c: _not_reached(c, exc, t, wait) for c in ("http-status-line", "http-headers", "http-body-length",
                                                        "http-closes")}
        got = _read(sock, lambda data: False, time.monotonic() + wait, limit)
    return judge_http(got.data, got.end, wait, limit)


PROBES: dict[str, Callable[[Target, float, int], dict[str, Result]]] = {
    "echo-server": probe_echo,
    "relay": probe_relay,
    "http-server": probe_http,
}


def probe(exercise: Exercise, events: Iterable[Mapping[str, Any]], host: str, port: Any,
          wait: float = WAIT, limit: int = LIMIT) -> dict[str, Result]:
    """The peer checks of `exercise` against a student's server: `events` are that student's traced program's,
    `host` the address they were posted from, `port` the one to probe (refused unless the program listens there)."""
    checked = target(events, host, port)
    run = PROBES.get(exercise.key)
    return {} if run is None else run(checked, wait, limit)
