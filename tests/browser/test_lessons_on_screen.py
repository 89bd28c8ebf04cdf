"""Every lesson's point on screen, and all of it: the fourteen lessons on a
teacher's projector page and on a student's own page (a token from POST /api/join), at 1280x720 and
1024x768, in English and Chinese. After each lesson's buttons, on both pages:

- the rows that carry the lesson's point (the registry's `point`) are wholly in view and not covered
  (lesson 13: the one send() and its first segment, not only the newest ACKs);
- the lesson's main view keeps >= 55% of the screen (teacher) or >= 50% (student);
- the banner's sentences are whole (no ellipsis, nothing cut); a full chip row says "+N more";
- the page never scrolls sideways, and no text box's words overflow it;
- packets are drawn in the wire lessons (10-14) and not in lessons 1-9, and the toggle says why.

One dashboard per size and language (lessons run through the API: the click is not the point here;
tests/browser/test_lessons.py clicks them). Each runs on an embedded lab and on `make class`'s two labs
(the class's lab and its sandbox, over their Redis). The wire lessons need a lab that captures its
packets: the class's sandbox, or the embedded lab as root (the CI runs as root), else they are skipped.
Screenshots go to $SOCKETLAB_SCREENSHOTS/lessons/on-screen (`make screenshots`: docs/img), else a temporary folder.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from lab.lessons.registry import LESSONS
from lab.wire.capture import why_not
from webapp import create_app, shutdown
from webapp.auth import Access

from ..sandbox.conftest import namespaces_work
from ..support import serve, wait_until
from .conftest import PageProblems
from .test_class_of_nine import MEASURE
from .test_projector_layout import VISIBLE_BOX
from .ui import expect, screenshots, wait_ready

CONTROL, VIEW, CODE = "control-on-screen", "view-on-screen", "SCRN23"
HEADERS = {"Authorization": f"Bearer {CONTROL}"}
SIZES = [(1280, 720), (1024, 768)]
LOCALES = {"en": "en-US", "zh": "zh-CN"}
SHARE = {"teacher": 0.55, "student": 0.50}
SHOTS = screenshots("lessons/on-screen")
SHARES: dict[str, float] = {}  # "<size> <lang> <lesson> <page>" -> the main view's share, printed (pytest -s)
CAPTURE = why_not()  # None when this process can capture (root)

# the buttons each lesson's test presses, through the API (lesson 8 and 14: their panel's Run)
ACTIONS: dict[int, list[str]] = {
    1: ["sendHello"], 2: ["oneMore"], 3: ["stopListening", "newClient", "sendFirst", "stopServer"], 4: ["burst"],
    5: ["downloadRaw", "downloadFramed"], 6: ["sendFirst"], 7: ["getByHand"], 8: ["run"], 9: ["broadcast"],
    10: ["connect"], 11: ["clientCloses"], 12: ["connectClosed", "closeUnread"], 13: ["sendBig"], 14: ["run"]}


def lane_row(role: str, **data: Any) -> str:
    return f'#ladder [data-testid="ladder-{role}"]' + "".join(f'[data-{k}="{v}"]' for k, v in data.items())


def log_row(kind: str, endpoint: str = "") -> str:
    of = f'[data-endpoint="{endpoint}"]' if endpoint else ""
    return f'#log-body [data-testid="event-row"][data-kind="{kind}"]{of}:not(.earlier-stage)'


def points(n: int, ids: dict[str, Any]) -> list[str]:
    """What must be in sight after lesson n's buttons: one selector per thing (each matches at least one)."""
    counter = '#pane-numbers [data-testid="counter-row"][data-lane="{}"]'.format
    compare = [f'[data-testid="compare-{proto}-{key}"]' for proto in ("tcp", "udp") for key in ("sent", "received", "lost")]
    table: dict[int, Callable[[], list[str]]] = {
        1: lambda: [lane_row("send", bytes=5), lane_row("recv", bytes=5)],
        2: lambda: [f'[data-testid="ladder-lane"][data-lane="{ids["server"]}/c{k}"]' for k in range(1, 5)],
        3: lambda: [lane_row("close", lane=ids["first"]), lane_row("close", lane=ids["second"])],
        4: lambda: [counter(f"{ids['raw']}/c1"), counter(f"{ids['line']}/c1")],
        5: lambda: [log_row("header"), log_row("done")],
        6: lambda: ['#ladder g.row[data-kind="relay"]'],
        7: lambda: [log_row("http", ids["server"])],
        8: lambda: compare,
        9: lambda: [log_row("send", ids["client"]), log_row("recv")],
        10: lambda: ['#ladder [data-testid="ladder-packet"]'],
        11: lambda: ['#ladder [data-testid="ladder-packet"]', lane_row("close")],
        12: lambda: ['#ladder [data-testid="ladder-packet"]'],
        13: lambda: [lane_row("send", bytes=200000), '#ladder [data-testid="ladder-packet"]'],
        14: lambda: compare,
    }
    return table[n]()


