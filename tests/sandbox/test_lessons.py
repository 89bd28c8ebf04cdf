"""The five wire lessons in a real sandbox, driven through the REST API as the page drives them."""

from __future__ import annotations

import re
from typing import Any, Callable

import pytest

from ..support import wait_until

LOSS_TIMEOUT = 60  # TCP's backoff after repeated losses of one segment can take seconds (RTO doubles)


def events(api: Any, after: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = api.get(f"/api/events?after={after}&limit=5000").json
        found += page["events"]
        if not page["events"]:
            return found
        after = page["last"]


def begin(api: Any, n: int) -> tuple[dict[str, Any], int]:
    stage = api.post("/api/stage", json={"lesson": n})
    assert stage.status_code == 201, stage.json
    lesson = stage.json["lesson"]
    assert lesson["state"] == "ready", lesson.get("error")
    return lesson["ids"], stage.json["seq"] - 1


def act(api: Any, key: str) -> dict[str, Any]:
    answer = api.post(f"/api/stage/actions/{key}")
    assert answer.status_code == 200, answer.json
    result: dict[str, Any] = answer.json["result"]
    return result


def of(evs: list[dict[str, Any]], endpoint: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in evs if e["endpoint"] == endpoint and e["kind"] == kind]


def test_session_says_sandbox_and_the_lessons_say_what_they_use(api: Any) -> None:
    session = api.get("/api/session").json
    assert session["sandbox"] is True
    lessons = {lesson["n"]: lesson for lesson in session["lessons"]}
    assert lessons[14]["impairment"] == "link" and lessons[8]["impairment"] == "seeded"
    assert {lessons[n]["needs"] for n in (10, 11, 12, 13)} == {"capture"} and lessons[14]["needs"] == "link"


RUNS = 3


def packets(api: Any, seq: int, *endpoints: str) -> list[dict[str, Any]]:
    """The stage's packet events (of these endpoints), when the lab captures; else the test says so."""
    if not api.get("/api/session").json["capture"]:
        pytest.skip("this sandbox's lab does not capture (why_not.capture)")
    return [e for e in events(api, seq) if e["kind"] == "packet" and (not endpoints or e["endpoint"] in endpoints)]


def flags(found: list[dict[str, Any]]) -> list[str]:
    return [e["args"]["flags"] for e in found]


def close_once(api: Any) -> None:
    ids, seq = begin(api, 11)
    client = api.get(f"/api/endpoints/{ids['client']}").json
    first = act(api, "clientCloses")
    # FIN both ways, each acknowledged (on loopback the server's FIN,ACK often acknowledges the client's FIN)
    def after_close() -> list[str]:
        found = flags(packets(api, seq, ids["server"], ids["client"]))
        return found[found.index("FIN,ACK"):] if "FIN,ACK" in found else []
    close = wait_until(lambda: (f := after_close()) and f.count("FIN,ACK") == 2 and f[-1] == "ACK" and f, 5)
    assert set(close) == {"FIN,ACK", "ACK"}, close
    assert first["code"] == "lesson-time-wait-client", first
    assert first["params"]["address"] == f"127.0.0.1:{client['local'][1]}"
    second = act(api, "serverCloses")
    server = api.get(f"/api/endpoints/{ids['server']}").json
    assert second["code"] == "lesson-time-wait-server", second
    assert second["params"]["address"] == f"127.0.0.1:{server['local'][1]}"


def reset_once(api: Any) -> None:
    ids, seq = begin(api, 12)
    refused = act(api, "connectClosed")
    assert refused["code"] == "lesson-refused" and refused["cause"]["code"] == "connection-refused"
    port = api.get("/api/stage").json["lesson"]["ids"]["port"]
    to_closed = wait_until(lambda: len(t := [e for e in packets(api, seq) if port in (e["args"]["dst"][1], e["args"]["src"][1])]) >= 2 and t, 5)
    assert flags(to_closed)[:2] == ["SYN", "RST,ACK"]  # the kernel's refusal, on the wire
    unread = act(api, "closeUnread")
    assert unread["code"] == "lesson-closed-unread" and unread["params"]["bytes"] == len("nobody reads this")
    wait_until(lambda: any(e["closed_by"] == "reset" for e in of(events(api, seq), ids["client"], "close")), 10)
    assert not of(events(api, seq), ids["server"], "recv")  # it never read: that is why the kernel reset
    pair = wait_until(lambda: (f := flags(packets(api, seq, ids["server"], ids["client"]))) and "RST,ACK" in f and f, 5)
    assert pair[-1] == "RST,ACK" and not any(f.startswith("FIN") for f in pair), pair  # RST, never a FIN


def mss_once(api: Any) -> None:
    ids, seq = begin(api, 13)
    result = act(api, "sendBig")
    assert result["code"] == "lesson-big-send" and 0 < result["params"]["mss"] < 200_000
    recvs = wait_until(lambda: (r := of(events(api, seq), ids["server"], "recv"))
                       and sum(e["size"] for e in r) == 200_000 and r, 10)
    assert len(of(events(api, seq), ids["client"], "send")) == 1 and len(recvs) > 1
    data = wait_until(lambda: (d := [e for e in packets(api, seq, ids["client"], ids["server"]) if e["args"]["len"]])
                      and sum(e["args"]["len"] for e in d) >= 200_000 and d, 5)
    # cut to fit the path: no segment carries more than the MTU less the IP and TCP headers
    assert len(data) > 1 and max(e["args"]["len"] for e in data) <= result["params"]["mtu"] - 40


def handshake_once(api: Any) -> None:
    ids, seq = begin(api, 10)
    act(api, "connect")
    [client] = api.get("/api/stage").json["lesson"]["ids"]["clients"]
    wait_until(lambda: of(events(api, seq), ids["server"], "accept") and of(events(api, seq), client, "connect"), 5)
    handshake = wait_until(lambda: (f := flags(packets(api, seq, ids["server"], client))) and len(f) >= 3 and f, 5)
    assert handshake[:3] == ["SYN", "SYN,ACK", "ACK"]
    timeline = [e for e in events(api, seq) if e["kind"] in ("connect", "accept")
                or (e["kind"] == "packet" and e["endpoint"] in (ids["server"], client))]
    kinds = [e["kind"] if e["kind"] != "packet" else e["args"]["flags"] for e in sorted(timeline, key=lambda e: e["ts"])]
    assert kinds.index("connect") < kinds.index("SYN") < kinds.index("SYN,ACK") < kinds.index("ACK") < kinds.index("accept")


@pytest.mark.parametrize("once", [close_once, reset_once, mss_once, handshake_once],
                         ids=["close", "reset", "mss", "handshake"])
def test_wire_lessons_make_their_point_a_few_times_in_a_row(api: Any, once: Callable[[Any], None]) -> None:
    for _ in range(RUNS):
        once(api)


def test_real_loss_tcp_delivers_all_200_in_order_udp_loses_some(api: Any) -> None:
    _ids, seq = begin(api, 14)
    act(api, "run")
    run = api.get("/api/stage").json["lesson"]["run"]
    tcp, udp = run["ids"]["tcpClient"], run["ids"]["udpClient"]
    assert run["settings"]["count"] == 200 and run["settings"]["link"] is True
    messages = wait_until(lambda: (m := of(events(api, seq), tcp, "message")) and len(m) >= 200 and m, LOSS_TIMEOUT)
    assert [e["message"] for e in messages] == list(range(1, 201))  # every one, in order
    # UDP: all 200 sent; on the 20% link some never reached the server, fewer still came back
    wait_until(lambda: len(of(events(api, seq), udp, "send")) == 200, 10)
    server_got = len(of(events(api, seq), run["ids"]["udpServer"], "recv"))
    client_got = len(of(events(api, seq), udp, "recv"))
    assert 0 < client_got <= server_got < 200, (server_got, client_got)
    client = api.get(f"/api/endpoints/{tcp}").json["connection"]["tcp_info"]
    [conn] = api.get(f"/api/endpoints/{run['ids']['tcpServer']}").json["connections"]
    retrans = client["total_retrans"] + conn["tcp_info"]["total_retrans"]
    assert retrans > 0  # TCP really lost segments and sent them again
    packets = [e for e in events(api, seq) if e["kind"] == "packet" and e["endpoint"] in (tcp, run["ids"]["tcpServer"])]
    if api.get("/api/session").json.get("capture"):  # the wire (lab/wire/): the capture marks them too
        assert any((e.get("args") or {}).get("analysis") == "retransmission" for e in packets)


LOSS_RUNS = 5
NUMBER = re.compile(r"^#(\d+) ")


def panel_numbers(evs: list[dict[str, Any]], client: str, kind: str, before: int) -> set[int]:
    """What the comparison panel counts (static/js/views/compare.js): the numbered messages of `client`
    among the events that came before the lab's `settled` event."""
    return {int(m.group(1)) for e in evs if e["endpoint"] == client and e["kind"] == kind and e["seq"] < before
            and (m := NUMBER.match(e.get("data") or ""))}


def test_real_loss_settles_on_the_data_tcp_always_200_of_200(api: Any) -> None:
    """Five runs on one stage: each ends with one `settled` event, never before TCP's last echo,
    however long its retransmissions take; by then the panel holds all 200 TCP messages."""
    _ids, seq = begin(api, 14)
    for _ in range(LOSS_RUNS):
        act(api, "run")
        run = api.get("/api/stage").json["lesson"]["run"]
        tcp, udp = run["ids"]["tcpClient"], run["ids"]["udpClient"]
        [settled] = wait_until(lambda tcp=tcp: of(events(api, seq), tcp, "settled"), LOSS_TIMEOUT)
        args = settled["args"]
        print("settled", args)
        assert args["reason"] == "echoed", args
        evs = events(api, seq)
        assert panel_numbers(evs, tcp, "message", settled["seq"]) == set(range(1, 201))
        got_udp = panel_numbers(evs, udp, "recv", settled["seq"])
        assert len(got_udp) < 200 and got_udp == panel_numbers(evs, udp, "recv", 1 << 62)  # UDP: nothing came later
        tcp_side, udp_side = args["tcp"], args["udp"]
        assert tcp_side["received"] == 200 and tcp_side["retransmits"] > 0 and tcp_side["dropped"] > 0
        assert udp_side["dropped"] > 0 and tcp_side["seconds"] >= udp_side["seconds"] > 0
        last_echo = max(e["ts"] for e in of(evs, tcp, "message"))
        assert settled["ts"] >= last_echo and last_echo - run["started"] <= tcp_side["seconds"] + 0.2
