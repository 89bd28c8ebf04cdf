"""What axe cannot judge on its own: colour is never the only signal (the page in grayscale still
tells the diagram's kinds apart), text and lines keep their contrast in every theme, the teacher's
and a student's pages at 200% zoom, the keyboard's way through the page, and the diagram as a list
for a screen reader. Screenshots of the grayscale and 200% checks go to $SOCKETLAB_SCREENSHOTS
(`make screenshots` puts them in docs/img for docs/lessons.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ..support import LiveServer
from .test_classroom import lab_of, tcp_pair
from .test_a11y import lesson_four  # noqa: F401 (a fixture)
from .test_join import CONTROL, class_server, open_as, student_token  # noqa: F401 (class_server: a fixture)
from .ui import expect, screenshots

SHOTS = screenshots()
THEMES = [("light", False), ("dark", False), ("light", True), ("dark", True)]


def themed(browser: Any, theme: str, high: bool, lang: str = "en", size: tuple[int, int] = (1280, 720),
           scale: float = 1) -> Any:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, device_scale_factor=scale,
                                  locale="en-US")
    context.set_default_timeout(20_000)
    choices = {"socketlab.theme": theme, "socketlab.lang": lang, "socketlab.contrast": "high" if high else "normal"}
    context.add_init_script(f"for (const [k, v] of Object.entries({json.dumps(choices)})) localStorage.setItem(k, v);")
    return context


def look(theme: str, high: bool) -> str:
    return theme + ("-high" if high else "")


# -- never colour alone -----------------------------------------------------------------------

# What tells each legend key apart once the colours are gone: its dash pattern, its head, its X, its words.
LEGEND_SHAPES = """() => [...document.querySelectorAll('[data-testid="ladder-legend"] svg.key')].map((key) => {
  const line = key.querySelector("line");
  const style = getComputedStyle(line);
  const head = line.getAttribute("marker-end");
  const path = head ? document.querySelector(head.slice(4, -1) + " path") : null;
  return {
    key: key.dataset.key,
    dash: style.strokeDasharray,
    head: path ? path.getAttribute("d") + " " + getComputedStyle(path).fill.startsWith("rgb") : "none",
    cross: key.querySelectorAll(".lost-x").length,
    words: key.nextElementSibling.textContent.trim(),
  };
})"""


def test_colour_is_never_the_only_signal(browser: Any, lesson_four: LiveServer) -> None:  # noqa: F811
    """In grayscale the legend's five kinds still differ by dash, head or X (and each has words); on
    the diagram TCP and UDP arrows differ by dash, a lost datagram has its X, a closed lane its line
    through; each log row and card says its kind and state in words."""
    for theme, high in THEMES:
        context = themed(browser, theme, high)
        try:
            page = open_as(context, lesson_four, CONTROL)
            page.get_by_test_id("view-split").click()
            expect(page.get_by_test_id("ladder-lost-x").first).to_be_visible()
            page.evaluate("document.documentElement.style.filter = 'grayscale(1)'")  # (CSSOM: allowed by the page's CSP)
            keys = page.evaluate(LEGEND_SHAPES)
            assert [k["key"] for k in keys] == ["data", "udp", "ctl", "lost", "wire"], keys
            shapes = {(k["dash"], k["head"], k["cross"]) for k in keys}
            assert len(shapes) == len(keys), f"two legend keys differ only by colour: {keys}"
            assert all(k["words"] for k in keys), keys
            dashes = page.evaluate("""() => Object.fromEntries(["data", "udp"].map((kind) => [kind,
              getComputedStyle(document.querySelector(`[data-testid="ladder-arrow"][data-kind="${kind}"]`)).strokeDasharray]))""")
            assert dashes["data"] != dashes["udp"], dashes
            # (read at once: the diagram redraws its lane heads a few times a second)
            closed = page.evaluate("""() => getComputedStyle(document.querySelector(
              '[data-testid="ladder-lane"].closed .lane-id')).textDecorationLine""")
            assert "line-through" in closed
            page.get_by_test_id("view-log").click()
            badges = page.locator('[data-testid="event-row"] .kind-badge').all_inner_texts()
            assert badges and all(text.strip() for text in badges), badges
            states = page.locator('[data-testid="endpoint-card"] .state-badge').all_inner_texts()
            assert states and all(text.strip() for text in states), states
            if not high:
                page.get_by_test_id("view-ladder").click()
                page.locator("#ladder-scroll").evaluate("el => el.scrollTop = el.scrollHeight")
                SHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SHOTS / f"a11y-grayscale-{theme}.png"))
        finally:
            context.close()


# -- contrast ---------------------------------------------------------------------------------

CONTRAST = """() => {
  const rgb = (c) => { const m = c.match(/[\\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 0]; };
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const under = (el) => { // the first opaque background behind el
    for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.length < 4 || c[3] > 0.99) return c; }
    return [255, 255, 255];
  };
  const shown = (el) => { const b = el.getBoundingClientRect(); return b.width > 0 && b.height > 0 && getComputedStyle(el).visibility !== "hidden"; };
  const out = [];
  // text: on its own background; 3:1 for large text (24 px, or 18.66 px bold)
  const texts = document.querySelectorAll(`.topbar .btn, .topbar summary, .lane-id, .lane-kind, .lane-addr, .lane-bytes,
    .legend > span, .view-tab, .log td, .kind-badge, .chip, .state-badge, .card .addr-port, .ladder-tools .btn, .log-tools .btn`);
  for (const el of texts) {
    if (!shown(el) || !el.textContent.trim()) continue;
    const s = getComputedStyle(el);
    const size = parseFloat(s.fontSize), bold = Number(s.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    const r = ratio(rgb(s.color), under(el));
    if (r < need) out.push({what: "text", el: el.className || el.tagName, text: el.textContent.trim().slice(0, 30), ratio: r.toFixed(2), need});
  }
  // the diagram's lines and marks, and each lane's colour, against the diagram's background: 3:1
  const panel = under(document.getElementById("ladder-scroll"));
  const marks = document.querySelectorAll(`#ladder .arrow, #ladder .lost-x, #ladder .lane, #ladder .head, #ladder .dot,
    [data-testid="ladder-legend"] .arrow`);
  for (const el of marks) {
    const s = getComputedStyle(el);
    const paint = el.matches(".head, .dot") ? s.fill : s.stroke;
    if (!paint.startsWith("rgb")) continue;
    const r = ratio(rgb(paint), el.closest(".legend") ? under(el.closest(".legend")) : panel);
    if (r < 3) out.push({what: "line", el: el.getAttribute("class"), ratio: r.toFixed(2), need: 3});
  }
  for (const el of document.querySelectorAll(".lane-head:not(.external, .closed) .lane-id")) {
    const r = ratio(rgb(getComputedStyle(el).backgroundColor), panel);
    if (r < 3) out.push({what: "lane colour", el: el.closest(".lane-head").dataset.kind, ratio: r.toFixed(2), need: 3});
  }
  const seen = new Set();
  return out.filter((o) => { const k = JSON.stringify([o.what, o.el, o.ratio]); return !seen.has(k) && seen.add(k); });
}"""


@pytest.mark.parametrize(("theme", "high"), THEMES, ids=[look(*t) for t in THEMES])
def test_text_and_lines_keep_their_contrast(browser: Any, lesson_four: LiveServer, theme: str, high: bool) -> None:  # noqa: F811
    """Text 4.5:1 (large 3:1), the diagram's lines and the lanes' colours 3:1, computed from the
    styles the browser applied, on the teacher's page (split view) and in projector mode."""
    context = themed(browser, theme, high)
    try:
        for query in ("", "&view=projector"):
            page = open_as(context, lesson_four, CONTROL, query)
            page.get_by_test_id("view-split").click()
            expect(page.get_by_test_id("ladder-arrow").first).to_be_visible()
            low = page.evaluate(CONTRAST)
            assert not low, f"{look(theme, high)} {query or 'teacher'}: {low}"
            page.close()
    finally:
        context.close()


