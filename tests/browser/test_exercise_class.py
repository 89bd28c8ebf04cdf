"""A class at work, end to end on three hosts (network namespaces), on each of the lab's paths (the lab
embedded in the dashboard, and `make class`'s lab agents over Redis): the teacher's dashboard on host 1
starts the echo-server exercise; Ann (host 2, English) and Bo (host 3, Chinese) join in Chromium on
their own hosts, download the tracer from their page, and run their own echo servers under it. The
lab checks each program from its traced calls and by connecting to it (at the address it posts from,
on the port it listens on), and every page shows it: the teacher's board with its common mistakes,
and each student's own checks, with Bo's hint in Chinese. Nothing is injected: every row comes from
the checker."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from .test_join import CONTROL, FETCH, NamespaceDashboard, chromium_in, open_teacher
from .ui import expect, screenshots, wait_ready

SHOTS = screenshots("exercises")
CLIENTS = 6  # the lab's probes: one message, glued, split, then three clients at once

# Students' servers as a class writes them for the lab to reach: bound to every address.
TEXTBOOK = """import socket, sys, threading
def serve(conn):
    with conn:
        while True:
            data = conn.recv(1024)
            if not data:
                break
            conn.sendall(data)
workers = []
with socket.socket() as server:
    server.bind(("", 0))
    server.listen()
    print(server.getsockname()[1], flush=True)
    for _ in range(int(sys.argv[1])):
        conn, _ = server.accept()
        worker = threading.Thread(target=serve, args=(conn,))
        worker.start()
        workers.append(worker)
for worker in workers:
    worker.join()
"""
ONE_RECV = TEXTBOOK.replace("""        while True:
            data = conn.recv(1024)
            if not data:
                break
            conn.sendall(data)""", """        conn.sendall(conn.recv(1024))""")


def join_and_get_tracer(chromium: Any, info: dict[str, Any], name: str, lang: str, folder: Path) -> tuple[Any, Path]:
    """The student opens the short link, types the code and a name, and saves the tracer from their page."""
    context = chromium.new_context(viewport={"width": 1024, "height": 768}, locale="en-US", accept_downloads=True)
    context.set_default_timeout(30_000)
    context.add_init_script(f"localStorage.setItem('socketlab.lang', '{lang}')")
    page = context.new_page()
    page.goto(info["short_url"])
    page.get_by_test_id("join-code").fill(info["code"].lower())
    page.get_by_test_id("join-name").fill(name)
    page.get_by_test_id("join-submit").click()
    wait_ready(page, timeout=30_000)
    expect(page.get_by_test_id("exercise-title")).to_be_visible()
    page.get_by_test_id("trace-open").click()
    with page.expect_download() as waiting:
        page.get_by_test_id("trace-download").click()
    saved = folder / name / "socketlab_trace.py"
    saved.parent.mkdir()
    waiting.value.save_as(saved)
    page.keyboard.press("Escape")
    return page, saved


def run_traced(lan: Any, host: str, tracer: Path, program: str) -> Any:
    """`python3 socketlab_trace.py my_server.py` on the student's host; returns when the server listens."""
    source = tracer.parent / "my_server.py"
    source.write_text(program)
    started = lan.start(host, [sys.executable, str(tracer), str(source), str(CLIENTS)])
    for _ in range(5):  # (the tracer's own line comes first)
        if started.line(30).strip().isdigit():
            return started
    raise AssertionError(f"the student's server on {host} never said its port: {started.seen}")