# -- what a page shows, measured in one go -----------------------------------------------------

# Text boxes whose words do not fit: elements that clip (overflow hidden or clip, or an ellipsis) and
# whose content is wider than they are. Left out: what is cut by design and shown whole elsewhere (the
# log's previews and sentences: a click shows them in the details pane), and visually hidden labels.
# Boxes that must hold their words though they do not clip: the comparison panel's counters.
OVERFLOWING = """() => {
  const byDesign = ".sr-only, .col-text, .col-hex, .col-peer, .col-detail, .log-detail, [hidden]";
  const found = [];
  for (const el of document.querySelectorAll("body *")) {
    if (!el.getClientRects().length || el.closest("svg") || el.closest(byDesign)) continue;
    const cs = getComputedStyle(el);
    const clips = ["hidden", "clip"].includes(cs.overflowX) || cs.textOverflow === "ellipsis" || el.matches(".cmp-row");
    if (!clips || el.clientWidth <= 1 || !(el.textContent || "").trim()) continue;
    if (el.scrollWidth > el.clientWidth + 1) found.push(`${el.dataset.testid || el.id || el.className || el.tagName}: ${el.textContent.trim().slice(0, 50)}`);
  }
  return found;
}"""

# The banner's words: every text part whole (not wider nor taller than its box, no ellipsis cutting it).
BANNER_CUT = """() => [...document.querySelectorAll("#lesson-banner :is(.lesson-title, .lesson-step, .lesson-result, .btn, .notice)")]
  .filter((el) => el.getClientRects().length && el.textContent.trim())
  .filter((el) => el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)
  .map((el) => el.textContent.trim().slice(0, 60))"""

# The chip row: how many chips lie past its visible part, and what "+N more" says.
CHIPS = """() => {
  const panel = document.querySelector(".sockets-panel");
  const box = panel.getBoundingClientRect();
  const bottom = box.top + panel.clientTop + panel.clientHeight;
  const hidden = [...panel.querySelectorAll(".card")].filter((c) => c.getClientRects().length
    && c.getBoundingClientRect().bottom > bottom + 1).length;
  const more = document.querySelector('[data-testid="chips-more"]');
  return { hidden, more: more && !more.hidden ? more.textContent : null };
}"""

WIDE = "() => document.documentElement.scrollWidth - innerWidth"


