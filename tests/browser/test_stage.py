"""The classroom stage on the page: a lesson started in one tab closes every tab's sockets after a
confirmation that names them, the banner is drawn from the server's stage on every page (reload,
second tab, viewer, late joiner), and viewers follow the teacher's view, focus and lesson step."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from webapp.auth import Access

from ..conftest import RUNNERS
from ..support import wait_until
from .conftest import PageProblems
from .test_classroom import lab_of, show
from .test_lessons import start_lesson
from .ui import card, create, expect, port_of, wait_ready

CONTROL, VIEW = "control-st4ge", "view-st4ge"

# whatever runs the lab, the page's stage is the same: each test runs embedded and over an agent
pytestmark = pytest.mark.parametrize("app", RUNNERS, indirect=True)


@pytest.fixture
def classroom(live_server: Any) -> Any:
    """The live dashboard with a control token and a view token, as in a classroom."""
    live_server.app.config["ACCESS"] = Access(CONTROL, VIEW)
    return live_server


@pytest.fixture
def viewer(browser: Any, classroom: Any) -> Iterator[Callable[[], Any]]:
    """viewer() -> a student's page with the view token, in its own browser (its own storage)."""
    contexts: list[Any] = []
    problems = PageProblems()

    def open_() -> Any:
        ctx = browser.new_context(viewport={"width": 1280, "height": 720}, locale="en-US")
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("console", problems.console)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.goto(f"{classroom.url}/?token={VIEW}")
        wait_ready(page)
        expect(page.get_by_test_id("view-only-badge")).to_be_visible()
        return page

    yield open_
    for ctx in contexts:
        ctx.close()
    assert not problems, "the viewer's page reported problems:\n" + "\n".join(problems)


def teacher_of(server: Any) -> dict[str, Any]:
    teacher: dict[str, Any] = server.app.extensions["socketlab_stage"].to_json()["teacher"]
    return teacher


def test_a_lesson_chosen_in_one_tab_closes_the_sockets_of_another_after_naming_them(
        classroom: Any, open_page: Any) -> None:
    first = open_page(f"?token={CONTROL}")
    second = open_page(f"?token={CONTROL}")
    server_id, _ = create(second, "tcp-server", mode="echo")
    client_id, _ = create(second, "tcp-client", port=port_of(card(second, server_id)))
    expect(card(second, client_id).get_by_test_id("endpoint-state")).to_have_attribute("data-state", "connected")

    first.get_by_test_id("lessons-button").click()
    first.locator('[data-testid="lesson-preset"][data-lesson="2"]').click()
    dialog = first.get_by_test_id("stage-confirm")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("stage-confirm-title")).to_have_text("Start lesson 2: Many clients, one server?")
    expect(dialog.get_by_test_id("stage-confirm-text")).to_contain_text("all 2 sockets open in the lab")
    dialog.get_by_test_id("stage-cancel").click()  # nothing happens: the other tab's sockets stay
    expect(dialog).to_be_hidden()
    assert sorted(lab_of(classroom).endpoints) == sorted([server_id, client_id])
    expect(first.get_by_test_id("lesson-banner")).to_be_hidden()

    banner = start_lesson(first, 2)  # asks again, and goes on
    for page in (first, second):
        expect(card(page, server_id)).to_have_count(0)
        expect(card(page, client_id)).to_have_count(0)
        expect(page.get_by_test_id("lesson-banner")).to_have_attribute("data-lesson", "2")
    ids = classroom.app.extensions["socketlab_stage"].to_json()["lesson"]["ids"]
    expect(card(second, ids["server"]).get_by_test_id("connection")).to_have_count(3)
    expect(banner.get_by_test_id("lesson-title")).to_have_text("Many clients, one server")

    # "New stage" asks the same way, then every page's banner goes
    second.get_by_test_id("stage-new").click()
    expect(second.get_by_test_id("stage-confirm-title")).to_have_text("Start a new stage?")
    expect(second.get_by_test_id("stage-confirm-text")).to_contain_text("all 4 sockets")
    second.get_by_test_id("stage-ok").click()
    for page in (first, second):
        expect(page.get_by_test_id("lesson-banner")).to_be_hidden()
        expect(page.get_by_test_id("endpoint-card")).to_have_count(0)
    assert not lab_of(classroom).endpoints


def test_a_reload_in_the_middle_of_lesson_5_shows_lesson_5(classroom: Any, open_page: Any) -> None:
    page = open_page(f"?token={CONTROL}")
    start_lesson(page, 4)
    page.get_by_test_id("lesson-banner").get_by_test_id("lesson-action").first.click()
    banner = start_lesson(page, 5)
    banner.get_by_test_id("lesson-action").filter(has_text="Download raw").click()
    expect(banner.get_by_test_id("lesson-step")).to_have_text("Step 1: Download raw")
    download = classroom.app.extensions["socketlab_stage"].to_json()["lesson"]["download"]

    page.reload()
    wait_ready(page)
    expect(banner).to_have_attribute("data-lesson", "5")
    expect(banner).to_have_attribute("data-state", "ready")
    expect(banner.get_by_test_id("lesson-title")).to_have_text("File download: raw vs framed")
    expect(banner.get_by_test_id("lesson-step")).to_have_text("Step 1: Download raw")
    expect(banner.get_by_test_id("lesson-action")).to_have_count(2)
    form = page.get_by_test_id("download-form")  # the lesson's Download form, filled in again
    expect(form.get_by_test_id("download-server")).to_have_value(download["server"])
    expect(form.get_by_test_id("download-protocol")).to_have_value("framed")