def test_high_contrast_is_a_remembered_choice(browser: Any, lesson_four: LiveServer) -> None:  # noqa: F811
    """The button beside the theme's (and the "c" key) turns it on and off; the browser remembers it
    like the theme (a reload keeps it), and a student's page has the same button."""
    context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="en-US")
    try:
        page = open_as(context, lesson_four, CONTROL)
        button = page.get_by_test_id("contrast-toggle")
        expect(button).to_have_attribute("aria-pressed", "false")
        ink = "getComputedStyle(document.body).color"
        assert page.evaluate(ink) != "rgb(0, 0, 0)"
        button.click()
        expect(page.locator("html")).to_have_attribute("data-contrast", "high")
        expect(button).to_have_attribute("aria-pressed", "true")
        assert page.evaluate(ink) == "rgb(0, 0, 0)"  # black on white
        page.reload()
        expect(page.locator("html")).to_have_attribute("data-contrast", "high")
        page.get_by_test_id("theme-toggle").click()
        assert page.evaluate(ink) == "rgb(255, 255, 255)"  # white on black, with the dark theme
        page.locator(".brand").click(position={"x": 2, "y": 2})
        page.keyboard.press("c")  # the shortcut, beside "t" for the theme
        expect(page.locator("html")).to_have_attribute("data-contrast", "normal")
        expect(button).to_have_attribute("aria-pressed", "false")
        viewer = open_as(context, lesson_four, student_token(lesson_four))
        expect(viewer.get_by_test_id("contrast-toggle")).to_be_visible()  # a student chooses it on their own screen
    finally:
        context.close()


