"""Checks read from a student's traced calls: a pure function of the events of one traced program.

The events are the JSON events the dashboard holds for the program (agent/trace: one endpoint
`s<n>@<name>` per socket, kinds setup/listen/accept/connect/send/recv/close/error), oldest first. Nothing
here does I/O or keeps state: the same events give the same states, so the page, the board and the
results can each compute them again whenever a new batch arrives.

A check is `pending` until the events settle it; it fails only on evidence (an error the tracer
recorded, a connection closed before the peer's end, clients served one after another) and names it.
The tracer itself records three classic mistakes as error events with a code (agent/trace/tsocket.py):
`send-str`, `socket-never-closed`, `recv-missed-pieces`, `recv-on-listening-socket`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .registry import Exercise
from .results import Result, failed, passed, pending

Ev = Mapping[str, Any]

_DATA = ("send", "recv")


class Calls:
    """The events of one program, grouped by socket: what the rules below ask of them."""

    def __init__(self, events: Iterable[Ev]) -> None:
        listed = [e for e in events if isinstance(e, Mapping) and isinstance(e.get("kind"), str)]
        if all(isinstance(e.get("seq"), int) for e in listed):
            listed.sort(key=lambda e: e["seq"])
        self.events = listed
        self.sockets: dict[str, list[tuple[int, Ev]]] = {}
        for i, e in enumerate(listed):
            self.sockets.setdefault(str(e.get("endpoint") or ""), []).append((i, e))
        self.listeners = [s for s, evs in self.sockets.items()
                          if any(e["kind"] == "listen" and e.get("call") == "listen" for _, e in evs)]
        # accepted sockets, in the order accept() returned them: (position of the accept, endpoint)
        self.accepted = [(i, str(e.get("endpoint"))) for i, e in enumerate(listed) if e["kind"] == "accept"]

    def errors(self, code: str) -> list[Ev]:
        return [e for e in self.events if e["kind"] == "error" and e.get("code") == code]

    def of(self, endpoint: str, kind: str, call: str | None = None) -> list[tuple[int, Ev]]:
        return [(i, e) for i, e in self.sockets.get(endpoint, ())
                if e["kind"] == kind and (call is None or e.get("call") == call)]

    def proto(self, endpoint: str) -> str:
        evs = self.sockets.get(endpoint)
        return str(evs[0][1].get("proto")) if evs else ""


def _args(e: Ev) -> Mapping[str, Any]:
    args = e.get("args")
    return args if isinstance(args, Mapping) else {}


def _params(e: Ev) -> dict[str, Any]:
    params = e.get("params")
    return dict(params) if isinstance(params, Mapping) else {}


def server_call_order(c: Calls) -> Result:
    code = "server-call-order"
    for e in c.errors("recv-on-listening-socket"):
        return failed(code, "recv-on-listener", socket=e.get("endpoint"))
    for e in c.events:
        if e["kind"] == "error" and e.get("call") in ("bind", "listen", "accept") and e.get("code"):
            return failed(code, "call-failed", call=e.get("call"), problem=e.get("code"))
    bound = []
    for s in c.listeners:
        listen_at = c.of(s, "listen", "listen")[0][0]
        if not any(i < listen_at for i, _ in c.of(s, "setup", "bind")):
            return failed(code, "listen-without-bind", socket=s)
        bound.append(s)
    served = any(_args(e).get("listener") in bound and c.of(s, "recv")
                 for i, s in c.accepted for _, e in c.sockets[s][:1])
    return passed(code) if served else pending(code)


def client_call_order(c: Calls) -> Result:
    code = "client-call-order"
    for e in c.events:
        if e["kind"] == "error" and e.get("call") == "connect" and e.get("code"):
            return failed(code, "call-failed", call="connect", problem=e.get("code"))
    for s, evs in c.sockets.items():
        connects = c.of(s, "connect")
        if connects and c.proto(s) == "tcp" and any(i > connects[0][0] and e["kind"] in _DATA for i, e in evs):
            return passed(code)
    return pending(code)


def recv_loop(c: Calls) -> Result:
    code = "recv-loop"
    for e in c.errors("recv-missed-pieces"):
        p = _params(e)
        return failed(code, "missed-pieces", socket=p.get("socket", e.get("endpoint")), unread=p.get("unread"))
    looped = False
    for s, evs in c.sockets.items():
        if c.proto(s) != "tcp" or s in c.listeners:
            continue
        recvs = [e for _, e in c.of(s, "recv")]
        ended = any(e.get("result") == 0 for e in recvs) or any(
            e["kind"] == "error" and e.get("call") in ("recv", "recv_into") for _, e in evs)
        if recvs and not ended and any(e["kind"] == "close" for _, e in evs):
            return failed(code, "stopped-reading", socket=s, recvs=len(recvs))
        looped = looped or (len(recvs) >= 2 and ended)
    return passed(code) if looped else pending(code)


def closed(c: Calls) -> Result:
    code = "closed"
    for e in c.errors("socket-never-closed"):
        return failed(code, "never-closed", socket=_params(e).get("socket", e.get("endpoint")))
    # (a UDP socket neither accepts nor connects: one that sent is the program's too)
    ends = [s for s in c.sockets if c.of(s, "accept") or c.of(s, "connect")
            or c.proto(s) == "udp" and c.of(s, "send")]
    return passed(code) if ends and all(c.of(s, "close") for s in ends) else pending(code)


def sends_bytes(c: Calls) -> Result:
    code = "sends-bytes"
    for e in c.errors("send-str"):
        return failed(code, "sent-str", call=_params(e).get("call", e.get("call")))
    return passed(code) if any(e["kind"] == "send" for e in c.events) else pending(code)


def thread_per_client(c: Calls) -> Result:
    """Clients served at once: accepted sockets served in threads of their own, or a call on an accepted socket
    after a later one was accepted (a select() loop). A server that serves one client at a time makes every
    call of a connection, in one thread, before it accepts the next."""
    code = "thread-per-client"
    # (as text: a thread is named by whatever the program posted, and a set takes no list)
    threads = {str(_args(e).get("thread")) for _, s in c.accepted for _, e in c.sockets[s] if e["kind"] in _DATA}
    if len(threads) >= 2:
        return passed(code)
    for n, (_, first) in enumerate(c.accepted):
        for later_at, _later in c.accepted[n + 1:]:
            if any(i > later_at for i, e in c.sockets[first] if e["kind"] in (*_DATA, "close")):
                return passed(code)
    # three clients connect at once in the peer checks: one after another is then the server's doing
    return failed(code, "one-at-a-time", accepted=len(c.accepted)) if len(c.accepted) >= 3 else pending(code)


def _udp_waits(c: Calls) -> list[tuple[str, int]]:
    """(socket, position) of the first wait for a datagram on each UDP client socket: a recv, or its failure."""
    waits = []
    for s, evs in c.sockets.items():
        if c.proto(s) == "udp" and c.of(s, "send"):
            at = next((i for i, e in evs if e["kind"] == "recv"
                       or (e["kind"] == "error" and e.get("call") in ("recv", "recvfrom", "recv_into"))), None)
            if at is not None:
                waits.append((s, at))
    return waits


def sets_timeout(c: Calls) -> Result:
    code = "sets-timeout"
    waits = _udp_waits(c)
    for s, at in waits:
        timeouts = [e for i, e in c.of(s, "setup", "settimeout") if i < at]
        if not timeouts or _args(timeouts[-1]).get("timeout") in (None, 0):
            return failed(code, "no-timeout", socket=s)
    return passed(code) if waits else pending(code)


def _timed_out(e: Ev) -> bool:
    """A wait for a datagram that timed out. An unconnected socket's recvfrom() has no peer address for the
    lab's sentence, so the tracer records its timeout without a code: the one failure of a receive without
    an errno is the timeout (socket.timeout)."""
    if e["kind"] != "error":
        return False
    return str(e.get("code") or "").endswith("timed-out") or (
        e.get("call") in ("recv", "recvfrom", "recv_into") and e.get("code") is None and e.get("errno") is None)


def _payload(e: Ev) -> Any:
    return e.get("data") if e.get("data") is not None else e.get("hex")


def retries(c: Calls) -> Result:
    """After a timeout, the next datagram the socket sends is the question it asked before (sent again); one
    that sends the next question instead gave the lost answer up."""
    code = "retries"
    for s, evs in c.sockets.items():
        if c.proto(s) != "udp":
            continue
        for at in (i for i, e in evs if _timed_out(e)):  # the first timeout that says which, decides
            asked = [e for i, e in evs if i < at and e["kind"] == "send"]
            then = next((e for i, e in evs if i > at and e["kind"] == "send"), None)
            if then is None:
                if any(i > at and e["kind"] == "close" for i, e in evs):
                    return failed(code, "gave-up", socket=s)
                continue
            if not asked or _payload(then) == _payload(asked[-1]):
                return passed(code)
            return failed(code, "moved-on", socket=s, question=_shown(asked[-1]), next=_shown(then))
    return pending(code)


def _shown(e: Ev) -> str:
    text = _payload(e)
    return str(text)[:40] if text is not None else "?"


RULES: dict[str, Callable[[Calls], Result]] = {
    "server-call-order": server_call_order,
    "client-call-order": client_call_order,
    "recv-loop": recv_loop,
    "closed": closed,
    "sends-bytes": sends_bytes,
    "thread-per-client": thread_per_client,
    "sets-timeout": sets_timeout,
    "retries": retries,
}


def evaluate(exercise: Exercise, events: Sequence[Ev]) -> dict[str, Result]:
    """The state of each of `exercise`'s trace checks, from the events of one student's traced program."""
    calls = Calls(events)
    return {check.code: RULES[check.code](calls) for check in exercise.checks if check.side == "trace"}
