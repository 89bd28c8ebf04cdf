"""The views of the current stage: after "New stage" the diagram and the Focus
list show only the new stage's sockets, the log keeps the earlier rows (dimmed, marked with their
stage) below a divider, and a reload shows the same; a closed socket's lane leaves the diagram a
few seconds later; the log is in causal order (connect before accept, send before recv).

Stages are begun through the API (POST /api/stage) and sockets made with the lab directly: what is
tested is what the page shows from the events.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import pytest

from ..conftest import RUNNERS, WITH_SANDBOX
from ..support import wait_until

from .test_classroom import lab_of, show, tcp_pair
from .ui import expect


def begin_stage(page: Any, live_server: Any, lesson: int | None = None) -> dict[str, Any]:
    answer = page.request.post(f"{live_server.url}/api/stage", data={"lesson": lesson})
    assert answer.status == HTTPStatus.CREATED, answer.text()
    stage: dict[str, Any] = answer.json()
    return stage


def lanes_drawn(page: Any) -> set[str]:
    return set(page.get_by_test_id("ladder-lane").evaluate_all("els => els.map(e => e.dataset.lane)"))


def focus_choices(page: Any) -> set[str]:
    page.get_by_test_id("focus-select").focus()  # the menu is filled when it is opened
    values = page.get_by_test_id("focus-select").evaluate("el => [...el.options].map(o => o.value)")
    return {v for v in values if v}


def echo_once(lab: Any, server: Any, client: Any, data: str) -> None:
    received = sum(e.size for e in lab.bus.since(0, 100_000)[0] if e.kind == "recv" and e.endpoint == client.id)
    lab.send(client.id, {"data": data})
    wait_until(lambda: sum(e.size for e in lab.bus.since(0, 100_000)[0]
                           if e.kind == "recv" and e.endpoint == client.id) == received + len(data))


@pytest.mark.parametrize("app", RUNNERS, indirect=True)
def test_a_new_stage_shows_only_its_own_sockets_and_marks_the_earlier_log(page: Any, live_server: Any) -> None:
    lab = lab_of(live_server)
    show(page, "split")
    old_server, old_client = tcp_pair(lab, mode="echo")
    echo_once(lab, old_server, old_client, "first")
    old_lanes = {old_server.id, f"{old_server.id}/c1", old_client.id}
    wait_until(lambda: old_lanes <= lanes_drawn(page))
    stage = begin_stage(page, live_server)
    server, client = tcp_pair(lab, mode="echo")
    echo_once(lab, server, client, "second")
    new_lanes = {server.id, f"{server.id}/c1", client.id}

    def shows_only_the_new_stage(where: Any) -> None:
        wait_until(lambda: lanes_drawn(where) == new_lanes, timeout=10)
        assert focus_choices(where) and focus_choices(where) <= new_lanes
        divider = where.get_by_test_id("stage-divider")
        expect(divider).to_have_count(1)
        expect(divider).to_have_attribute("data-stage", str(stage["stage"]))
        expect(divider).to_have_text(f"Stage {stage['stage']} · New stage")
        earlier = where.locator('[data-testid="event-row"].earlier-stage')
        expect(earlier.first).to_be_visible()
        # (the log builds only the rows near its view: over an agent, which adds rows of its own, fewer of
        # the earlier stage's are built; its "lab agent is up" row is of the lab, no socket's)
        assert set(earlier.evaluate_all("els => els.map(e => e.dataset.endpoint)")) - {""} <= {old_server.id, old_client.id}
        assert set(earlier.evaluate_all("els => els.map(e => e.dataset.stage)")) == {str(stage["stage"] - 1)}
        current = where.locator('[data-testid="event-row"]:not(.earlier-stage)')
        assert set(current.evaluate_all("els => els.map(e => e.dataset.endpoint)")) == {server.id, client.id}
        # the divider sits between the two stages' rows
        order = where.locator('#log-body tr[data-seq]').evaluate_all(
            "els => els.map(e => e.dataset.testid === 'stage-divider' ? 'divider' : e.classList.contains('earlier-stage') ? 'old' : 'new')")
        assert order == sorted(order, key=["old", "divider", "new"].index), order
        # the log's filters keep working: one socket of the current stage, the divider still says where it is
        where.get_by_test_id("filter-endpoint").select_option(client.id)
        expect(where.locator('[data-testid="event-row"].earlier-stage')).to_have_count(0)
        expect(where.get_by_test_id("stage-divider")).to_have_count(1)
        assert set(where.get_by_test_id("event-row").evaluate_all("els => els.map(e => e.dataset.endpoint)")) == {client.id}
        where.get_by_test_id("filter-endpoint").select_option("")

    shows_only_the_new_stage(page)
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    shows_only_the_new_stage(page)


@pytest.mark.parametrize("app", RUNNERS, indirect=True)
def test_a_closed_socket_leaves_the_diagram_and_the_numbers(page: Any, live_server: Any) -> None:
    lab = lab_of(live_server)
    show(page, "ladder")
    server, client = tcp_pair(lab, mode="echo")
    echo_once(lab, server, client, "hello")
    wait_until(lambda: {server.id, f"{server.id}/c1", client.id} <= lanes_drawn(page))
    lab.remove(client.id)
    # the client's lane and the connection that saw it close leave within ~10 s; the server stays
    wait_until(lambda: lanes_drawn(page) == {server.id}, timeout=12)
    for lane in (client.id, f"{server.id}/c1"):
        expect(page.locator(f'#ladder g.row[data-lane="{lane}"]')).to_have_count(0)
    expect(page.locator('[data-testid="ladder-arrow"]')).to_have_count(0)
    assert focus_choices(page) == set()
    show(page, "numbers")
    expect(page.locator(f'[data-testid="counter-row"][data-lane="{client.id}"]')).to_have_count(0)
    expect(page.locator(f'[data-testid="counter-row"][data-lane="{server.id}"]')).to_have_count(1)


@pytest.mark.parametrize("app", RUNNERS, indirect=True)
def test_the_echo_lessons_log_shows_connect_before_accept_and_send_before_recv(page: Any, live_server: Any) -> None:
    begin_stage(page, live_server, lesson=1)
    stage = wait_until(lambda: (s := page.request.get(f"{live_server.url}/api/stage").json())["lesson"]["state"] == "ready" and s,
                       timeout=10)
    client, server = stage["lesson"]["ids"]["client"], stage["lesson"]["ids"]["server"]
    show(page, "log")  # the lesson opens the diagram, its view; the order is read in the log
    for n in range(1, 6):  # one hello at a time: its echo is back before the next is sent
        answer = page.request.post(f"{live_server.url}/api/stage/actions/sendHello", data={})
        assert answer.status == HTTPStatus.OK, answer.text()
        expect(page.locator(f'[data-testid="event-row"][data-kind="recv"][data-endpoint="{client}"]')).to_have_count(n)
    rows = page.locator('#log-body tr[data-seq]').evaluate_all(
        "els => els.map(e => [Number(e.dataset.seq), e.dataset.kind, e.dataset.endpoint])")
    kinds = [(kind, endpoint) for _, kind, endpoint in rows]
    assert kinds.index(("connect", client)) < kinds.index(("accept", server))
    # each hello: the client's send, then the server's recv, its send back, then the client's recv
    hellos = [k for k in kinds if k[0] in ("send", "recv")]
    assert hellos == [("send", client), ("recv", server), ("send", server), ("recv", client)] * 5, hellos
    # and the whole log is sorted by (ts, seq) within the stage, as the server stamped the events
    stamped = {e["seq"]: e["ts"] for e in page.request.get(f"{live_server.url}/api/events?after=0&limit=10000").json()["events"]}
    after_divider = [seq for seq, kind, _ in rows if kind != "stage" and seq > stage["seq"]]
    assert after_divider == sorted(after_divider, key=lambda seq: (stamped[seq], seq))


def ids_of(stage: dict[str, Any]) -> set[str]:
    """The endpoint and download ids a lesson's stage names."""
    found: set[str] = set()
    for value in stage["lesson"]["ids"].values():
        found |= {v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)}
    return found


