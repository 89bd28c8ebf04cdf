"""Record and replay: export the events as JSON Lines and CSV, import the JSONL file and replay it
with no sockets involved, and get the same diagram and numbers; live events wait for "back to live"."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from ..support import wait_until
from .test_classroom import bus_events, coalesced_burst, lab_of, logged, show, tcp_pair
from .ui import expect, log_rows

ALL_ARROWS = """els => els.map(e => [e.dataset.kind, Number(e.dataset.send), Number(e.dataset.recv), Number(e.dataset.bytes)])"""
NUMBERS = """rows => rows.map(r => [r.dataset.lane, ...[...r.querySelectorAll('td[data-key^="bytes"], td[data-key^="msgs"], td[data-key="lost"]')].map(td => td.textContent)])"""


def diagram(page: Any) -> dict[str, Any]:
    return {
        "arrows": page.get_by_test_id("ladder-arrow").evaluate_all(ALL_ARROWS),
        "lost": page.get_by_test_id("ladder-lost-x").count(),
        "lanes": page.get_by_test_id("ladder-lane").evaluate_all("els => els.map(e => e.dataset.lane)"),
    }


def numbers(page: Any) -> list[Any]:
    show(page, "numbers")
    expect(page.get_by_test_id("counter-row").first).to_be_visible()
    rows = page.get_by_test_id("counter-row").evaluate_all(NUMBERS)
    show(page, "ladder")
    return rows


def export(page: Any, what: str, folder: Path) -> Path:
    page.get_by_test_id("record-menu").locator("summary").click()
    with page.expect_download() as download:
        page.get_by_test_id(f"export-{what}").click()
    path = folder / download.value.suggested_filename
    download.value.save_as(path)
    return path


def recorded_lesson(lab: Any) -> None:
    server, client = coalesced_burst(lab)
    lab.send(client.id, {"data": "=1+1, \"quoted\"\n"})  # a formula and quotes, for the CSV
    udp = lab.create({"kind": "udp-server", "host": "127.0.0.1", "port": 0, "mode": "echo"})
    udp_client = lab.create({"kind": "udp-client", "host": "127.0.0.1", "port": udp.local[1], "impair": {"loss": 0.5, "seed": 2}})
    for n in range(6):
        lab.send(udp_client.id, {"data": f"d{n}"})
    # every datagram that was not lost is echoed back, and both sides closed, before the recording is
    # compared (all six sendto() calls are done: the client's send events are final)
    sent = len(bus_events(lab, "send", udp_client.id))
    wait_until(lambda: len(bus_events(lab, "recv", udp.id)) == len(bus_events(lab, "send", udp.id))
               == len(bus_events(lab, "recv", udp_client.id)) == sent > 0)
    lab.remove(client.id)
    wait_until(lambda: bus_events(lab, "close", server.id))


def test_export_import_and_replay_reproduce_the_diagram(page: Any, live_server: Any, tmp_path: Path) -> None:
    lab = lab_of(live_server)
    recorded_lesson(lab)
    shown = len(logged(lab))  # the log shows every event but the `state` snapshots
    expect(page.get_by_test_id("log-count")).to_have_text(f"{shown} events")
    show(page, "ladder")
    # the teacher's choice of view is recorded too (a `classroom` event, for the viewers who follow)
    stage = live_server.app.extensions["socketlab_stage"]
    wait_until(lambda: stage.to_json()["teacher"]["view"] == "ladder")
    total = lab.bus.last_seq
    expect(page.locator('[data-testid="ladder-arrow"][data-kind="fin"]')).to_have_count(1)
    live = diagram(page)
    live_rows = page.locator("#ladder").get_attribute("data-rows")
    live_numbers = numbers(page)
    assert live["lost"] >= 1 and any(a[0] == "udp" for a in live["arrows"])

    jsonl = export(page, "jsonl", tmp_path)
    assert jsonl.name.endswith(".jsonl")
    lines = jsonl.read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["seq"] for e in events] == list(range(1, total + 1))
    assert set(events[0]) == {"seq", "ts", "endpoint", "conn", "proto", "kind", "local", "peer", "size", "data", "hex", "detail",
                              "call", "args", "result", "closed_by", "errno", "code", "params", "message", "framing", "state"}

    table = list(csv.reader(io.StringIO(export(page, "csv", tmp_path).read_text(encoding="utf-8"))))
    assert table[0][:4] == ["iso_time", "seq", "ts", "endpoint"] and len(table) == total + 1
    assert "'=1+1, \"quoted\"\n" in [row[table[0].index("data")] for row in table]  # no formula for a spreadsheet

    page.get_by_test_id("replay-file").set_input_files(str(jsonl))
    expect(page.get_by_test_id("replay-bar")).to_be_visible()
    expect(page.get_by_test_id("replay-badge")).to_be_visible()
    expect(page.get_by_test_id("replay-bar")).to_contain_text("Replay, not live:")
    page.get_by_test_id("replay-speed").select_option("instant")
    expect(page.get_by_test_id("replay-progress")).to_have_text(f"Finished: {total} events")
    expect(page.locator('[data-testid="ladder-arrow"][data-kind="fin"]')).to_have_count(1)
    # all at once is a flood to the diagram: the newest rows first, every row once it is calm
    expect(page.locator("#ladder")).to_have_attribute("data-rows", live_rows or "")
    assert diagram(page) == live
    assert numbers(page) == live_numbers
    expect(page.get_by_test_id("log-count")).to_have_text(f"{shown} events")

    # no socket is needed: live traffic meanwhile waits apart, and comes back with "back to live"
    server, client = tcp_pair(lab)
    lab.send(client.id, {"data": "while replaying"})
    expect(page.get_by_test_id("replay-bar")).to_contain_text("live events waiting")
    assert diagram(page) == live
    page.get_by_test_id("replay-live").click()
    expect(page.get_by_test_id("replay-bar")).to_be_hidden()
    expect(page.get_by_test_id("replay-badge")).to_be_hidden()
    expect(page.locator(f'[data-testid="ladder-recv"][data-lane="{server.id}/c1"][data-bytes="15"]')).to_have_count(1)
    show(page, "log")
    expect(log_rows(page, "recv", server.id, 15)).to_have_count(1)
    expect(page.get_by_test_id("log-count")).to_have_text(f"{len(logged(lab))} events")


def test_replay_plays_in_time_and_skips_bad_lines(page: Any, live_server: Any, tmp_path: Path) -> None:
    # a recording made elsewhere: 4 datagrams from a client to a server, 0.4 s apart, and junk
    start = 1_700_000_000.0
    events = []
    for n in range(4):
        for kind, ep, local, peer in (("send", "e2", 50001, 50000), ("recv", "e1", 50000, 50001)):
            events.append({"seq": len(events) + 1, "ts": start + 0.4 * n + (0.001 if kind == "recv" else 0),
                           "endpoint": ep, "conn": None, "proto": "udp", "kind": kind,
                           "local": ["127.0.0.1", local], "peer": ["127.0.0.1", peer], "size": 2,
                           "data": f"d{n}", "hex": f"64 3{n}", "detail": f"{kind} #{n}"})
    path = tmp_path / "lesson.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\nnot json\n{\"kind\": 3}\n", encoding="utf-8")
    show(page, "ladder")
    page.get_by_test_id("replay-file").set_input_files(str(path))
    expect(page.get_by_test_id("replay-problem")).to_have_text("2 lines were not events and were skipped.")
    progress = page.get_by_test_id("replay-progress")
    expect(progress).to_contain_text("of 8 events")  # 1x: 1.2 s of events, not all at once
    assert int(progress.get_attribute("data-played")) < 8
    expect(progress).to_have_text("Finished: 8 events")
    expect(page.locator('[data-testid="ladder-arrow"][data-kind="udp"]')).to_have_count(4)
    assert [a[3] for a in diagram(page)["arrows"]] == [2, 2, 2, 2]
    page.get_by_test_id("replay-play").click()  # play again, at 5x
    page.get_by_test_id("replay-speed").select_option("5")
    expect(progress).to_have_text("Finished: 8 events")
    expect(page.locator('[data-testid="ladder-arrow"][data-kind="udp"]')).to_have_count(4)
    assert not bus_events(lab_of(live_server), "send", "e2")  # all of it without a socket
    page.get_by_test_id("replay-live").click()
    expect(page.locator("#ladder-empty")).to_be_visible()  # live: this lab has no sockets