# -- 200% zoom --------------------------------------------------------------------------------

# Every control and heading wholly inside the page's width (a control in a box that scrolls sideways
# of its own, the log's table, is inside that box).
CUT = """() => {
  const width = document.documentElement.clientWidth;
  const inScroller = (el) => { for (let e = el.parentElement; e; e = e.parentElement) {
    const o = getComputedStyle(e).overflowX; if (o === "auto" || o === "scroll") return e; } return null; };
  const cut = [];
  for (const el of document.querySelectorAll("button, select, input, summary, h1, h2, .pill, .lesson-title")) {
    const b = el.getBoundingClientRect();
    if (!b.width || !b.height || getComputedStyle(el).visibility === "hidden") continue;
    const box = inScroller(el);
    const [left, right] = box ? [box.getBoundingClientRect().left, box.getBoundingClientRect().right] : [0, width];
    if (box && box !== document.documentElement) continue; // it scrolls into view in its own box
    if (b.left < left - 1 || b.right > right + 1) cut.push(`${el.tagName}.${el.className} ${(el.textContent || "").trim().slice(0, 20)} [${Math.round(b.left)}, ${Math.round(b.right)}]`);
  }
  // and no control over another (a box too small for what it holds lets the next one's spill onto it)
  const shown = [...document.querySelectorAll("button, select, input:not(.sr-only), summary")].filter((el) => {
    const b = el.getBoundingClientRect(); return b.width && b.height && getComputedStyle(el).visibility !== "hidden"
      && !(el.matches("summary") ? el.parentElement.parentElement : el.parentElement)?.closest("details:not([open])"); });
  // (what shows of each: its box inside every box that clips it)
  const seen = (el) => { let r = el.getBoundingClientRect(); r = {left: r.left, right: r.right, top: r.top, bottom: r.bottom};
    for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
      if (getComputedStyle(e).overflow === "visible") continue;
      const c = e.getBoundingClientRect();
      r = {left: Math.max(r.left, c.left), right: Math.min(r.right, c.right), top: Math.max(r.top, c.top), bottom: Math.min(r.bottom, c.bottom)};
    }
    return r; };
  const over = [];
  for (const [i, a] of shown.entries()) for (const b of shown.slice(i + 1)) {
    if (a.contains(b) || b.contains(a)) continue;
    const p = seen(a), q = seen(b);
    if (p.left < q.right - 1 && q.left < p.right - 1 && p.top < q.bottom - 1 && q.top < p.bottom - 1)
      over.push(`${a.id || a.dataset.testid || a.tagName} / ${b.id || b.dataset.testid || b.tagName}`);
  }
  return {scroll: document.documentElement.scrollWidth, width, cut, over};
}"""


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_teacher_and_student_pages_at_200_percent_zoom(browser: Any, lesson_four: LiveServer, lang: str) -> None:  # noqa: F811
    """At 1280x720 and 200% zoom the page is 640x360 CSS pixels on 2 device pixels each: no sideways
    scroll of the whole page, no control cut at its edge, in each of the classroom's views."""
    student = student_token(lesson_four)
    for who, token in (("teacher", CONTROL), ("student", student)):
        for theme, high in (("light", False), ("dark", True)):
            context = themed(browser, theme, high, lang, size=(640, 360), scale=2)
            try:
                page = open_as(context, lesson_four, token)
                # the docs' pictures: the teacher's page in English, a student's in Chinese in high contrast
                # (taken before the checks: a failure below is then one look away)
                if (who, lang, high) in (("teacher", "en", False), ("student", "zh", True)):
                    page.get_by_test_id("view-split").click()
                    SHOTS.mkdir(parents=True, exist_ok=True)
                    name = f"a11y-zoom200-{who}-{lang}-{look(theme, high)}"
                    page.screenshot(path=str(SHOTS / f"{name}-top.png"))  # what the screen shows: top, then the diagram
                    page.locator(".log-head").evaluate("el => el.scrollIntoView()")
                    page.locator("#ladder-scroll").evaluate("el => { el.scrollTop = el.scrollHeight; el.scrollLeft = el.scrollWidth; }")
                    page.screenshot(path=str(SHOTS / f"{name}-diagram.png"))
                for view in ("split", "log", "ladder", "numbers"):
                    page.get_by_test_id(f"view-{view}").click()
                    found = page.evaluate(CUT)
                    assert found["scroll"] <= found["width"], f"{who} {view}: the page scrolls sideways: {found}"
                    assert not found["cut"], f"{who} {view}: cut at the page's edge: {found['cut']}"
                    assert not found["over"], f"{who} {view}: controls over each other: {found['over']}"
            finally:
                context.close()


