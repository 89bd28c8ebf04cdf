"""The projector layout built for the room: at 1280x720 and 1024x768, in projector mode,
with a lesson banner open and six sockets, the lesson's main view keeps at least 55% of the screen,
cards are one-line chips that open on a click, the banner is one line, and nothing overlaps.
Outside projector mode, the create form's button never covers its fields (the Diagram shrinks it)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .test_classroom import lab_of, show
from .ui import expect, screenshots

SHOTS = screenshots()
SIZES = ((1280, 720), (1024, 768))
DELAY_MS = 250
MAIN_VIEW_SHARE = 0.55  # of the viewport's area, for the lesson's main view
ROUNDING_PX = 0.5  # boxes that share less than this along an axis do not overlap
ONE_LINE_PX = 50  # a row of 36-40 px controls, with its padding: wrapped, it would be 80 or more

# The rectangle of `el` that can be seen: clipped by every ancestor that clips, then by the viewport.
VISIBLE_BOX = """
function visibleBox(el) {
  let r = el.getBoundingClientRect();
  let box = { left: r.left, top: r.top, right: r.right, bottom: r.bottom };
  const cut = (b) => {
    box = { left: Math.max(box.left, b.left), top: Math.max(box.top, b.top),
            right: Math.min(box.right, b.right), bottom: Math.min(box.bottom, b.bottom) };
  };
  for (let a = el.parentElement; a; a = a.parentElement) {
    if (getComputedStyle(a).overflow !== "visible") cut(a.getBoundingClientRect());
  }
  cut({ left: 0, top: 0, right: innerWidth, bottom: innerHeight });
  return { ...box, area: Math.max(0, box.right - box.left) * Math.max(0, box.bottom - box.top) };
}
"""

def with_box(body: str) -> str:
    """A page function `body` that may call visibleBox()."""
    return "() => {" + VISIBLE_BOX + "return (" + body + ")(); }"


MEASURE = with_box("""
() => {
  const shown = (el) => el && el.getClientRects().length > 0;
  const panes = [...document.querySelectorAll("#pane-log, #pane-ladder, #pane-numbers")].filter(shown);
  const main = panes.map(visibleBox).reduce((sum, b) => sum + b.area, 0);
  const named = { header: ".topbar", banner: "#lesson-banner", chips: ".sockets-panel", classroom: "#classroom" };
  const boxes = {};
  for (const [name, sel] of Object.entries(named)) {
    const el = document.querySelector(sel);
    if (shown(el)) { const r = el.getBoundingClientRect(); boxes[name] = [r.left, r.top, r.right, r.bottom]; }
  }
  // the header's parts (brand, menus, buttons, pills): none may sit on another
  const head = [...document.querySelectorAll(".topbar > :not(.status), .topbar .status > *")].filter(shown)
    .map((el) => { const r = el.getBoundingClientRect(); return [el.id || el.className, r.left, r.top, r.right, r.bottom]; });
  const r = (sel) => document.querySelector(sel)?.getBoundingClientRect();
  return { ratio: main / (innerWidth * innerHeight), boxes, head, width: innerWidth, height: innerHeight,
           bannerHeight: r("#lesson-banner").height, toolsHeight: r("#classroom .log-head").height,
           titleHeight: r("#lesson-banner .lesson-title").height };
}
""")


def overlap(a: list[float], b: list[float]) -> float:
    """The area two [left, top, right, bottom] boxes share (under half a pixel of rounding is none)."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return width * height if width > ROUNDING_PX and height > ROUNDING_PX else 0.0


