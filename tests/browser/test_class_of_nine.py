"""The class of nine: a teacher gives the nine lessons in a row on a
projector (?view=projector) at 1280x720 and at 1024x768, in English and in Chinese, while a student
watches through the view link in a page beside it. After each lesson's buttons are pressed, on BOTH
pages: what carries the lesson's point (the arrows, rows or counters its banner names) is wholly on
screen and not covered, the lesson's main view has at least 55% of the screen, the header, banner,
chips and classroom panel do not overlap, and the student sees the teacher's lesson, view and
nothing of an earlier lesson's sockets. In the middle of lesson 5, a reload, a second tab and a late
viewer land in lesson 5. Screenshots of both pages go to $SOCKETLAB_SHOTS_K (default /tmp/shots/K)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from webapp.auth import Access

from ..support import wait_until
from .conftest import PageProblems
from .test_lessons import start_lesson
from .test_projector_layout import MAIN_VIEW_SHARE, VISIBLE_BOX, overlap, with_box
from .ui import expect, wait_ready

CONTROL, VIEW = "control-n1ne", "view-n1ne"
SHOTS = Path(os.environ.get("SOCKETLAB_SHOTS_K", "/tmp/shots/K"))
LOCALES = {"en": "en-US", "zh": "zh-CN"}
EDGE_PX = 0.5  # rounding of fractional boxes
SHARES: dict[str, float] = {}  # "<size> <lang> <lesson> <page>" -> main view's share, printed at the end

# What a page shows, measured in one go: the main view's share of the viewport (the shown panes of
# #classroom, or the comparison dialog when it is open), and the boxes of the four regions.
MEASURE = with_box("""
() => {
  const shown = (el) => el && el.getClientRects().length > 0;
  const dialog = document.querySelector('[data-testid="compare-panel"]');
  const main = dialog && dialog.open ? [dialog]
    : [...document.querySelectorAll("#pane-log, #pane-ladder, #pane-numbers")].filter(shown);
  const area = main.map(visibleBox).reduce((sum, b) => sum + b.area, 0);
  const named = { header: ".topbar", banner: "#lesson-banner", chips: ".sockets-panel", classroom: "#classroom" };
  const boxes = {};
  for (const [name, sel] of Object.entries(named)) {
    const el = document.querySelector(sel);
    if (shown(el)) { const r = el.getBoundingClientRect(); boxes[name] = [r.left, r.top, r.right, r.bottom]; }
  }
  return { share: area / (innerWidth * innerHeight), boxes, width: innerWidth, height: innerHeight };
}
""")

# Each element matched by `selector`: its box, whether all of it can be seen (clipped by scrollers and
# by the viewport), and whether the element at its centre belongs to it (nothing lies on top of it).
IN_SIGHT = "(selector) => {" + VISIBLE_BOX + """return [...document.querySelectorAll(selector)].map((el) => {
    const r = el.getBoundingClientRect();
    const area = Math.max(0, r.width) * Math.max(0, r.height);
    const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
    // an SVG mark is hit through its drawing (the svg, a line beside it): what counts is that the
    // point belongs to the same view, not to a banner, chip, header or popup lying over it
    const home = (node) => node && node.closest("#pane-log, #pane-ladder, #pane-numbers, dialog, #lesson-banner");
    const uncovered = !!hit && (el.contains(hit) || hit.contains(el) || (!!home(el) && home(hit) === home(el)));
    return { box: [r.left, r.top, r.right, r.bottom], whole: area > 0 && visibleBox(el).area >= area - 1, uncovered,
             text: (el.textContent || el.dataset.lane || "").trim().slice(0, 60) };
  });
}"""


def assert_in_sight(page: Any, selector: str, where: str, count: int | None = None) -> None:
    """Every element matching `selector` is wholly on screen and not covered (at least one, or `count`)."""
    def settled() -> list[dict[str, Any]] | None:  # the page draws in animation frames: give it a moment
        found: list[dict[str, Any]] = page.evaluate(IN_SIGHT, selector)
        return found if found and all(i["whole"] and i["uncovered"] for i in found) else None

    try:
        wait_until(settled, timeout=3)
    except AssertionError:
        pass  # said precisely below
    found = page.evaluate(IN_SIGHT, selector)
    if count is None:
        assert found, f"{where}: nothing matches {selector}"
    else:
        assert len(found) == count, f"{where}: {len(found)} of {selector}, not {count}"
    for item in found:
        assert item["whole"], f"{where}: {selector} ({item['text']!r}) is not wholly on screen: {item['box']}"
        assert item["uncovered"], f"{where}: {selector} ({item['text']!r}) is covered by something else"


def assert_room(page: Any, where: str) -> float:
    """The main view has its share of the screen and the four regions do not overlap; returns the share."""
    m = page.evaluate(MEASURE)
    assert m["share"] >= MAIN_VIEW_SHARE, f"{where}: the main view has {m['share']:.0%} of the screen, not 55%"
    boxes = m["boxes"]
    assert {"header", "banner", "classroom"} <= set(boxes), f"{where}: regions missing: {boxes}"
    names = sorted(boxes)
    for i, a in enumerate(names):
        left, top, right, bottom = boxes[a]
        assert left >= -EDGE_PX and top >= -EDGE_PX, f"{where}: {a} leaves the screen: {boxes[a]}"
        assert right <= m["width"] + EDGE_PX and bottom <= m["height"] + EDGE_PX, f"{where}: {a} leaves the screen: {boxes[a]}"
        for b in names[i + 1:]:
            assert overlap(boxes[a], boxes[b]) <= 1, f"{where}: {a} overlaps {b}: {boxes[a]} {boxes[b]}"
    share: float = m["share"]
    return share


# The lanes the shown views draw: the diagram's lanes and the Numbers view's rows (a hidden view is
# drawn again when it is shown, so what it held while hidden is not on screen).
LANES_SHOWN = """() => [["#pane-ladder", '[data-testid="ladder-lane"]'], ["#pane-numbers", '[data-testid="counter-row"]']]
  .filter(([pane]) => !document.querySelector(pane).hidden)
  .flatMap(([pane, lane]) => [...document.querySelectorAll(`${pane} ${lane}`)].map((el) => el.dataset.lane))"""


def lanes_shown(page: Any) -> list[str]:
    return list(page.evaluate(LANES_SHOWN))


def stage_of(server: Any) -> dict[str, Any]:
    stage: dict[str, Any] = server.app.extensions["socketlab_stage"].to_json()
    return stage


def endpoints_so_far(server: Any) -> set[str]:
    """Every endpoint id any event has named so far (the lab never reuses one)."""
    events = server.app.extensions["socketlab"].bus.since(0, 1_000_000)[0]
    return {e.endpoint for e in events if e.endpoint}


@pytest.fixture
def classroom(live_server: Any) -> Any:
    """The live dashboard with a control token and a view token, as in a classroom."""
    live_server.app.config["ACCESS"] = Access(CONTROL, VIEW)
    return live_server


@pytest.fixture
def room(browser: Any, classroom: Any) -> Iterator[Callable[[int, int, str, str], Any]]:
    """room(width, height, lang, token) -> a page in projector mode, in a browser context of its own."""
    contexts: list[Any] = []
    problems = PageProblems()

    def open_(width: int, height: int, lang: str, token: str) -> Any:
        ctx = browser.new_context(viewport={"width": width, "height": height}, locale=LOCALES[lang])
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("console", problems.console)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.goto(f"{classroom.url}/?view=projector&token={token}")
        wait_ready(page)
        expect(page.locator("html")).to_have_attribute("lang", re.compile("^" + lang))
        return page

    yield open_
    for ctx in contexts:
        ctx.close()
    assert not problems, "a page reported problems:\n" + "\n".join(problems)


# -- the nine lessons, pressed as a teacher would; each returns what carries its point ----------------

Points = list[tuple[str, int]]  # (selector, how many of it) that must be in sight on both pages


def press(banner: Any, key: str) -> None:
    """Press one of the banner's action buttons and wait until the stage counts it."""
    before = int(banner.get_by_test_id("lesson-step").get_attribute("data-step") or 0)
    banner.locator(f'[data-testid="lesson-action"][data-action="{key}"]').click()
    expect(banner.get_by_test_id("lesson-step")).to_have_attribute("data-step", str(before + 1))


