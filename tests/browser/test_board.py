"""The class at work on an exercise, in Chromium: the teacher starts it from the Exercises menu, the
class board shows students x checks live with the common mistakes, a row opens that student's
program in the diagram, a student's page shows their own checks with the hint in their language,
and the teacher ends it. At 1280x720 and 1024x768, for 40 and 100 students, in English and Chinese.

Only the real API is used: POST /api/stage {"exercise"}, GET /api/exercises, GET /api/exercise/results,
and rows as `exercise` events recorded on the dashboard's bus, as the checker records them (so a class of
40 or 100 is drawn without 100 programs; tests/browser/test_exercise_class.py runs real ones end to end).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from lab.exercises.registry import EXERCISES, exercise
from webapp import create_app, shutdown
from webapp.auth import Access

from ..support import LiveServer, serve, wait_until
from .test_join import CLASS_HOST, CONTROL, VIEW, open_as
from .test_lessons_on_screen import WIDE
from .test_traced_programs import traced
from .ui import expect, screenshots, wait_ready

SHOTS = screenshots("exercises")
ECHO = "echo-server"
CODES = [c.code for c in exercise(ECHO).checks]
SIZES = [(1280, 720), (1024, 768)]


def post_stage(server: LiveServer, body: dict[str, Any]) -> dict[str, Any]:
    answer = requests.post(f"{server.url}/api/stage", json=body, headers={"Authorization": f"Bearer {CONTROL}"}, timeout=10)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def record_row(server: LiveServer, name: str, checks: dict[str, str], reasons: dict[str, Any] | None = None,
               key: str = ECHO) -> None:
    """One student's whole row, as the checker records it when the row changes: an `exercise` event."""
    stage = server.app.extensions["socketlab_stage"]
    full = {code: checks.get(code, "pending") for code in CODES}
    stage.bus.publish("", "exercise", proto="", detail=f"{name}'s checks changed", params={
        "stage": stage.number, "exercise": key, "name": name, "address": f"10.0.0.{len(name)}", "checks": full,
        "hints": [code for code, state in full.items() if state == "fail"], "reasons": reasons or {},
        "passed_at": {code: 1_700_000_000 for code, state in full.items() if state == "pass"}})


# The class's mistakes, most common first: what the board must sort them into.
MISTAKES = [("recv-loop", 0.45), ("echo-split", 0.3), ("three-clients", 0.2), ("closed", 0.1)]


def a_class(server: LiveServer, n: int, seed: int = 7) -> dict[str, int]:
    """`n` students' rows (seeded): most checks passed, the classic mistakes at their rates, some still
    waiting. Returns how many failed each check."""
    rng = random.Random(seed)
    failed = {code: 0 for code in CODES}
    for i in range(n):
        checks = {code: "pass" for code in CODES}
        reasons: dict[str, Any] = {}
        for code, rate in MISTAKES:
            if rng.random() < rate:
                checks[code] = "fail"
                failed[code] += 1
        if checks["echo-split"] == "fail":
            reasons["echo-split"] = {"reason": "cut-short", "params": {"got": rng.randint(1, 30), "sent": 31}}
        if i % 9 == 4:
            checks["thread-per-client"] = checks["sends-bytes"] = "pending"
        record_row(server, f"student{i + 1:02d}", checks, reasons)
    return failed


@pytest.fixture
def board_server(folders: dict[str, Path]) -> Iterator[LiveServer]:
    """A class's dashboard (tokens, a LAN address)."""
    app = create_app({"TESTING": True, "FILES": str(folders["files"]), "DOWNLOADS": str(folders["downloads"]),
                      "ACCESS": Access(CONTROL, VIEW), "DASHBOARD_BIND": CLASS_HOST, "BIND": "0.0.0.0"})
    with serve(app, "board-server") as live:
        app.config["DASHBOARD_PORT"] = live.port
        yield live
    shutdown(app)


BALANCED = """() => { const rows = [...document.querySelectorAll('.board-grid tbody')].map(b => b.rows.length);
  return rows.length > 0 && rows[0] === Math.max(...rows); }"""


def join(server: LiveServer, name: str) -> str:
    code = requests.get(f"{server.url}/api/join", headers={"Authorization": f"Bearer {CONTROL}"}, timeout=10).json()["code"]
    answer = requests.post(f"{server.url}/api/join", json={"code": code, "name": name}, timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def teacher_on_board(browser: Any, server: LiveServer, size: tuple[int, int], lang: str, query: str = "") -> Any:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="en-US")
    context.set_default_timeout(20_000)
    context.add_init_script(f"localStorage.setItem('socketlab.lang', '{lang}')")
    page = open_as(context, server, CONTROL, query)
    expect(page.get_by_test_id("classroom")).to_have_attribute("data-view", "board")
    return page


