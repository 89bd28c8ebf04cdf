"""Each of the nine lessons, built and run by the lab ten times in a row: its point shows every time.

The point is read from the events of the lesson's own stage (what the class sees), never from the
lab's internals: e.g. the sticky lesson's raw server made fewer recv() than the client's send()s,
with messages glued together, while the line-framed server restored all twenty.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from lab import Lab
from lab.events.bus import Event
from lab.events.kinds import KINDS
from lab.lessons.registry import LESSONS
from lab.client import LocalLabs
from lab.stage import Stage

from ..support import Resources, wait_until

RUNS = 10


def stage_events(lab: Lab, stage: dict[str, Any]) -> list[Event]:
    return [e for e in lab.bus.since(stage["seq"] - 1, 100_000)[0]]


def of(events: list[Event], endpoint: str, kind: str) -> list[Event]:
    return [e for e in events if e.endpoint == endpoint and e.kind == kind]


def until(lab: Lab, stage: dict[str, Any], check: Callable[[list[Event]], Any], timeout: float = 10) -> Any:
    return wait_until(lambda: check(stage_events(lab, stage)), timeout)


def point_echo(lab: Lab, stage: Stage, ids: dict[str, Any], s: dict[str, Any]) -> None:
    stage.act("sendHello", None)
    until(lab, s, lambda ev: any(e.head == b"hello" for e in of(ev, ids["client"], "recv")))
    server_recv = [e for e in ev_all(lab, s) if e.endpoint == ids["server"] and e.kind == "recv"]
    assert [e.head for e in server_recv] == [b"hello"]


def ev_all(lab: Lab, s: dict[str, Any]) -> list[Event]:
    return stage_events(lab, s)


def point_clients(lab: Lab, stage: Stage, ids: dict[str, Any], s: dict[str, Any]) -> None:
    until(lab, s, lambda ev: len(of(ev, ids["server"], "accept")) == 3)
    stage.act("oneMore", None)
    accepts = until(lab, s, lambda ev: (a := of(ev, ids["server"], "accept")) and len(a) == 4 and a)
    assert len({e.conn for e in accepts}) == 4 and len({e.peer for e in accepts}) == 4  # c1..c4, own ports
    stage.act("sendAll", None)
    for i, client in enumerate(stage.to_json()["lesson"]["ids"]["clients"], 1):
        until(lab, s, lambda ev, c=client, i=i: any(e.head == f"client {i}".encode() for e in of(ev, c, "recv")))


def point_stop(lab: Lab, stage: Stage, ids: dict[str, Any], s: dict[str, Any]) -> None:
    stage.act("stopListening", None)
    _, result = stage.act("newClient", None)
    assert result["code"] == "lesson-refused" and result["cause"]["code"] == "connection-refused"
    stage.act("sendFirst", None)
    until(lab, s, lambda ev: any(e.head == b"still here?" for e in of(ev, ids["first"], "recv")))
    stage.act("stopServer", None)
    for client in (ids["first"], ids["second"]):
        until(lab, s, lambda ev, c=client: any(e.closed_by == "peer" for e in of(ev, c, "close")))


def point_sticky(lab: Lab, stage: Stage, ids: dict[str, Any], s: dict[str, Any]) -> None:
    stage.act("burst", None)
    until(lab, s, lambda ev: len(of(ev, ids["line"], "message")) == 20)
    burst = sum(len(f"#{i} hello".encode()) for i in range(1, 21))
    raw = until(lab, s, lambda ev: (r := of(ev, ids["raw"], "recv")) and sum(e.size for e in r) == burst and r)
    assert len(raw) < 20 and raw[0].head is not None and raw[0].head.count(b"#") > 1  # glued
    assert len(of(ev_all(lab, s), ids["line"], "recv")) < 20  # the same few recv(), all 20 messages


def point_files(lab: Lab, stage: Stage, ids: dict[str, Any], s: dict[str, Any]) -> None:
    size = next(f["size"] for f in lab.files.listing() if f["name"] == ids["file"])
    stage.act("downloadRaw", None)
    stage.act("downloadFramed", None)
    raw, framed = stage.to_json()["lesson"]["ids"]["downloads"]
    wait_until(lambda: lab.download(raw).state == "done" and lab.download(framed).state == "done", 20)
    assert lab.download(raw).bytes == size and not lab.download(raw).verified
    assert lab.download(framed).bytes == size and lab.download(framed).verified


def point_relay(lab: Lab, stage: Stage, ids: dict[str, Any], s: dict[str, Any]) -> None:
    stage.act("sendFirst", None)
    first, *others = ids["clients"]
    for client in others:
        until(lab, s, lambda ev, c=client: any(e.head == b"hello, class!" for e in of(ev, c, "message")))
    assert not of(ev_all(lab, s), first, "recv")  # the sender does not get its own line back


def point_http(lab: Lab, stage: Stage, ids: dict[str, Any], s: dict[str, Any]) -> None:
    stage.act("getByHand", None)
    client = stage.to_json()["lesson"]["ids"]["clients"][0]
    until(lab, s, lambda ev: any(e.head and e.head.startswith(b"HTTP/1.0 200") for e in of(ev, client, "recv")))
    until(lab, s, lambda ev: any(e.closed_by == "peer" for e in of(ev, client, "close")))


def point_compare(lab: Lab, stage: Stage, ids: dict[str, Any], s: dict[str, Any]) -> None:
    _, _ = stage.act("run", {"count": 30, "interval": 0, "seed": 1})
    run = stage.to_json()["lesson"]["run"]
    tcp, udp = run["ids"]["tcpClient"], run["ids"]["udpClient"]
    until(lab, s, lambda ev: len(of(ev, tcp, "message")) == 30)
    until(lab, s, lambda ev: of(ev, udp, "lost"))
    # TCP: every message, in order; UDP (20% loss, seed 1): some never come back
    assert [e.message for e in of(ev_all(lab, s), tcp, "message")] == list(range(1, 31))


def point_broadcast(lab: Lab, stage: Stage, ids: dict[str, Any], s: dict[str, Any]) -> None:
    stage.act("broadcast", None)
    for server in ids["servers"]:
        until(lab, s, lambda ev, srv=server: any(e.head == b"hello, everyone" for e in of(ev, srv, "recv")))
    sends = of(ev_all(lab, s), ids["client"], "send")
    assert len(sends) == 1  # one sendto(), three receivers


def point_handshake(lab: Lab, stage: Stage, ids: dict[str, Any], s: dict[str, Any]) -> None:
    stage.act("connect", None)
    [client] = stage.to_json()["lesson"]["ids"]["clients"]
    until(lab, s, lambda ev: of(ev, ids["server"], "accept") and of(ev, client, "connect"))


def point_close(lab: Lab, stage: Stage, ids: dict[str, Any], s: dict[str, Any]) -> None:
    client = lab.endpoint(ids["client"])
    _, first = stage.act("clientCloses", None)
    assert first["code"] == "lesson-time-wait-client" and first["params"]["address"].endswith(f":{client.local[1]}")
    _, second = stage.act("serverCloses", None)
    assert second["code"] == "lesson-time-wait-server"
    assert second["params"]["address"].endswith(f":{lab.endpoint(ids['server']).local[1]}")


def point_reset(lab: Lab, stage: Stage, ids: dict[str, Any], s: dict[str, Any]) -> None:
    _, refused = stage.act("connectClosed", None)
    assert refused["code"] == "lesson-refused" and refused["cause"]["code"] == "connection-refused"
    _, unread = stage.act("closeUnread", None)
    assert unread["code"] == "lesson-closed-unread" and unread["params"]["bytes"] > 0
    until(lab, s, lambda ev: any(e.closed_by == "reset" for e in of(ev, ids["client"], "close")))
    assert not of(ev_all(lab, s), ids["server"], "recv")  # it never read


def point_mss(lab: Lab, stage: Stage, ids: dict[str, Any], s: dict[str, Any]) -> None:
    _, result = stage.act("sendBig", None)
    assert result["code"] == "lesson-big-send" and 0 < result["params"]["mss"] < result["params"]["size"]
    recvs = until(lab, s, lambda ev: (r := of(ev, ids["server"], "recv")) and sum(e.size for e in r) == 200_000 and r)
    assert len(of(ev_all(lab, s), ids["client"], "send")) == 1 and len(recvs) > 1


def point_loss(lab: Lab, stage: Stage, ids: dict[str, Any], s: dict[str, Any]) -> None:
    stage.act("run", None)
    run = stage.to_json()["lesson"]["run"]
    tcp, udp = run["ids"]["tcpClient"], run["ids"]["udpClient"]
    until(lab, s, lambda ev: len(of(ev, tcp, "message")) == 200, 60)  # (TCP's backoff: seconds, at worst)
    assert [e.message for e in of(ev_all(lab, s), tcp, "message")] == list(range(1, 201))
    until(lab, s, lambda ev: len(of(ev, udp, "send")) == 200)
    assert len(of(ev_all(lab, s), run["ids"]["udpServer"], "recv")) < 200  # the kernel dropped some on the way
    assert lab.link.dropped(run["ids"]["tcpServer"]) > 0


POINTS = {1: point_echo, 2: point_clients, 3: point_stop, 4: point_sticky, 5: point_files, 6: point_relay,
          7: point_http, 8: point_compare, 9: point_broadcast, 10: point_handshake, 11: point_close, 12: point_reset,
          13: point_mss, 14: point_loss}
RUNS_OF = {10: 3, 11: 3, 12: 3, 13: 3, 14: 1}  # the wire lessons: a few runs (the loss lesson takes seconds)


def test_every_lesson_has_a_point_test() -> None:
    assert set(POINTS) == set(LESSONS)


@pytest.mark.parametrize("n", sorted(LESSONS))
def test_each_lesson_makes_its_point_ten_times_in_a_row(lab: Lab, resources: Resources, n: int) -> None:
    if LESSONS[n].needs == "link" and lab.link.why_not():  # (tests/sandbox runs it in a sandbox)
        pytest.skip(f"no real loss for a lab here: {lab.wire.link.why_not()}")
    stage = Stage(LocalLabs(lab))
    for _ in range(RUNS_OF.get(n, RUNS)):
        s = stage.begin({"lesson": n})
        assert s["lesson"]["state"] == "ready", s["lesson"]["error"]
        POINTS[n](lab, stage, s["lesson"]["ids"], s)
    stage.begin({"lesson": None})  # a new stage closes everything the lessons made
    assert not lab.endpoints
    wait_until(lambda: not resources.new_threads(), 10)


def causal(events: list[Event]) -> list[Event]:
    """The log's order: by the time each call began (or returned, for calls that wait), then seq."""
    return sorted(events, key=lambda e: (e.ts, e.seq))