def row(role: str, lane: str, bytes_: int | None = None) -> str:
    """A mark of the diagram: its role (send, recv, close, ...) on one lane."""
    size = f'[data-bytes="{bytes_}"]' if bytes_ is not None else ""
    return f'#ladder [data-testid="ladder-{role}"][data-lane="{lane}"]{size}'


def log(kind: str, endpoint: str) -> str:
    """This stage's rows of the log (of one endpoint or download, or of any when `endpoint` is "")."""
    of = f'[data-endpoint="{endpoint}"]' if endpoint else ""
    return f'#log-body [data-testid="event-row"][data-kind="{kind}"]{of}:not(.earlier-stage)'


def echo(banner: Any, ids: dict[str, Any], pages: list[Any]) -> Points:
    press(banner, "sendHello")  # 1: the diagram's send and recv of "hello", both ways
    server, client = ids["server"], ids["client"]
    return [(row("send", client, 5), 1), (row("recv", f"{server}/c1", 5), 1), (row("send", f"{server}/c1", 5), 1),
            (row("recv", client, 5), 1), ('#ladder [data-testid="ladder-arrow"][data-kind="data"]', 2)]


def clients(banner: Any, ids: dict[str, Any], pages: list[Any]) -> Points:
    press(banner, "oneMore")  # 2: c1..c4, one accepted socket per client
    return [(f'[data-testid="ladder-lane"][data-lane="{ids["server"]}/c{n}"]', 1) for n in range(1, 5)]