@pytest.mark.parametrize("options", [("--host", "0.0.0.0"), ("--class",)], ids=["embedded", "agents"])
def test_two_students_on_their_own_hosts_are_checked_live_on_every_page(browser: Any, lan: Any, tmp_path: Path,
                                                                        options: tuple[str, ...]) -> None:
    teacher_host, ann_host, bo_host = lan.hosts[0], lan.hosts[1], lan.hosts[2]
    dashboard = NamespaceDashboard(teacher_host, tmp_path, options)
    browsers: list[Any] = []
    try:
        browsers = [chromium_in(browser, host, tmp_path) for host in (teacher_host, ann_host, bo_host)]
        teacher = open_teacher(browsers[0], f"http://127.0.0.1:{dashboard.port}/?token={CONTROL}")
        started = teacher.evaluate(FETCH, ["POST", "/stage", CONTROL, {"exercise": "echo-server"}])
        assert started["status"] == 201, started
        expect(teacher.get_by_test_id("classroom")).to_have_attribute("data-view", "board")
        info = teacher.evaluate(FETCH, ["GET", "/join", CONTROL, None])["json"]

        ann, ann_tracer = join_and_get_tracer(browsers[1], info, "Ann", "en", tmp_path)
        bo, bo_tracer = join_and_get_tracer(browsers[2], info, "Bo", "zh", tmp_path)
        expect(ann.get_by_test_id("exercise-title")).to_have_text("Exercise 1: Echo server")
        expect(bo.get_by_test_id("exercise-title")).to_have_text("练习 1：回显服务器")
        programs = [run_traced(lan, ann_host, ann_tracer, TEXTBOOK), run_traced(lan, bo_host, bo_tracer, ONE_RECV)]

        # the teacher's board: Ann passes all nine checks; Bo's one recv() fails the split message and the loop
        rows = teacher.get_by_test_id("board-row")
        ann_row, bo_row = rows.filter(has_text="Ann"), rows.filter(has_text="Bo")
        expect(ann_row.get_by_test_id("board-count")).to_have_text("9/9", timeout=60_000)
        expect(bo_row.locator('.board-cell[data-code="echo-split"]')).to_have_attribute("data-state", "fail", timeout=60_000)
        expect(bo_row.locator('.board-cell[data-code="recv-loop"]')).to_have_attribute("data-state", "fail", timeout=60_000)
        for code in ("server-call-order", "echo-exact", "three-clients", "thread-per-client", "sends-bytes"):
            expect(bo_row.locator(f'.board-cell[data-code="{code}"]')).to_have_attribute("data-state", "pass")
        mistakes = teacher.get_by_test_id("board-mistake")
        expect(mistakes.filter(has_text="1 of 2").first).to_be_visible()
        expect(teacher.locator('[data-testid="board-mistake"][data-code="echo-split"]')).to_have_attribute("data-count", "1")
        for program in programs:
            program.popen.wait(30)  # (each served the lab's six clients and ended: its sockets closed)
        expect(bo_row.locator('.board-cell[data-code="closed"]')).to_have_attribute("data-state", "pass", timeout=30_000)
        SHOTS.mkdir(parents=True, exist_ok=True)
        teacher.screenshot(path=str(SHOTS / "class-of-two-teacher-en-1280x720.png"))

        # each student's own page: Ann's all passed, in English; Bo's failure with its hint and what the lab saw, in Chinese
        expect(ann.get_by_test_id("exercise-count")).to_have_text("9 of 9 checks passed")
        expect(ann.locator('[data-testid="exercise-check"][data-state="pass"]')).to_have_count(9)
        split = bo.locator('[data-testid="exercise-check"][data-code="echo-split"]')
        expect(split).to_have_attribute("data-state", "fail")
        expect(split.get_by_test_id("exercise-hint")).to_contain_text("recv()")
        expect(split.get_by_test_id("exercise-reason")).to_contain_text("字节")
        bo.screenshot(path=str(SHOTS / "class-of-two-student-zh-1024x768.png"))
        ann.screenshot(path=str(SHOTS / "class-of-two-student-en-1024x768.png"))

        # the results: both rows, each at the address its program posted from
        results = teacher.evaluate(FETCH, ["GET", "/exercise/results", CONTROL, None])["json"]
        by_name = {row["name"]: row for row in results["students"]}
        assert by_name["Ann"]["address"] == lan.address[ann_host] and by_name["Bo"]["address"] == lan.address[bo_host]
        assert set(by_name["Bo"]["hints"]) == {"echo-split", "recv-loop"}
        assert all(state == "pass" for state in by_name["Ann"]["checks"].values())
    finally:
        for opened in browsers:
            opened.close()
        dashboard.stop()
