"""Accessibility, checked by axe-core (vendored in tests/vendor/, pinned: classrooms and CI are often
offline) on every page a class sees: the teacher's page and its panels, the projector, a student's
page and /join, in both themes, with and without high contrast, in English and Chinese, at 1280x720
and 1024x768. Every violation counts, whatever axe calls its impact.

The themes, languages and sizes are combined pairwise (each pair of choices is seen together once):
one server, one browser, a context per combination, every page in each.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from ..support import LiveServer
from .test_classroom import lab_of
from .test_join import CONTROL, class_server, open_as, student_token  # noqa: F401 (class_server: a fixture)
from .test_lessons import start_lesson
from .test_board import a_class, board_server, join, post_stage  # noqa: F401 (board_server: a fixture)
from .test_projector import lesson_traffic
from .ui import expect, log_rows

AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe-core-4.14.1.min.js"
# every page in every look, to look at as the back of the room would (not the docs': a temporary folder)
REVIEW = Path(tempfile.gettempdir()) / "socketlab-a11y-review"

# (theme, high contrast, language, viewport): every pair of theme x language x size once, and high
# contrast in both themes.
LOOKS = [
    ("light", False, "en", (1280, 720)),
    ("light", False, "zh", (1024, 768)),
    ("dark", False, "en", (1024, 768)),
    ("dark", False, "zh", (1280, 720)),
    ("light", True, "zh", (1280, 720)),
    ("dark", True, "en", (1024, 768)),
]

RUN_AXE = """async () => {
  const found = await axe.run(document, {resultTypes: ["violations"]});
  return found.violations.map((v) => ({id: v.id, impact: v.impact,
    nodes: v.nodes.map((n) => n.target.join(" ") + " :: " + n.failureSummary.replace(/\\s+/g, " ").slice(0, 300))}));
}"""


def look_name(look: tuple[str, bool, str, tuple[int, int]]) -> str:
    theme, high, lang, (width, height) = look
    return f"{theme}{'+hc' if high else ''}/{lang}/{width}x{height}"


def looking(browser: Any, look: tuple[str, bool, str, tuple[int, int]]) -> Any:
    """A browser context that opens every page in `look` (as the page remembers a reader's choices)."""
    theme, high, lang, (width, height) = look
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US", bypass_csp=True)
    context.set_default_timeout(20_000)
    choices = {"socketlab.theme": theme, "socketlab.lang": lang, "socketlab.contrast": "high" if high else "normal"}
    context.add_init_script(f"for (const [k, v] of Object.entries({json.dumps(choices)})) localStorage.setItem(k, v);")
    return context


def axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    return list(page.evaluate(RUN_AXE))


class Audit:
    """Violations by page and look; the test fails when any is left, listing them all."""

    def __init__(self) -> None:
        self.found: dict[str, dict[str, list[dict[str, Any]]]] = {}

    def check(self, page: Any, where: str, look: str) -> None:
        self.found.setdefault(where, {})[look] = axe(page)
        REVIEW.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(REVIEW / f"{where.replace(' ', '-').strip('/')}-{look.replace('/', '-')}.png"))

    def table(self) -> str:
        lines = []
        for where, looks in self.found.items():
            counts = {look: sum(len(v["nodes"]) for v in found) for look, found in looks.items()}
            rules = sorted({f"{v['id']}({v['impact']})" for found in looks.values() for v in found})
            lines.append(f"{where:<22} nodes {max(counts.values())} max, per look {counts} rules {rules}")
        return "\n".join(lines)

    def details(self) -> str:
        out = []
        for where, looks in self.found.items():
            for look, found in looks.items():
                for v in found:
                    out.append(f"{where} [{look}] {v['id']} ({v['impact']}):")
                    out.extend(f"    {node}" for node in v["nodes"][:6])
        return "\n".join(out)


@pytest.fixture
def lesson_four(class_server: LiveServer, context: Any) -> Iterator[LiveServer]:  # noqa: F811
    """The class dashboard during lesson 4, with every kind of arrow on the diagram (data both
    ways, UDP with datagrams lost, connect and close)."""
    teacher = open_as(context, class_server, CONTROL)
    start_lesson(teacher, 4)
    teacher.close()
    lesson_traffic(lab_of(class_server))
    yield class_server