def stop(banner: Any, ids: dict[str, Any], pages: list[Any]) -> Points:
    press(banner, "stopListening")  # 3: refused while listening is off, then everything closes
    press(banner, "newClient")
    for page in pages:
        result = page.get_by_test_id("lesson-result")
        expect(result).to_have_text(re.compile(r"\S"))  # "Refused, as expected: ..." in the page's language
        assert_in_sight(page, '[data-testid="lesson-result"]', "lesson 3, refused", 1)
    press(banner, "sendFirst")
    press(banner, "stopServer")
    # the clients' close marks ("recv() = 0: the peer closed") and the server's two FINs that caused them
    return [(row("close", lane), 1) for lane in (ids["first"], ids["second"])] + [
        ('#ladder [data-testid="ladder-arrow"][data-kind="fin"]', 2)]


def sticky(banner: Any, ids: dict[str, Any], pages: list[Any]) -> Points:
    press(banner, "burst")  # 4: the Numbers rows: 20 send() on each client, fewer recv() on the servers
    counter = '#pane-numbers [data-testid="counter-row"][data-lane="{}"]'.format
    for page in pages:
        for name in ("rawClient", "lineClient"):
            expect(page.locator(counter(ids[name])).locator('td[data-key="msgsOut"]')).to_have_text(str(BURST))
        for name in ("raw", "line"):
            recvs = page.locator(counter(f"{ids[name]}/c1")).locator('td[data-key="msgsIn"]')
            expect(recvs).not_to_have_text("0")
            assert int(recvs.inner_text()) < BURST, "the slow reader gets the 20 messages in fewer recv()"
    return [(counter(lane), 1) for lane in (f"{ids['raw']}/c1", f"{ids['line']}/c1", ids["rawClient"], ids["lineClient"])]


def files(banner: Any, ids: dict[str, Any], pages: list[Any]) -> Points:
    press(banner, "downloadRaw")  # 5: the framed download's header line, then "checksum verified"
    press(banner, "downloadFramed")
    header = pages[0].locator(log("header", ""))  # only the framed download has a header line
    expect(header).to_have_count(1)
    framed = header.get_attribute("data-endpoint")
    return [(log("header", framed), 1), (log("done", framed), 1)]


def relay(banner: Any, ids: dict[str, Any], pages: list[Any]) -> Points:
    press(banner, "sendFirst")  # 6: the relay mark and the recv arrows at clients 2 and 3
    others = ids["clients"][1:]
    return [('#ladder g.row[data-kind="relay"]', 1)] + [(row("recv", lane), 1) for lane in others]


def http(banner: Any, ids: dict[str, Any], pages: list[Any]) -> Points:
    press(banner, "getByHand")  # 7: the request and the response, as text on the socket
    # the server's two http rows (the request it parsed, the response it wrote) and the two recv rows:
    # the request arriving at the server, the response arriving at the client
    return [(log("http", ids["server"]), 2), (log("recv", ""), 2)]


def compare(banner: Any, ids: dict[str, Any], pages: list[Any]) -> Points:
    panel = pages[0].get_by_test_id("compare-panel")  # 8: the comparison's Run, its two columns of counters
    panel.get_by_test_id("compare-run").click()
    for page in pages:
        expect(page.get_by_test_id("compare-panel")).to_have_attribute("data-state", "done")
    # the counters of both sides (TCP: all 30 received; UDP: some lost) and UDP's list of the lost
    counters = [(f'[data-testid="compare-{proto}-{key}"]', 1) for proto in ("tcp", "udp")
                for key in ("sent", "received", "lost", "duplicated", "late")]
    return [*counters, ('[data-testid="compare-udp-lost-list"]', 1)]


def broadcast(banner: Any, ids: dict[str, Any], pages: list[Any]) -> Points:
    press(banner, "broadcast")  # 9: one send row, three recv rows
    return [(log("send", ids["client"]), 1)] + [(log("recv", server), 1) for server in ids["servers"]]


LESSONS: dict[int, Callable[[Any, dict[str, Any], list[Any]], Points]] = {
    1: echo, 2: clients, 3: stop, 4: sticky, 5: files, 6: relay, 7: http, 8: compare, 9: broadcast}
