"""A student's page offers the one-file tracer: after joining (the /join page), "Trace your program"
shows the download and the two commands, in English and Chinese, axe-clean; the file it saves holds
the student's own token and name. A teacher's or a viewer's page has no such button."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from webapp import create_app, shutdown
from webapp.auth import Access

from ..support import LiveServer, serve
from .test_a11y import axe
from .ui import expect, screenshots, wait_ready

CONTROL, VIEW, CODE = "control-trace-panel", "view-trace-panel", "K7Q2XM"
COMMANDS = ["python3 socketlab_trace.py my_server.py", "py socketlab_trace.py my_server.py"]


@pytest.fixture
def dashboard(folders: dict[str, Path]) -> Iterator[LiveServer]:
    app = create_app({"TESTING": True, "FILES": str(folders["files"]), "DOWNLOADS": str(folders["downloads"]),
                      "ACCESS": Access(CONTROL, VIEW), "JOIN_CODE": CODE})
    with serve(app, "trace-panel-dashboard") as live:
        yield live
    shutdown(app)


@pytest.fixture
def student_context(browser: Any) -> Iterator[Any]:
    """At 1280x720, downloads allowed, and axe-core injectable (as tests/browser/test_a11y.py's contexts)."""
    context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="en-US", bypass_csp=True,
                                  accept_downloads=True)
    yield context
    context.close()


def test_a_student_gets_the_tracer_and_the_command(student_context: Any, dashboard: LiveServer, tmp_path: Path) -> None:
    page = student_context.new_page()
    page.goto(f"{dashboard.url}/join")
    page.get_by_test_id("join-code").fill(CODE.lower())
    page.get_by_test_id("join-name").fill("Ann")
    page.get_by_test_id("join-submit").click()
    wait_ready(page)
    opener = page.get_by_test_id("trace-open")
    expect(opener).to_be_visible()
    opener.click()
    panel = page.get_by_test_id("trace-panel")
    expect(panel).to_be_visible()
    expect(panel.get_by_test_id("trace-command").locator("code")).to_have_text(COMMANDS)
    found = axe(page)
    assert not found, found
    shots = screenshots("trace")
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "trace-panel-en-1280x720.png"))
    with page.expect_download() as waiting:
        panel.get_by_test_id("trace-download").click()
    saved = tmp_path / "socketlab_trace.py"
    waiting.value.save_as(saved)
    assert waiting.value.suggested_filename == "socketlab_trace.py"
    text = saved.read_text(encoding="utf-8")
    token = page.evaluate("sessionStorage.getItem('socketlab.token')")
    assert f"TOKEN = {token!r}" in text and "NAME = 'Ann'" in text and CONTROL not in text and VIEW not in text
    assert token not in page.url
    # in Chinese: the same commands, the words translated
    page.get_by_test_id("trace-close").click()
    page.get_by_test_id("lang-select").select_option("zh")
    expect(opener).to_have_text("跟踪器")
    opener.click()
    expect(panel.get_by_test_id("trace-download")).to_have_text("下载 socketlab_trace.py")
    expect(panel.get_by_test_id("trace-command").locator("code")).to_have_text(COMMANDS)
    found = axe(page)
    assert not found, found
    page.screenshot(path=str(shots / "trace-panel-zh-1280x720.png"))
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    # the button takes room in the header: at 1024x768, in both languages, every header control stays on screen
    page.set_viewport_size({"width": 1024, "height": 768})
    for lang in ("en", "zh"):
        page.get_by_test_id("lang-select").select_option(lang)
        for control in ("trace-open", "shortcuts-open", "lang-select"):
            box = page.get_by_test_id(control).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1024, (lang, control, box)
    page.screenshot(path=str(shots / "student-header-zh-1024x768.png"))


def test_no_tracer_button_for_the_teacher_or_a_viewer(context: Any, dashboard: LiveServer) -> None:
    for token in (CONTROL, VIEW):
        page = context.new_page()
        page.goto(f"{dashboard.url}/?token={token}")
        wait_ready(page)
        expect(page.get_by_test_id("trace-open")).to_be_hidden()
        page.close()