@pytest.fixture(params=["embedded", "class"])
def dashboard(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """One dashboard per size and language (the fourteen lessons in a row on it), tokens, a join code:
    an embedded lab that captures when it can, or `make class`'s two labs (lessons 1-9 in the class's lab
    on every address, 10-14 in the sandbox beside it), where namespaces are given."""
    root, made = tmp_path, None
    config: dict[str, Any] = {"CAPTURE": CAPTURE is None}
    if request.param == "class":
        refused = namespaces_work()
        if refused:
            pytest.skip(f"no network namespace here for the class's sandbox: {refused}")
        root = made = Path(tempfile.mkdtemp(prefix="socketlab-on-screen-"))
        made.chmod(0o711)  # (run by root, the sandbox is a user of its own: it must reach its folders)
        config = {"CLASS": True}
    app = create_app({"TESTING": True, "FILES": str(root / "files"), "DOWNLOADS": str(root / "downloads"),
                      "ACCESS": Access(CONTROL, VIEW), "JOIN_CODE": CODE, **config})
    with serve(app, "on-screen-server") as live:
        app.config["URL"] = live.url
        # whether lessons 10-14 draw packets here (the embedded lab as root, or the class's sandbox)
        app.config["WIRE"] = bool(app.test_client().get("/api/session", headers=HEADERS).get_json()["capture"])
        yield app
    shutdown(app)
    if made is not None:
        shutil.rmtree(made)


def student_token(app: Any, name: str) -> str:
    answer = app.test_client().post("/api/join", json={"code": CODE, "name": name})
    assert answer.status_code == 200, answer.get_json()
    token: str = answer.get_json()["token"]
    return token


@pytest.fixture
def pages(browser: Any, dashboard: Any, request: Any) -> Iterator[Any]:
    """pages(width, height, lang) -> {"teacher": projector page, "student": a joined student's own page}."""
    contexts: list[Any] = []
    problems = PageProblems()

    def open_(width: int, height: int, lang: str) -> dict[str, Any]:
        found = {}
        token = student_token(dashboard, f"S{width}{lang}")
        for who, query in (("teacher", f"?view=projector&token={CONTROL}"), ("student", f"?token={token}")):
            ctx = browser.new_context(viewport={"width": width, "height": height}, locale=LOCALES[lang])
            contexts.append(ctx)
            page = ctx.new_page()
            page.on("console", problems.console)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.goto(dashboard.config["URL"] + "/" + query)
            wait_ready(page)
            expect(page.locator("html")).to_have_attribute("lang", re.compile("^" + lang))
            found[who] = page
        return found

    yield open_
    for ctx in contexts:
        ctx.close()
    assert not problems, "a page reported problems:\n" + "\n".join(problems)


def run_lesson(app: Any, n: int) -> dict[str, Any] | None:
    """Start lesson n and press its buttons through the API; its stage, or None when this lab cannot give it."""
    client = app.test_client()
    answer = client.post("/api/stage", json={"lesson": n}, headers=HEADERS)
    if answer.status_code not in (200, 201):
        assert LESSONS[n].needs == "link", f"lesson {n}: {answer.get_json()}"
        return None  # real loss needs root or the sandbox: this lab says why, and the lesson is not given
    for key in ACTIONS[n]:
        done = client.post(f"/api/stage/actions/{key}", json={}, headers=HEADERS)
        assert done.status_code == 200, f"lesson {n}, {key}: {done.get_json()}"
    stage: dict[str, Any] = client.get("/api/stage", headers=HEADERS).get_json()
    return stage


def check_page(page: Any, who: str, n: int, stage: dict[str, Any], where: str) -> float:
    lesson = stage["lesson"]
    banner = page.get_by_test_id("lesson-banner")
    expect(banner).to_have_attribute("data-stage", str(stage["stage"]), timeout=30_000)  # (after a flood of packets)
    expect(banner.get_by_test_id("lesson-step")).to_have_attribute("data-step", str(lesson["step"]))
    if lesson["view"] == "compare":
        panel = page.get_by_test_id("compare-panel")
        expect(panel).to_be_visible()
        expect(panel).to_have_attribute("data-state", "done", timeout=30_000)
    else:
        expect(page.get_by_test_id("classroom")).to_have_attribute("data-view", lesson["view"])
    for selector in points(n, lesson["ids"]):
        expect(page.locator(selector).first).to_be_attached(timeout=15_000)
    for selector in points(n, lesson["ids"]):
        assert_any_in_sight(page, selector, where)
    m = page.evaluate(MEASURE)
    assert m["share"] >= SHARE[who], f"{where}: the main view has {m['share']:.0%} of the screen, not {SHARE[who]:.0%}"
    assert page.evaluate(WIDE) <= 0, f"{where}: the page scrolls sideways by {page.evaluate(WIDE)} px"
    cut = page.evaluate(BANNER_CUT)
    assert not cut, f"{where}: the banner cuts {cut}"
    chips = page.evaluate(CHIPS)
    if chips["hidden"]:
        assert chips["more"], f"{where}: {chips['hidden']} chips hidden without a sign"
        assert str(chips["hidden"]) in chips["more"], f"{where}: {chips['hidden']} hidden, the sign says {chips['more']!r}"
    over = page.evaluate(OVERFLOWING)
    assert not over, f"{where}: words overflow their boxes: {over}"
    share: float = m["share"]
    return share


# Is at least one element matching `selector` wholly on screen and not covered (see test_class_of_nine)?
ANY_IN_SIGHT = "(selector) => {" + VISIBLE_BOX + """
  return [...document.querySelectorAll(selector)].some((el) => {
    const r = el.getBoundingClientRect();
    const area = Math.max(0, r.width) * Math.max(0, r.height);
    const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
    const home = (node) => node && node.closest("#pane-log, #pane-ladder, #pane-numbers, dialog, #lesson-banner");
    const uncovered = !!hit && (el.contains(hit) || hit.contains(el) || (!!home(el) && home(hit) === home(el)));
    return area > 0 && visibleBox(el).area >= area - 1 && uncovered;
  });
}"""


def assert_any_in_sight(page: Any, selector: str, where: str) -> None:
    """At least one element of `selector` is wholly on screen and not covered (the page draws in frames: a moment)."""
    try:
        wait_until(lambda: page.evaluate(ANY_IN_SIGHT, selector), timeout=5)
    except AssertionError:
        raise AssertionError(f"{where}: no {selector} is wholly on screen and uncovered") from None


def packets_drawn(page: Any) -> bool:
    return bool(page.evaluate("() => document.querySelectorAll('#ladder [data-testid=\"ladder-packet\"]').length > 0"))


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_lesson_shows_its_point_whole_on_both_pages(dashboard: Any, pages: Any, size: tuple[int, int],
                                                          lang: str) -> None:
    width, height = size
    both = pages(width, height, lang)
    expect(both["student"].get_by_test_id("view-only-badge")).to_be_visible()
    skipped = []
    for n in LESSONS:
        if LESSONS[n].needs and not dashboard.config["WIRE"]:
            skipped.append(n)
            continue
        stage = run_lesson(dashboard, n)
        if stage is None:
            skipped.append(n)
            continue
        for who, page in both.items():
            where = f"{width}x{height} {lang}, lesson {n}, {who}"
            try:
                try:
                    SHARES[where] = check_page(page, who, n, stage, where)
                except AssertionError as first:
                    # Known glitch on a loaded machine (1 run in ~25 of this test, seen only on the log's
                    # rows, lessons 5 and 7): a layout change moves the log's scrollTop, which is read as
                    # the reader's scroll, and the step's point is not held. The lesson is given once more
                    # and must then pass; the first miss is kept in the summary as a warning.
                    warnings.warn(f"{where}: a second try after: {str(first).splitlines()[0]}", stacklevel=1)
                    again = run_lesson(dashboard, n)
                    assert again is not None
                    stage = again
                    SHARES[where] = check_page(page, who, n, stage, where)
                toggle = page.get_by_test_id("wire-toggle")
                if dashboard.config["WIRE"] and LESSONS[n].view != "compare":
                    # packets: drawn in the wire lessons, not in 1-9, and the toggle says which
                    expect(toggle).to_have_attribute("aria-pressed", "true" if LESSONS[n].packets else "false")
                    if not LESSONS[n].packets:
                        expect(toggle).to_have_attribute("data-by", "lesson")
                        assert not packets_drawn(page), f"{where}: packets drawn in a lesson without them"
            finally:
                if dashboard.config.get("CLASS") or CAPTURE is not None:  # (the docs' pictures: make class's)
                    shot(page, f"{width}x{height}-{lang}-lesson-{n}-{who}.png")
        if LESSONS[n].view == "compare":
            for page in both.values():
                page.get_by_test_id("compare-close").click()
    if skipped:
        print(f"\nlessons not given by this lab ({CAPTURE or 'no real loss'}): {skipped}")
    print("\nmain view share:", *(f"{k}: {v:.0%}" for k, v in SHARES.items() if k.startswith(f"{width}x{height} {lang}")),
          sep="\n  ")


def shot(page: Any, name: str) -> None:
    folder: Path = SHOTS
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name))


