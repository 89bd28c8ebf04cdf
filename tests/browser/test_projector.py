"""Projector mode and the classroom controls: large type at 1280x720 and 1920x1080 (with the
screenshots a teacher would project), the theme, the shortcuts, pausing and stepping the
diagram, and the focus on one connection."""

from __future__ import annotations

import re
from typing import Any

from ..support import wait_until
from .test_classroom import arrows, bus_events, coalesced_burst, lab_of, show, tcp_pair
from .ui import expect, log_rows, screenshots, wait_ready

# Written to test-artifacts/ on every run; SOCKETLAB_SCREENSHOTS=docs/screenshots refreshes the docs' (make screenshots).
SHOTS = screenshots()
FONT_SIZE = "el => parseFloat(getComputedStyle(el).fontSize)"


def font_px(page: Any, selector: str) -> float:
    """The computed font size of the first element matching `selector` now (the diagram redraws often)."""
    return page.evaluate("s => parseFloat(getComputedStyle(document.querySelector(s)).fontSize)", selector)


def lesson_traffic(lab: Any) -> tuple[Any, Any]:
    """An echo round trip, a coalesced burst, UDP with one datagram lost, and a close."""
    echo, echo_client = tcp_pair(lab, "echo")
    lab.send(echo_client.id, {"data": "Hello, class!"})
    server, client = coalesced_burst(lab)
    lab.send(server.id, {"data": "OK\n"})
    udp = lab.create({"kind": "udp-server", "host": "127.0.0.1", "port": 0, "mode": "echo"})
    udp_client = lab.create({"kind": "udp-client", "host": "127.0.0.1", "port": udp.local[1],
                             "impair": {"loss": 0.5, "seed": 7}})
    for n in range(4):
        lab.send(udp_client.id, {"data": f"ping {n}"})
    lab.remove(echo_client.id)
    return server, client


def test_projector_mode_is_large_at_1280_and_1920(open_page: Any, live_server: Any) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    server, client = lesson_traffic(lab_of(live_server))
    page = open_page("?view=projector")
    expect(page.locator("html")).to_have_class(re.compile(r"\bprojector\b"))
    expect(page.get_by_test_id("projector-toggle")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("create-form")).to_be_hidden()  # the forms make room
    expect(log_rows(page, "recv", client.id)).to_have_count(1)

    for width, height in ((1280, 720), (1920, 1080)):
        page.set_viewport_size({"width": width, "height": height})
        show(page, "log")
        assert page.locator("body").evaluate(FONT_SIZE) >= 20
        assert font_px(page, "#log-body td") >= 20
        show(page, "ladder")
        expect(page.get_by_test_id("ladder-recv").first).to_be_visible()
        assert page.get_by_test_id("ladder").evaluate(FONT_SIZE) >= 20
        assert font_px(page, ".lane-head .lane-kind") >= 20
        assert page.get_by_test_id("view-ladder").evaluate(FONT_SIZE) >= 20
    # 1920x1080: the whole lab in the diagram; 1280x720: one connection, diagram and log side by side
    page.locator("#ladder-scroll").evaluate("el => el.scrollTop = el.scrollHeight")
    page.screenshot(path=str(SHOTS / "projector-1920.png"))
    page.get_by_test_id("focus-select").select_option(f"{server.id}/c1")
    expect(page.get_by_test_id("classroom")).to_have_attribute("data-view", "split")
    expect(page.locator('[data-testid="ladder-lane"]')).to_have_count(2)
    page.locator("#pane-ladder").screenshot(path=str(SHOTS / "ladder.png"))
    page.set_viewport_size({"width": 1280, "height": 720})
    page.locator("#ladder-scroll").evaluate("el => el.scrollTop = el.scrollHeight")
    assert page.locator("body").evaluate(FONT_SIZE) >= 20
    page.screenshot(path=str(SHOTS / "projector-1280.png"))