@pytest.mark.parametrize("run", range(20))
def test_echo_in_causal_order_connect_before_accept_send_before_recv(lab: Lab, run: int) -> None:
    stage = Stage(LocalLabs(lab))
    s = stage.begin({"lesson": 1})
    ids = s["lesson"]["ids"]
    stage.act("sendHello", None)
    until(lab, s, lambda ev: of(ev, ids["client"], "recv"))
    order = [(e.endpoint, e.kind) for e in causal(stage_events(lab, s))
             if e.kind in ("connect", "accept", "send", "recv")]
    server, client = ids["server"], ids["client"]
    assert order == [(client, "connect"), (server, "accept"), (client, "send"), (server, "recv"),
                     (server, "send"), (client, "recv")]


@pytest.mark.parametrize("run", range(20))
def test_broadcast_in_causal_order_the_send_before_its_three_recvs(lab: Lab, run: int) -> None:
    stage = Stage(LocalLabs(lab))
    s = stage.begin({"lesson": 9})
    ids = s["lesson"]["ids"]
    stage.act("broadcast", None)
    until(lab, s, lambda ev: sum(len(of(ev, srv, "recv")) for srv in ids["servers"]) == 3)
    order = [(e.endpoint, e.kind) for e in causal(stage_events(lab, s)) if e.kind in ("send", "recv")]
    assert order[0] == (ids["client"], "send") and len(order) == 4
    assert {endpoint for endpoint, _ in order[1:]} == set(ids["servers"])


def test_every_lesson_names_what_carries_its_point_and_whether_it_shows_packets() -> None:
    """The page reads these (GET /api/session "lessons", the stage's lesson): a lesson whose point is in
    the diagram or the log names the kinds of its rows; only the wire lessons draw packets."""
    for lesson in LESSONS.values():
        summary = lesson.summary()
        assert summary["packets"] is (lesson.needs is not None), lesson.n
        rows = summary["point"]["rows"]
        if lesson.view in ("ladder", "log", "split"):
            assert rows, f"lesson {lesson.n} names no rows for its point"
        assert set(rows) <= set(KINDS), rows  # (kinds the kinds registry knows)
    assert LESSONS[13].point.rows == ("send", "packet")  # the one send() and its segments
    assert LESSONS[5].point.cards == ("download",)  # its downloads' chips come first