def act(page: Any, live_server: Any, key: str) -> None:
    answer = page.request.post(f"{live_server.url}/api/stage/actions/{key}", data={})
    assert answer.status == HTTPStatus.OK, answer.text()


@pytest.mark.parametrize("app", WITH_SANDBOX, indirect=True)
def test_after_one_lesson_the_next_draws_no_lane_of_it_then_or_later(page: Any, live_server: Any) -> None:
    """Lesson 2's eight lanes, then lesson 10; lesson 10's handshake, then lesson 5's downloads, then
    lesson 11: each lesson's diagram holds only its own lanes when it is ready and 6 s later (past the
    5 s a closed lane lingers), whatever runs the lab: no struck-through lane of the lesson before, no
    "outside the lab" lane for its closing packets, no finished download of it."""
    show(page, "ladder")

    def only_its_own(before: set[str], stage: dict[str, Any]) -> None:
        own = ids_of(stage)
        try:
            wait_until(lambda: lanes_drawn(page) and {lane.split("/")[0] for lane in lanes_drawn(page)} <= own, timeout=10)
        except AssertionError:
            raise AssertionError(f"lesson {stage['lesson']['n']} draws {sorted(lanes_drawn(page))}; its own: {sorted(own)}") from None
        page.wait_for_timeout(300)  # (what the lesson before still sends has arrived)
        drawn = lanes_drawn(page)
        assert not {lane.split("/")[0] for lane in drawn} & before, drawn
        assert not [lane for lane in drawn if lane.startswith("ext ")], drawn
        # the diagram has swept past the 5 s a closed lane lingers (its clock: the server's)
        past = page.evaluate("() => Number(document.getElementById('ladder').dataset.swept)") + 6
        page.wait_for_function("(t) => Number(document.getElementById('ladder').dataset.swept) >= t", arg=past,
                               timeout=15_000)
        later = lanes_drawn(page)
        assert {lane.split("/")[0] for lane in later} <= own, later

    two = begin_stage(page, live_server, lesson=2)
    act(page, live_server, "oneMore")
    act(page, live_server, "sendAll")
    wait_until(lambda: len(lanes_drawn(page)) >= 9, timeout=10)  # the server, four clients, four connections
    two = page.request.get(f"{live_server.url}/api/stage").json()
    ten = begin_stage(page, live_server, lesson=10)
    only_its_own(ids_of(two), ten)
    act(page, live_server, "connect")
    five = begin_stage(page, live_server, lesson=5)
    expect(page.get_by_test_id("classroom")).to_have_attribute("data-view", "log")  # (the lesson's view)
    show(page, "split")  # (the diagram beside the log)
    act(page, live_server, "downloadRaw")
    act(page, live_server, "downloadFramed")
    wait_until(lambda: all(d["state"] == "done" for d in page.request.get(f"{live_server.url}/api/downloads").json()),
               timeout=20)
    five = page.request.get(f"{live_server.url}/api/stage").json()
    wait_until(lambda: set(five["lesson"]["ids"]["downloads"]) <= lanes_drawn(page), timeout=10)
    eleven = begin_stage(page, live_server, lesson=11)
    only_its_own(ids_of(five) | ids_of(page.request.get(f"{live_server.url}/api/stage").json()) - ids_of(eleven), eleven)