def test_projector_button_theme_and_shortcuts(page: Any) -> None:
    html = page.locator("html")
    page.get_by_test_id("projector-toggle").click()
    expect(html).to_have_class(re.compile(r"\bprojector\b"))
    assert "view=projector" in page.url
    page.keyboard.press("p")
    expect(html).not_to_have_class(re.compile(r"\bprojector\b"))
    assert "view=projector" not in page.url

    page.keyboard.press("t")
    expect(html).to_have_attribute("data-theme", "dark")
    page.reload()
    wait_ready(page)
    expect(html).to_have_attribute("data-theme", "dark")  # remembered
    assert page.locator("body").evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(7, 11, 22)"
    page.get_by_test_id("theme-toggle").click()
    expect(html).to_have_attribute("data-theme", "light")

    page.keyboard.press("?")
    dialog = page.get_by_test_id("shortcuts-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("shortcut")).to_have_count(12)  # ("j": the Join panel, "c": high contrast among them)
    for key in ("p", "t", "n", "f", "/", "l", "Esc"):
        expect(dialog.locator("kbd", has_text=re.compile(f"^{re.escape(key)}$"))).to_have_count(1)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.get_by_test_id("shortcuts-open").click()
    expect(dialog).to_be_visible()
    dialog.get_by_test_id("shortcuts-close").click()
    expect(dialog).to_be_hidden()

    for key, view in (("2", "ladder"), ("3", "split"), ("4", "numbers"), ("1", "log")):
        page.keyboard.press(key)
        expect(page.get_by_test_id("classroom")).to_have_attribute("data-view", view)
    page.keyboard.press("/")
    expect(page.get_by_test_id("log-search")).to_be_focused()
    page.keyboard.type("p")  # typing is typing: no shortcut
    expect(html).not_to_have_class(re.compile(r"\bprojector\b"))
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("log-search")).not_to_be_focused()
    page.keyboard.press("l")
    expect(page.get_by_test_id("view-log")).to_have_text("日志")
    page.keyboard.press("l")
    expect(page.get_by_test_id("view-log")).to_have_text("Log")


def test_pause_queues_events_and_step_adds_one(page: Any, live_server: Any) -> None:
    lab = lab_of(live_server)
    server, client = tcp_pair(lab)
    show(page, "ladder")
    expect(page.get_by_test_id("ladder-accept")).to_have_count(1)
    page.keyboard.press(" ")
    expect(page.get_by_test_id("ladder-pause")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("ladder-pause")).to_have_text("Resume")
    for n, data in enumerate(("one", "two"), 1):  # one at a time: two recvs, not one coalesced
        lab.send(client.id, {"data": data})
        wait_until(lambda n=n: len(bus_events(lab, "recv", server.id)) == n)
    queued = page.get_by_test_id("ladder-queued")
    wait_until(lambda: int(queued.get_attribute("data-count") or 0) >= 4)  # 2 sends, 2 recvs
    expect(queued).to_contain_text("Paused")
    expect(page.get_by_test_id("ladder-send")).to_have_count(0)
    page.keyboard.press("n")
    expect(page.get_by_test_id("ladder-send")).to_have_count(1)
    expect(page.locator('[data-testid="ladder-arrow"][data-kind="data"]')).to_have_count(0)
    page.get_by_test_id("ladder-step").click()
    expect(page.get_by_test_id("ladder-recv")).to_have_count(1)
    expect(page.locator('[data-testid="ladder-arrow"][data-kind="data"]')).to_have_count(1)
    page.get_by_test_id("ladder-pause").click()  # Resume: everything queued is drawn
    expect(page.locator('[data-testid="ladder-arrow"][data-kind="data"]')).to_have_count(2)
    expect(queued).to_be_hidden()
    assert [a[2] for a in arrows(page)] == [3, 3]


def test_focus_on_one_connection(page: Any, live_server: Any) -> None:
    lab = lab_of(live_server)
    first, first_client = tcp_pair(lab)
    second, second_client = tcp_pair(lab)
    lab.send(first_client.id, {"data": "first"})
    lab.send(second_client.id, {"data": "second"})
    show(page, "ladder")
    expect(page.locator('[data-testid="ladder-arrow"][data-kind="data"]')).to_have_count(2)
    page.keyboard.press("f")
    expect(page.get_by_test_id("focus-select")).to_have_value(f"{first.id}/c1")
    expect(page.get_by_test_id("classroom")).to_have_attribute("data-view", "split")
    lanes = page.locator('[data-testid="ladder-lane"]')
    expect(lanes).to_have_count(2)
    assert set(lanes.evaluate_all("els => els.map(e => e.dataset.lane)")) == {f"{first.id}/c1", first_client.id}
    expect(page.locator('[data-testid="ladder-arrow"][data-kind="data"]')).to_have_count(1)
    assert set(log_rows(page).evaluate_all("rows => rows.map(r => r.dataset.endpoint)")) == {first.id, first_client.id}
    page.keyboard.press("f")
    expect(page.get_by_test_id("focus-select")).to_have_value(f"{second.id}/c1")
    expect(log_rows(page, "recv", second.id)).to_have_count(1)
    expect(log_rows(page, "recv", first.id)).to_have_count(0)
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("focus-select")).to_have_value("")
    expect(page.get_by_test_id("classroom")).to_have_attribute("data-view", "ladder")
    expect(page.locator('[data-testid="ladder-arrow"][data-kind="data"]')).to_have_count(2)