def mistakes_on_board(page: Any) -> list[tuple[str, int]]:
    found = page.get_by_test_id("board-mistake").evaluate_all("els => els.map(e => [e.dataset.code, Number(e.dataset.count)])")
    return [(str(code), int(count)) for code, count in found]


def test_the_exercises_menu_fits_at_1024_in_both_languages(browser: Any, board_server: LiveServer) -> None:
    for lang in ("en", "zh"):
        context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="en-US")
        context.add_init_script(f"localStorage.setItem('socketlab.lang', '{lang}')")
        try:
            page = open_as(context, board_server, CONTROL)
            page.get_by_test_id("lessons-button").click()
            last = page.get_by_test_id("exercise-preset").last
            expect(last).to_be_in_viewport()  # beside the lessons, not below them
            box = page.locator(".lessons-drop").bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1024, box
            assert page.evaluate(WIDE) <= 0, "the page scrolls sideways"
            page.screenshot(path=str(SHOTS / f"menu-{lang}-1024x768.png"))
        finally:
            context.close()


def test_the_teacher_starts_an_exercise_from_the_menu_and_ends_it(browser: Any, board_server: LiveServer) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="en-US")
    try:
        viewer = open_as(context, board_server, VIEW)  # follows the teacher
        page = open_as(context, board_server, CONTROL)
        expect(page.get_by_test_id("view-board")).to_be_hidden()
        page.get_by_test_id("lessons-button").click()
        presets = page.get_by_test_id("exercise-preset")
        expect(presets).to_have_count(len(EXERCISES))
        expect(presets.first).to_contain_text("Echo server")
        page.screenshot(path=str(SHOTS / "menu-en-1280x720.png"))
        page.locator(f'[data-testid="exercise-preset"][data-key="{ECHO}"]').click()
        # a new stage running the exercise: the board is shown, for the teacher and, through the teacher's view, the class
        expect(page.get_by_test_id("classroom")).to_have_attribute("data-view", "board")
        expect(page.get_by_test_id("board-title")).to_have_text("Exercise 1: Echo server")
        expect(page.get_by_test_id("board-empty")).to_be_visible()
        wait_until(lambda: requests.get(f"{board_server.url}/api/stage", headers={"Authorization": f"Bearer {CONTROL}"},
                                        timeout=10).json()["teacher"]["view"] == "board")
        expect(viewer.get_by_test_id("classroom")).to_have_attribute("data-view", "board")
        expect(viewer.get_by_test_id("exercise-card")).to_be_visible()
        expect(viewer.get_by_test_id("exercise-lanes")).to_have_count(0)  # (a student's own button)
        page.get_by_test_id("exercise-end").click()
        expect(page.get_by_test_id("view-board")).to_be_hidden()
        expect(page.get_by_test_id("classroom")).not_to_have_attribute("data-view", "board")
        expect(viewer.get_by_test_id("classroom")).not_to_have_attribute("data-view", "board")
        expect(viewer.get_by_test_id("exercise-card")).to_be_hidden()
    finally:
        context.close()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_board_of_40_students_live(browser: Any, board_server: LiveServer, size: tuple[int, int], lang: str) -> None:
    post_stage(board_server, {"exercise": ECHO})
    page = teacher_on_board(browser, board_server, size, lang)
    viewer = open_as(page.context, board_server, VIEW)  # following the teacher: the board too
    expect(viewer.get_by_test_id("classroom")).to_have_attribute("data-view", "board")
    # (rows recorded as events reach the pages open then: a page opened later asks the checker's results)
    projector = open_as(page.context, board_server, CONTROL, "&view=projector")
    failed = a_class(board_server, 40)
    expect(page.get_by_test_id("board-row")).to_have_count(40)
    expect(viewer.get_by_test_id("board-row")).to_have_count(40)
    expected = sorted(((c, n) for c, n in failed.items() if n), key=lambda cn: (-cn[1], CODES.index(cn[0])))
    wait_until(lambda: mistakes_on_board(page) == expected, timeout=10)
    assert expected[0][0] == "recv-loop"
    first = page.get_by_test_id("board-mistake").first
    if lang == "en":
        expect(first).to_contain_text(f"{expected[0][1]} of 40: One recv() for a message sent in pieces")
        expect(page.get_by_test_id("board-where")).to_contain_text("the lab connects to the port your traced program listens on")
        expect(page.locator('[data-code="echo-split"][data-testid="board-mistake"]')).to_contain_text("then the server closed")
    else:
        expect(first).to_contain_text(f"40 人中 {expected[0][1]} 人：一次 recv() 读取分成几段发送的消息")
        expect(page.get_by_test_id("board-title")).to_have_text("练习 1：回显服务器")
    # pass, fail and waiting each have their symbol and their word (never colour alone)
    row = page.locator('[data-testid="board-row"][data-name="student05"]')
    cell = row.locator('[data-code="thread-per-client"]')
    expect(cell).to_have_attribute("data-state", "pending")
    expect(cell.locator(".mark")).to_have_text("…")
    expect(cell.locator(".sr-only")).to_contain_text("waiting" if lang == "en" else "等待中")
    # an event changes that student's row only, in place
    page.evaluate("() => { window.__kept = document.querySelector('[data-name=\"student01\"]'); }")
    record_row(board_server, "student05", {code: "pass" for code in CODES})
    expect(row.get_by_test_id("board-count")).to_have_text(f"{len(CODES)}/{len(CODES)}")
    expect(cell.locator(".mark")).to_have_text("✓")
    assert page.evaluate("() => window.__kept === document.querySelector('[data-name=\"student01\"]')")
    assert page.evaluate(WIDE) <= 0, "the page scrolls sideways"
    page.screenshot(path=str(SHOTS / f"board-40-{lang}-{size[0]}x{size[1]}.png"))
    expect(projector.get_by_test_id("board-row")).to_have_count(40)
    assert projector.evaluate(WIDE) <= 0, "the projector scrolls sideways"
    projector.screenshot(path=str(SHOTS / f"board-40-projector-{lang}-{size[0]}x{size[1]}.png"))
    page.context.close()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_100_students_scroll_inside_the_board_under_its_header(browser: Any, board_server: LiveServer,
                                                                 size: tuple[int, int]) -> None:
    post_stage(board_server, {"exercise": ECHO})
    page = teacher_on_board(browser, board_server, size, "en", "&view=projector")
    a_class(board_server, 100, seed=11)
    expect(page.get_by_test_id("board-row")).to_have_count(100)
    # students who join are put at the end of the last table at once and the tables balanced within a
    # second (board.js placeSoon): the head stays put once the first table is again the longest
    page.wait_for_function(BALANCED)
    assert page.evaluate(WIDE) <= 0, "the page scrolls sideways"
    scroll = page.locator(".board-scroll")
    head_top = page.locator(".board-grid thead th").first.evaluate("el => el.getBoundingClientRect().top")
    scroll.evaluate("el => el.scrollTop = el.scrollHeight")
    assert scroll.evaluate("el => el.scrollTop") > 0, "100 rows scroll inside the board's box"
    assert abs(page.locator(".board-grid thead th").first.evaluate("el => el.getBoundingClientRect().top") - head_top) < 1
    expect(page.locator('[data-name="student100"]')).to_be_in_viewport()
    scroll.evaluate("el => el.scrollTop = 0")
    page.screenshot(path=str(SHOTS / f"board-100-en-{size[0]}x{size[1]}.png"))
    page.context.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_student_sees_their_own_checks_live(browser: Any, board_server: LiveServer, lang: str) -> None:
    post_stage(board_server, {"exercise": ECHO})
    token = join(board_server, "Ann")
    for size in SIZES:
        context = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="en-US")
        context.set_default_timeout(20_000)
        context.add_init_script(f"localStorage.setItem('socketlab.lang', '{lang}')")
        try:
            page = open_as(context, board_server, token)
            card = page.get_by_test_id("exercise-card")
            expect(card).to_be_visible()
            expect(page.get_by_test_id("exercise-command")).to_have_text("python3 socketlab_trace.py my_server.py")
            expect(page.get_by_test_id("exercise-check")).to_have_count(len(CODES))
            if size == SIZES[0]:  # (then Ann's row is on the stage: a page opened later gets it)
                expect(page.get_by_test_id("exercise-count")).to_contain_text(
                    "Waiting for your program" if lang == "en" else "等待你的程序")
            record_row(board_server, "Bob", {"closed": "fail"})  # another student: not on Ann's card
            record_row(board_server, "Ann", {"server-call-order": "pass", "echo-exact": "pass", "echo-split": "fail"},
                       {"echo-split": {"reason": "cut-short", "params": {"got": 5, "sent": 31}}})
            expect(page.get_by_test_id("exercise-count")).to_contain_text(
                f"2 of {len(CODES)} checks passed" if lang == "en" else f"{len(CODES)} 项检查中通过了 2 项")
            failed = page.locator('[data-testid="exercise-check"][data-state="fail"]')
            expect(failed).to_have_count(1)
            if lang == "en":
                expect(failed.get_by_test_id("exercise-hint")).to_contain_text("keep calling recv() in a loop")
                expect(failed.get_by_test_id("exercise-reason")).to_have_text(
                    "Got back 5 of 31 bytes, then the server closed the connection.")
            else:
                expect(failed.get_by_test_id("exercise-hint")).to_contain_text("请循环调用 recv()")
                expect(failed.get_by_test_id("exercise-reason")).to_have_text("收回 31 字节中的 5 字节后，服务器关闭了连接。")
            assert page.evaluate(WIDE) <= 0, "the student's page scrolls sideways"
            page.screenshot(path=str(SHOTS / f"student-{lang}-{size[0]}x{size[1]}.png"))
            page.get_by_test_id("view-board").click()  # the board, their own row marked
            expect(page.locator('[data-testid="board-row"].mine')).to_have_attribute("data-name", "Ann")
        finally:
            context.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_student_of_a_client_exercise_sees_where_the_labs_server_is(browser: Any, board_server: LiveServer,
                                                                        lang: str) -> None:
    stage = post_stage(board_server, {"exercise": "downloader"})
    server = stage["exercise"]["servers"][0]
    token = join(board_server, "Ann")
    context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="en-US")
    context.add_init_script(f"localStorage.setItem('socketlab.lang', '{lang}')")
    try:
        page = open_as(context, board_server, token)
        where = page.get_by_test_id("exercise-where")
        expect(where).to_contain_text(f"{server['proto'].upper()} {server['host']}:{server['port']}")
        expect(where.locator("li.address").first).to_be_visible()
        if stage["exercise"]["file"]:
            expect(where).to_contain_text(stage["exercise"]["file"]["name"])
        expect(page.get_by_test_id("exercise-command")).to_have_text("python3 socketlab_trace.py my_client.py")
        expect(page.get_by_test_id("exercise-title")).to_have_text(
            "Exercise 3: Downloader" if lang == "en" else "练习 3：下载器")
        assert page.evaluate(WIDE) <= 0, "the student's page scrolls sideways"
        page.screenshot(path=str(SHOTS / f"student-downloader-{lang}-1024x768.png"))
    finally:
        context.close()