def test_a_replayed_recording_resets_at_its_stage_and_logs_causes_first(page: Any, tmp_path: Any) -> None:
    # a recording made elsewhere, numbered as the lab's threads recorded it: in stage 4 the accept
    # and the server's recv were recorded (numbered) before the connect and the send that caused them
    start = 1_700_000_000.0
    server, client = ["127.0.0.1", 5000], ["127.0.0.1", 40000]
    lines: list[dict[str, Any]] = []

    def add(kind: str, endpoint: str, ts: float, **fields: Any) -> None:
        lines.append({"seq": len(lines) + 1, "ts": start + ts, "endpoint": endpoint, "proto": "tcp", "kind": kind,
                      "conn": None, "local": None, "peer": None, "size": 0, "detail": "", **fields})

    add("listen", "e1", 0.0, local=server)  # stage 3
    add("stage", "", 1.0, proto="", params={"stage": 4, "lesson": {"n": 1, "key": "echo", "text": {
        "en": {"title": "TCP echo"}, "zh": {"title": "TCP 回显"}}}})
    add("listen", "e5", 1.1, local=server)
    add("accept", "e5", 1.2004, conn="c1", local=server, peer=client)
    add("connect", "e6", 1.2001, local=client, peer=server)
    add("recv", "e5", 1.3004, conn="c1", local=server, peer=client, size=5, data="hello")
    add("send", "e6", 1.3001, local=client, peer=server, size=5, data="hello")
    path = tmp_path / "stages.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    show(page, "split")
    page.get_by_test_id("replay-file").set_input_files(str(path))
    page.get_by_test_id("replay-speed").select_option("instant")
    expect(page.get_by_test_id("replay-progress")).to_have_text(f"Finished: {len(lines)} events")
    wait_until(lambda: lanes_drawn(page) == {"e5", "e5/c1", "e6"})
    expect(page.get_by_test_id("stage-divider")).to_have_text("Stage 4 · Lesson 1: TCP echo")
    rows = page.locator("#log-body tr[data-seq]").evaluate_all("els => els.map(e => [e.dataset.kind, e.dataset.stage])")
    assert rows == [["listen", "3"], ["stage", "4"], ["listen", "4"], ["connect", "4"], ["accept", "4"],
                    ["send", "4"], ["recv", "4"]], rows