SIZES = [(1280, 720), (1024, 768)]
BURST = 20  # lesson 4: send() calls per client
COMPARE, FILES = 8, 5  # the lesson with the comparison panel, the one joiners land in


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_the_nine_lessons_in_a_row_on_a_projector(classroom: Any, room: Any, size: tuple[int, int], lang: str) -> None:
    width, height = size
    teacher = room(width, height, lang, CONTROL)
    student = room(width, height, lang, VIEW)
    expect(student.get_by_test_id("view-only-badge")).to_be_visible()
    pages = [teacher, student]
    SHOTS.mkdir(parents=True, exist_ok=True)
    for n, run in LESSONS.items():
        earlier = endpoints_so_far(classroom)
        banner = start_lesson(teacher, n)
        lesson = stage_of(classroom)["lesson"]
        points = run(banner, lesson["ids"], pages)
        for who, page in zip(("teacher", "student"), pages, strict=True):
            where = f"{width}x{height} {lang}, lesson {n}, {who}"
            seen = page.get_by_test_id("lesson-banner")
            expect(seen).to_have_attribute("data-lesson", str(n))
            expect(seen.get_by_test_id("lesson-step")).to_have_attribute("data-step", str(lesson_step(classroom)))
            if n == COMPARE:
                expect(page.get_by_test_id("compare-panel")).to_be_visible()
            else:
                expect(page.get_by_test_id("classroom")).to_have_attribute("data-view", lesson["view"])
            shot = str(SHOTS / f"{width}x{height}-{lang}-lesson-{n}-{who}.png")
            try:
                for selector, count in points:
                    expect(page.locator(selector)).to_have_count(count)
            finally:  # on a failure too: the screenshot shows what the class saw instead
                page.screenshot(path=shot)
            for selector, count in points:
                assert_in_sight(page, selector, where, count)
            SHARES[f"{width}x{height} {lang} lesson {n} {who}"] = assert_room(page, where)
            old = [lane for lane in lanes_shown(page) if lane.split("/")[0] in earlier]
            assert not old, f"{where}: the diagram still shows lanes of an earlier lesson: {old}"
        if n == FILES:
            joiners_land_in_lesson_5(classroom, room, teacher, (size, lang), earlier)
        if n == COMPARE:
            teacher.get_by_test_id("compare-close").click()
    print("\nmain view share:", *(f"{k}: {v:.0%}" for k, v in SHARES.items()), sep="\n  ")


def lesson_step(server: Any) -> int:
    step: int = stage_of(server)["lesson"]["step"]
    return step


def joiners_land_in_lesson_5(classroom: Any, room: Any, teacher: Any, combination: tuple[tuple[int, int], str],
                             earlier: set[str]) -> None:
    """In the middle of lesson 5: a reload, a second controller tab and a late viewer show lesson 5's
    stage, banner and step, and their diagram holds nothing of lessons 1-4."""
    (size, lang), stage = combination, stage_of(classroom)
    teacher.reload()
    wait_ready(teacher)
    second = teacher.context.new_page()
    second.goto(f"{classroom.url}/?view=projector&token={CONTROL}")
    wait_ready(second)
    late = room(*size, lang, VIEW)
    for page in (teacher, second, late):  # reloaded, a second tab, a late viewer
        banner = page.get_by_test_id("lesson-banner")
        expect(banner).to_have_attribute("data-lesson", "5")
        expect(banner).to_have_attribute("data-stage", str(stage["stage"]))
        expect(banner.get_by_test_id("lesson-step")).to_have_attribute("data-step", str(stage["lesson"]["step"]))
        expect(page.get_by_test_id("classroom")).to_have_attribute("data-view", "log")
        expect(page.locator(log("header", ""))).to_have_count(1)
    # the late viewer browses on its own to the diagram (a controller's choice would move the class)
    late.get_by_test_id("follow-toggle").click()
    late.get_by_test_id("view-ladder").click()
    expect(late.get_by_test_id("classroom")).to_have_attribute("data-view", "ladder")
    lanes = set(stage["lesson"]["ids"].get("downloads") or []) | {stage["lesson"]["ids"]["framed"]}
    expect(late.locator('[data-testid="ladder-lane"]').first).to_be_visible()
    for lane in lanes:
        expect(late.locator(f'[data-testid="ladder-lane"][data-lane^="{lane}"]').first).to_be_attached()
    old = [lane for lane in lanes_shown(late) if lane.split("/")[0] in earlier]
    assert not old, f"the late viewer's diagram shows lanes of lessons 1-4: {old}"
    late.screenshot(path=str(SHOTS / f"{size[0]}x{size[1]}-{lang}-lesson-5-late-viewer-diagram.png"))
    second.close()
    late.context.close()