def test_a_row_opens_that_students_program(browser: Any, folders: dict[str, Path]) -> None:
    """A traced program (the real tracer, under the student's name) and its row: the row's name focuses
    the diagram on that program's lanes."""
    app = create_app({"TESTING": True, "FILES": str(folders["files"]), "DOWNLOADS": str(folders["downloads"])})
    with serve(app, "board-lanes") as server:
        post_stage(server, {"exercise": ECHO})
        context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="en-US")
        context.set_default_timeout(20_000)
        program = traced(server.url, "alice", "threaded_echo_server.py", "2")
        try:
            page = context.new_page()
            page.goto(server.url + "/")
            wait_ready(page)  # (its event stream connected: the rows below come live)
            expect(page.get_by_test_id("classroom")).to_have_attribute("data-view", "board")
            assert program.stdout is not None
            int(program.stdout.readline())  # it listens
            record_row(server, "alice", {"server-call-order": "pass"})
            record_row(server, "bob", {})
            page.locator('[data-name="bob"] [data-testid="board-open"]').click()
            expect(page.get_by_test_id("board-note")).to_contain_text("bob's program has no socket")
            page.locator('[data-name="alice"] [data-testid="board-open"]').click()
            expect(page.get_by_test_id("classroom")).to_have_attribute("data-view", "split")
            expect(page.locator("body")).to_have_class("focused")
            expect(page.get_by_test_id("focus-select")).to_have_attribute("data-focus", "@alice")
            expect(page.get_by_test_id("focus-select")).to_have_value("@alice")  # listed as "alice's program"
            expect(page.locator('#focus-select option[value="@alice"]')).to_have_text("alice's program")
            expect(page.locator("#ladder-lanes").get_by_text("alice").first).to_be_visible()
            page.screenshot(path=str(SHOTS / "board-row-opens-lanes-en-1280x720.png"))
            page.get_by_test_id("focus-clear").click()
            expect(page.get_by_test_id("classroom")).to_have_attribute("data-view", "board")
            expect(page.locator('#focus-select option[value="@alice"]')).to_have_count(0)
        finally:
            program.kill()
            program.communicate(timeout=10)
            context.close()
    shutdown(app)