def assert_room(page: Any, where: str) -> None:
    m = page.evaluate(MEASURE)
    assert m["ratio"] >= MAIN_VIEW_SHARE, f"{where}: the main view has {m['ratio']:.0%} of the screen, not 55%"
    boxes = m["boxes"]
    assert set(boxes) == {"header", "banner", "chips", "classroom"}, f"{where}: missing {boxes}"
    names = sorted(boxes)
    for i, a in enumerate(names):
        left, top, right, bottom = boxes[a]
        assert left >= 0 and top >= 0 and right <= m["width"] + 0.5 and bottom <= m["height"] + 0.5, f"{where}: {a} leaves the screen"
        for b in names[i + 1:]:
            assert not overlap(boxes[a], boxes[b]), f"{where}: {a} overlaps {b}: {boxes[a]} {boxes[b]}"
    head = m["head"]
    for i, (a, *box_a) in enumerate(head):
        assert box_a[2] <= m["width"] + 0.5, f"{where}: header part {a} is cut off at the right"
        for b, *box_b in head[i + 1:]:
            assert not overlap(box_a, box_b), f"{where}: in the header, {a} overlaps {b}"
    # one line each: the banner (number, title, buttons) and the classroom's tabs and tools
    assert m["bannerHeight"] <= 2 * m["titleHeight"], f"{where}: the banner takes {m['bannerHeight']} px"
    assert m["toolsHeight"] <= ONE_LINE_PX, f"{where}: the view tabs and tools wrap ({m['toolsHeight']} px)"


def open_lesson_2(page: Any) -> Any:
    """Lesson 2 from the Lessons menu (a confirmation first when sockets would close)."""
    page.get_by_test_id("lessons-button").click()
    page.locator('[data-testid="lesson-preset"][data-lesson="2"]').click()
    confirm = page.locator('[data-testid="stage-ok"]')
    banner = page.get_by_test_id("lesson-banner")
    expect(banner.or_(confirm).first).to_be_visible()
    if confirm.is_visible():
        confirm.click()
    expect(banner).to_have_attribute("data-lesson", "2")
    expect(banner).to_have_attribute("data-state", "ready")
    return banner


def six_sockets(page: Any, live_server: Any) -> dict[str, str]:
    """Lesson 2's server and three clients, one more client, and a slow-reading server."""
    lab = lab_of(live_server)
    open_lesson_2(page)
    server = next(ep for ep in list(lab.endpoints.values()) if ep.kind == "tcp-server")
    extra = lab.create({"kind": "tcp-client", "host": "127.0.0.1", "port": server.local[1]})
    slow = lab.create({"kind": "tcp-server", "host": "127.0.0.1", "port": 0, "mode": "echo", "recv_delay_ms": DELAY_MS})
    lab.send(extra.id, {"data": "hello"})
    expect(page.get_by_test_id("endpoint-chip")).to_have_count(6)
    return {"server": server.id, "extra": extra.id, "slow": slow.id}


def chip_of(page: Any, ep_id: str) -> Any:
    return page.locator(f'[data-testid="endpoint-card"][data-endpoint-id="{ep_id}"] [data-testid="endpoint-chip"]')