def audit_teacher(page: Any, audit: Audit, look: str) -> None:
    page.get_by_test_id("view-split").click()
    expect(page.get_by_test_id("ladder-arrow").first).to_be_visible()
    audit.check(page, "teacher", look)
    page.get_by_test_id("view-numbers").click()
    expect(page.get_by_test_id("counters")).to_be_visible()
    audit.check(page, "teacher numbers", look)
    page.get_by_test_id("view-log").click()
    log_rows(page, "recv").first.click()
    expect(page.get_by_test_id("log-detail")).to_be_visible()
    audit.check(page, "log detail", look)
    page.get_by_test_id("lessons-button").click()
    expect(page.get_by_test_id("lesson-preset").first).to_be_visible()
    audit.check(page, "lessons menu", look)
    page.get_by_test_id("lessons-button").click()
    page.get_by_test_id("join-open").click()
    expect(page.get_by_test_id("join-qr")).to_be_visible()
    audit.check(page, "join panel", look)
    page.keyboard.press("Escape")


def test_axe_finds_nothing_on_any_page(browser: Any, lesson_four: LiveServer) -> None:
    server = lesson_four
    audit = Audit()
    student = student_token(server)
    for look in LOOKS:
        name = look_name(look)
        context = looking(browser, look)
        try:
            audit_teacher(open_as(context, server, CONTROL), audit, name)
            projector = open_as(context, server, CONTROL, "&view=projector")
            projector.get_by_test_id("view-split").click()
            audit.check(projector, "projector", name)
            viewer = open_as(context, server, student)
            viewer.get_by_test_id("view-split").click()
            expect(viewer.get_by_test_id("follow-toggle")).to_be_visible()
            audit.check(viewer, "student", name)
            viewer.get_by_test_id("trace-open").click()
            expect(viewer.get_by_test_id("trace-download")).to_be_visible()
            audit.check(viewer, "trace panel (student)", name)
            viewer.keyboard.press("Escape")
            join = context.new_page()
            join.goto(f"{server.url}/join")
            expect(join.get_by_test_id("join-submit")).not_to_be_empty()
            audit.check(join, "/join", name)
        finally:
            context.close()
    # the comparison panel opens on every page that loads during lesson 8
    context = looking(browser, LOOKS[0])
    teacher = open_as(context, server, CONTROL)
    start_lesson(teacher, 8)
    context.close()
    for look in LOOKS:
        context = looking(browser, look)
        try:
            for token, where in ((CONTROL, "comparison"), (student, "comparison (student)")):
                page = open_as(context, server, token)
                expect(page.get_by_test_id("compare-panel")).to_be_visible()
                audit.check(page, where, look_name(look))
        finally:
            context.close()
    print("\naxe-core violations (nodes) by page:\n" + audit.table())
    assert not any(found for looks in audit.found.values() for found in looks.values()), (
        audit.table() + "\n" + audit.details())


def test_axe_finds_nothing_on_the_class_board(browser: Any, board_server: LiveServer) -> None:  # noqa: F811
    """During an exercise: the teacher's board (rows, common mistakes, the Exercises menu) and a
    student's page with their own checks, in every look."""
    post_stage(board_server, {"exercise": "echo-server"})
    token = join(board_server, "student03")
    audit = Audit()
    for look in LOOKS:
        name = look_name(look)
        context = looking(browser, look)
        try:
            teacher = open_as(context, board_server, CONTROL)
            student = open_as(context, board_server, token)
            a_class(board_server, 12)  # (live: the rows reach the pages open now)
            expect(teacher.get_by_test_id("board-row")).to_have_count(12)
            expect(teacher.get_by_test_id("board-mistake").first).to_be_visible()
            audit.check(teacher, "board", name)
            teacher.get_by_test_id("lessons-button").click()
            expect(teacher.get_by_test_id("exercise-preset").first).to_be_visible()
            audit.check(teacher, "exercises menu", name)
            expect(student.locator('[data-testid="exercise-check"][data-state="fail"]').first).to_be_visible()
            audit.check(student, "student's checks", name)
        finally:
            context.close()
    print("\naxe-core violations (nodes) by page:\n" + audit.table())
    assert not any(found for looks in audit.found.values() for found in looks.values()), (
        audit.table() + "\n" + audit.details())