def test_a_late_viewer_lands_where_the_teacher_is_and_follows(classroom: Any, open_page: Any, viewer: Any) -> None:
    teacher = open_page(f"?token={CONTROL}")
    banner = start_lesson(teacher, 1)  # nothing open yet: no confirmation
    expect(teacher.get_by_test_id("classroom")).to_have_attribute("data-view", "ladder")
    show(teacher, "numbers")
    wait_until(lambda: teacher_of(classroom)["view"] == "numbers")

    student = viewer()  # joins late
    seen = student.get_by_test_id("lesson-banner")
    expect(seen).to_have_attribute("data-lesson", "1")
    expect(seen.get_by_test_id("lesson-title")).to_have_text("TCP echo")
    expect(seen.get_by_test_id("lesson-action")).to_have_count(0)  # viewers read, the teacher acts
    expect(student.get_by_test_id("classroom")).to_have_attribute("data-view", "numbers")
    toggle = student.get_by_test_id("follow-toggle")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(teacher.get_by_test_id("follow-toggle")).to_be_hidden()  # the teacher leads

    banner.get_by_test_id("lesson-action").filter(has_text="Send hello").click()
    expect(seen.get_by_test_id("lesson-step")).to_have_text("Step 1: Send hello")

    show(teacher, "ladder")  # a view...
    expect(student.get_by_test_id("classroom")).to_have_attribute("data-view", "ladder")
    pick = teacher.get_by_test_id("focus-select")  # ...and a focus on the echo connection
    expect(pick.locator("option")).not_to_have_count(1)
    lane = pick.locator("option").nth(1).get_attribute("value")
    pick.select_option(lane)
    expect(student.get_by_test_id("focus-select")).to_have_attribute("data-focus", lane)
    expect(student.get_by_test_id("classroom")).to_have_attribute("data-view", "split")
    wait_until(lambda: teacher_of(classroom) == {"view": "split", "focus": [lane]})

    toggle.click()  # the student browses on their own
    expect(toggle).to_have_attribute("aria-pressed", "false")
    assert student.evaluate("localStorage.getItem('socketlab.follow')") == "off"
    teacher.get_by_test_id("focus-clear").click()
    show(teacher, "numbers")
    wait_until(lambda: teacher_of(classroom) == {"view": "numbers", "focus": None})
    banner.get_by_test_id("lesson-action").click()  # step 2 reaches the student after the view change
    expect(seen.get_by_test_id("lesson-step")).to_have_text("Step 2: Send hello")
    expect(student.get_by_test_id("classroom")).to_have_attribute("data-view", "split")
    expect(student.get_by_test_id("focus-select")).to_have_attribute("data-focus", lane)

    toggle.click()  # following again: straight to where the teacher is
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(student.get_by_test_id("classroom")).to_have_attribute("data-view", "numbers")
    expect(student.get_by_test_id("focus-select")).to_have_attribute("data-focus", "")


def test_every_page_shows_lesson_8_and_counts_the_teachers_run(classroom: Any, open_page: Any, viewer: Any) -> None:
    student = viewer()
    teacher = open_page(f"?token={CONTROL}")
    start_lesson(teacher, 8)
    panels = [page.get_by_test_id("compare-panel") for page in (teacher, student)]
    for panel in panels:
        expect(panel).to_be_visible()  # the lesson names its view: the comparison, on every page
    expect(panels[1].get_by_test_id("compare-run")).to_be_hidden()
    panels[0].get_by_test_id("compare-count").fill("12")
    panels[0].get_by_test_id("compare-interval").fill("10")
    panels[0].get_by_test_id("compare-run").click()
    keys = ("sent", "received", "lost", "duplicated", "late", "lost-list")
    results = []
    for panel in panels:
        expect(panel).to_have_attribute("data-run", "1")
        expect(panel).to_have_attribute("data-state", "done")
        results.append({proto: {k: panel.get_by_test_id(f"compare-{proto}").get_attribute(f"data-{k}") for k in keys}
                        for proto in ("tcp", "udp")})
    assert results[0] == results[1], "the student counts what the teacher counts"
    assert results[0]["tcp"]["received"] == "12"
    expect(student.get_by_test_id("compare-status")).to_contain_text("12 messages")

    teacher.get_by_test_id("compare-close").click()
    teacher.get_by_test_id("stage-new").click()
    teacher.get_by_test_id("stage-ok").click()
    expect(panels[1]).to_be_hidden()  # a new stage puts the comparison away everywhere


def test_an_action_that_fails_is_a_sentence_in_the_banner(classroom: Any, open_page: Any) -> None:
    page = open_page(f"?token={CONTROL}")
    banner = start_lesson(page, 3)
    stop = banner.get_by_test_id("lesson-action").filter(has_text="Stop the server")
    stop.click()
    expect(banner.get_by_test_id("lesson-step")).to_have_text("Step 1: Stop the server")
    stop.click()  # the server is gone: the lab refuses, the banner says why
    error = banner.get_by_test_id("lesson-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("A socket this lesson made was stopped meanwhile")
    expect(error).not_to_contain_text("{")
    page.get_by_test_id("lang-select").select_option("zh")  # the step is worded in the page's language
    expect(banner.get_by_test_id("lesson-step")).to_have_text("第 1 步：停止服务器")