def test_main_view_keeps_the_room_and_nothing_overlaps(open_page: Any, live_server: Any) -> None:
    page = open_page("?view=projector")
    ids = six_sockets(page, live_server)
    expect(chip_of(page, ids["server"]).get_by_test_id("chip-conns")).to_have_text("4 conns")
    expect(chip_of(page, ids["extra"]).get_by_test_id("chip-out")).to_have_text(re.compile(r"^↑1 · 5 B$"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        for view in ("log", "ladder", "split", "numbers"):
            show(page, view)
            assert_room(page, f"{width}x{height} {view}")
        page.screenshot(path=str(SHOTS / f"projector-layout-{width}.png"))


def test_a_chip_opens_into_the_card_and_folds_again(open_page: Any, live_server: Any) -> None:
    page = open_page("?view=projector")
    ids = six_sockets(page, live_server)
    card = page.locator(f'[data-testid="endpoint-card"][data-endpoint-id="{ids["server"]}"]')
    chip = chip_of(page, ids["server"])
    expect(chip).to_have_attribute("aria-expanded", "false")
    expect(card.get_by_test_id("stop-endpoint")).to_be_hidden()
    assert chip.evaluate("el => el.getBoundingClientRect().height") < ONE_LINE_PX
    chip.click()
    expect(chip).to_have_attribute("aria-expanded", "true")
    expect(card.get_by_test_id("connections").get_by_test_id("connection")).to_have_count(4)
    expect(card.get_by_test_id("stop-endpoint")).to_be_visible()
    chip.click()
    expect(chip).to_have_attribute("aria-expanded", "false")
    expect(card.get_by_test_id("stop-endpoint")).to_be_hidden()
    chip.focus()
    page.keyboard.press("Enter")
    expect(chip).to_have_attribute("aria-expanded", "true")
    page.keyboard.press(" ")
    expect(chip).to_have_attribute("aria-expanded", "false")
    # the diagram did not pause: Space on a chip presses the chip
    expect(page.get_by_test_id("ladder-pause")).not_to_have_attribute("aria-pressed", "true")

    page.get_by_test_id("projector-toggle").click()  # outside projector mode: the whole card, no chip
    expect(chip).to_be_hidden()
    expect(card.get_by_test_id("stop-endpoint")).to_be_visible()


def test_the_banner_folds_to_one_line_and_opens_on_a_click(open_page: Any, live_server: Any) -> None:
    page = open_page("?view=projector")
    banner = open_lesson_2(page)
    title = banner.locator(".lesson-title")
    expect(banner.locator(".lesson-do")).to_be_hidden()
    expect(banner.get_by_test_id("lesson-action").first).to_be_visible()
    expect(title).to_have_attribute("aria-expanded", "false")
    title.click()
    expect(title).to_have_attribute("aria-expanded", "true")
    expect(banner.locator(".lesson-do")).to_be_visible()
    expect(banner.locator(".lesson-see")).to_be_visible()
    title.press("Enter")
    expect(banner.locator(".lesson-do")).to_be_hidden()
    page.get_by_test_id("projector-toggle").click()  # outside projector mode the banner shows everything
    expect(banner.locator(".lesson-do")).to_be_visible()
    expect(title).not_to_have_attribute("role", "button")


def test_a_slow_reader_says_how_often_it_reads(open_page: Any, live_server: Any) -> None:
    page = open_page("?view=projector")
    ids = six_sockets(page, live_server)
    chip = chip_of(page, ids["slow"])
    expect(chip.get_by_test_id("chip-delay")).to_have_text(f"reads every {DELAY_MS} ms")
    chip.click()
    card = page.locator(f'[data-testid="endpoint-card"][data-endpoint-id="{ids["slow"]}"]')
    expect(card.get_by_test_id("endpoint-mode")).to_contain_text(f"reads every {DELAY_MS} ms")
    page.get_by_test_id("lang-select").select_option("zh")
    expect(chip.get_by_test_id("chip-delay")).to_have_text(f"每 {DELAY_MS} 毫秒读一次")
    expect(card.get_by_test_id("endpoint-mode")).to_contain_text(f"每 {DELAY_MS} 毫秒读一次")
    other = chip_of(page, ids["server"])
    expect(other.get_by_test_id("chip-delay")).to_have_count(0)  # only a slow reader says it


# Every visible field of the create form that the submit button covers (boxes clipped as seen).
COVERED = with_box("""
() => {
  const button = visibleBox(document.getElementById("create-submit"));
  const panel = document.querySelector(".forms-panel").getBoundingClientRect();
  const fields = [...document.querySelectorAll("#create-form .field, #create-form .check-row, #create-form details")]
    .filter((el) => el.getClientRects().length > 0);
  const covered = fields.map((el) => [el.className, visibleBox(el)]).filter(([, b]) =>
    b.area > 0 && Math.min(b.right, button.right) - Math.max(b.left, button.left) > 0.5
    && Math.min(b.bottom, button.bottom) - Math.max(b.top, button.top) > 0.5).map(([name]) => name);
  const whole = button.area > 0 && button.top >= panel.top && button.bottom <= panel.bottom;
  return { covered, whole };
}
""")


@pytest.mark.parametrize("size", SIZES, ids=["1280x720", "1024x768"])
def test_the_create_button_never_covers_a_field(page: Any, size: tuple[int, int]) -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    for view in ("ladder", "log"):
        show(page, view)
        for kind in ("tcp-server", "tcp-client", "udp-server", "udp-client"):
            page.get_by_test_id("create-kind").select_option(kind)
            if kind == "tcp-server":
                page.get_by_test_id("create-rules").evaluate("el => { el.open = true; }")  # the tallest form
            found = page.evaluate(COVERED)
            assert found["covered"] == [], f"{view}, {kind}: the button covers {found['covered']}"
            assert found["whole"], f"{view}, {kind}: the button is not wholly in sight"