def test_without_capture_the_why_not_is_a_short_mark_outside_the_wire_lessons(open_page: Any, live_server: Any) -> None:
    """A lab that captures nothing: lesson 4's view keeps its lines (a short mark, the sentence on hover);
    the wire lesson 10 says the whole sentence, where the packets are the point."""
    page = open_page("?view=projector")
    why = page.get_by_test_id("wire-why")
    client = live_server.app.test_client()
    assert client.post("/api/stage", json={"lesson": 1}).status_code == 201
    expect(page.get_by_test_id("lesson-banner")).to_have_attribute("data-lesson", "1")
    expect(why).to_have_text("No packets")
    sentence = why.get_attribute("title") or ""
    assert sentence.startswith("Packet capture is off for this lab"), sentence
    one_line = why.evaluate("el => el.getBoundingClientRect().height <= 1.6 * parseFloat(getComputedStyle(el).lineHeight || 20)")
    assert one_line, "the mark takes more than one line"
    assert client.post("/api/stage", json={"lesson": 10}).status_code == 201
    expect(page.get_by_test_id("lesson-banner")).to_have_attribute("data-lesson", "10")
    expect(why).to_have_text(sentence)
    page.get_by_test_id("lang-select").select_option("zh")
    expect(why).not_to_have_text(sentence)  # in the reader's language


def test_a_student_can_still_open_a_card_and_the_log(dashboard: Any, pages: Any) -> None:
    both = pages(1024, 768, "en")
    stage = run_lesson(dashboard, 2)
    assert stage is not None
    student = both["student"]
    expect(student.get_by_test_id("lesson-banner")).to_have_attribute("data-stage", str(stage["stage"]))
    server = stage["lesson"]["ids"]["server"]
    chip = student.locator(f'[data-testid="endpoint-card"][data-endpoint-id="{server}"] [data-testid="endpoint-chip"]')
    chip.click()
    expect(chip).to_have_attribute("aria-expanded", "true")
    expect(student.locator(f'[data-testid="endpoint-card"][data-endpoint-id="{server}"]')
           .get_by_test_id("connections").get_by_test_id("connection")).to_have_count(4)
    student.get_by_test_id("follow-toggle").click()  # browsing on their own (following, the teacher's view shows)
    student.get_by_test_id("view-log").click()
    expect(student.get_by_test_id("classroom")).to_have_attribute("data-view", "log")
    expect(student.locator(log_row("accept", server)).first).to_be_visible()
    assert student.evaluate(WIDE) <= 0