# -- the keyboard and the screen reader -------------------------------------------------------

TAB_STOP = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const ring = (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== "none";
  return {id: el.id || el.dataset.testid || el.classList[0] || el.tagName, tag: el.tagName, ring,
          order: [...document.querySelectorAll("*")].indexOf(el)};
}"""

REACHABLE = """() => [...document.querySelectorAll(`button, select, input, summary, [tabindex="0"]`)]
  .filter((el) => { const b = el.getBoundingClientRect(); return b.width > 0 && b.height > 0 && !el.disabled
    && getComputedStyle(el).visibility !== "hidden" && el.tabIndex >= 0 && !el.closest("dialog:not([open])")
    && !el.closest(".sr-only:not(input)") && !(el.matches("summary") ? el.parentElement.parentElement : el.parentElement)?.closest("details:not([open])"); })
  .map((el) => el.id || el.dataset.testid || el.classList[0] || el.tagName)"""


def tab_through(page: Any, limit: int = 250) -> list[dict[str, Any]]:
    """The Tab stops from the top of the page until the focus leaves it or comes round again."""
    page.evaluate("document.activeElement?.blur()")
    page.locator(".brand").click(position={"x": 2, "y": 2})  # (Tab goes on from where the page was last clicked)
    stops: list[dict[str, Any]] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stop = page.evaluate(TAB_STOP)
        if stop is None or (stops and stop["order"] == stops[0]["order"]):
            break
        stops.append(stop)
    return stops


def test_every_control_is_reached_by_tab_in_page_order_with_a_ring(browser: Any, lesson_four: LiveServer) -> None:  # noqa: F811
    """Tab reaches every visible control of the teacher's and a student's page, in the order they are
    read (header, forms, cards, classroom), each with a visible focus ring; the boxes that scroll
    (diagram, log, counters) are stops too, and in the log the arrow keys pick a row."""
    student = student_token(lesson_four)
    for who, token in (("teacher", CONTROL), ("student", student)):
        context = themed(browser, "light", False)
        try:
            page = open_as(context, lesson_four, token)
            for view in ("split", "numbers"):
                page.get_by_test_id(f"view-{view}").click()
                stops = tab_through(page)
                reached = {s["id"] for s in stops}
                wanted = set(page.evaluate(REACHABLE))
                assert wanted <= reached, f"{who} {view}: not reached by Tab: {sorted(wanted - reached)}"
                orders = [s["order"] for s in stops]
                assert orders == sorted(orders), f"{who} {view}: Tab jumps about: {[s['id'] for s in stops]}"
                assert all(s["ring"] for s in stops), f"{who} {view}: no focus ring: {[s['id'] for s in stops if not s['ring']]}"
                needed = {"ladder-scroll", "log-scroll"} if view == "split" else {"counters-box"}
                assert needed <= reached, (view, reached)
            page.get_by_test_id("view-log").click()
            page.locator("#log-scroll").focus()
            page.keyboard.press("ArrowDown")
            expect(page.get_by_test_id("log-detail")).to_be_visible()
            title = page.get_by_test_id("log-detail").locator(".detail-title")
            first = title.inner_text()
            page.keyboard.press("ArrowDown")
            expect(title).not_to_have_text(first)  # the next row's details
        finally:
            context.close()


def test_a_card_drawn_again_keeps_the_keyboards_place(browser: Any, lesson_four: LiveServer) -> None:  # noqa: F811
    """A card is drawn again whenever its endpoint changes (bytes, a connection): the control a
    keyboard user is on keeps the focus, instead of dropping it to the top of the page mid-Tab."""
    lab = lab_of(lesson_four)
    server, client = tcp_pair(lab)
    context = themed(browser, "light", False)
    try:
        page = open_as(context, lesson_four, CONTROL)
        close = page.locator(f"#card-{server.id}").get_by_test_id("close-connection")
        expect(close).to_have_count(1)
        close.focus()
        page.evaluate("window.__was = document.activeElement")
        for n in range(3):  # each recv is a new count on the card: its connections are drawn again
            lab.send(client.id, {"data": f"byte {n}"})
        page.wait_for_function("!window.__was.isConnected")
        expect(close).to_be_focused()
        assert close.get_attribute("data-conn") == next(iter(server.connections))
        page.keyboard.press("Tab")  # and Tab goes on from there, not from the top
        assert page.evaluate("document.activeElement !== document.body")
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_diagram_is_a_list_for_a_screen_reader(browser: Any, lesson_four: LiveServer, lang: str) -> None:  # noqa: F811
    """The diagram's rows, one list item each, say what the log says of the same event, in the page's language."""
    context = themed(browser, "light", False, lang)
    try:
        page = open_as(context, lesson_four, CONTROL)
        page.get_by_test_id("view-split").click()
        items = page.get_by_test_id("ladder-list").locator("li")
        expect(items.first).to_be_attached()
        rows = int(page.get_by_test_id("ladder").get_attribute("data-rows") or 0)
        assert items.count() == rows
        said = dict(page.evaluate("""() => [...document.querySelectorAll('[data-testid="ladder-list"] li')]
          .map((li) => [li.dataset.seq, li.textContent])"""))
        logged = dict(page.evaluate("""() => [...document.querySelectorAll('[data-testid="event-row"]')]
          .map((tr) => [tr.dataset.seq, tr.querySelector(".col-detail").textContent])"""))
        common = said.keys() & logged.keys()
        assert common, (said, logged)
        assert all(said[seq] == logged[seq] for seq in common), [(said[s], logged[s]) for s in common if said[s] != logged[s]]
        chinese = any("\u4e00" <= ch <= "\u9fff" for text in said.values() for ch in text)
        assert chinese == (lang == "zh"), list(said.values())[:5]
        assert page.get_by_test_id("ladder-list").get_attribute("aria-label")
    finally:
        context.close()
