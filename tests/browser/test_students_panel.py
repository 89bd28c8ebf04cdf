"""The teacher's Join panel and the students' own tokens: a student who joins appears in the list (a
name in any script), Revoke refuses the token, "New code" makes a new code, and a code the dashboard
changed by itself (too many wrong codes) shows on the open panel without a reload; the /join page
stores the student's own token and opens the page with it (from the QR code's link)."""

from __future__ import annotations

from typing import Any

import requests

from ..support import LiveServer
from . import test_join
from .test_join import CONTROL, api, open_as

class_server = test_join.class_server  # the same fixture: a dashboard configured for a class

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, under CI, fails) and says why
    expect = None


def test_the_teacher_sees_students_revokes_and_renews_the_code(context: Any, class_server: LiveServer) -> None:
    teacher = open_as(context, class_server, CONTROL)
    teacher.keyboard.press("j")
    panel = teacher.get_by_test_id("join-panel")
    code = api(class_server, "GET", "/join")["code"]
    expect(panel.get_by_test_id("join-code")).to_have_text(code)
    joined = requests.post(f"{class_server.url}/api/join", json={"code": code, "name": "小明"}, timeout=10).json()
    row = panel.locator('[data-testid="student-row"][data-name="student-1"]')
    expect(row).to_contain_text("小明")  # within the panel's next look, no reload
    expect(row).to_contain_text("127.0.0.1")
    row.get_by_test_id("student-revoke").click()
    expect(row.get_by_test_id("student-revoked")).to_be_visible()
    refused = requests.get(f"{class_server.url}/api/stage", headers={"Authorization": f"Bearer {joined['token']}"},
                           timeout=10)
    assert refused.status_code == 401
    # the teacher's new code
    panel.get_by_test_id("join-new-code").click()
    expect(panel.get_by_test_id("join-code")).not_to_have_text(code)
    renewed = api(class_server, "GET", "/join")["code"]
    expect(panel.get_by_test_id("join-code")).to_have_text(renewed)
    # a guesser: after 100 wrong codes the dashboard makes a new one, and the open panel shows it
    client = class_server.app.test_client()
    for i in range(100):
        client.post("/api/join", json={"code": "AAAAAA"}, environ_base={"REMOTE_ADDR": f"10.79.0.{i + 1}"})
    guessed = api(class_server, "GET", "/join")["code"]
    assert guessed != renewed
    expect(panel.get_by_test_id("join-code")).to_have_text(guessed)
    expect(panel.get_by_test_id("join-guessed")).to_be_visible()


def test_the_join_page_keeps_the_students_own_token(context: Any, class_server: LiveServer) -> None:
    info = api(class_server, "GET", "/join")
    page = context.new_page()
    page.goto(f"{class_server.url}/join#{info['code']}")  # what the QR code holds
    expect(page.get_by_test_id("join-code")).to_have_value(info["code"])
    page.get_by_test_id("join-name").fill("Zoë")
    page.get_by_test_id("join-submit").click()
    page.wait_for_url(f"{class_server.url}/")
    expect(page.get_by_test_id("my-name-open")).to_have_text("✎ Zoë")  # a student's page may name itself
    token = page.evaluate("sessionStorage.getItem('socketlab.token')")
    listed = api(class_server, "GET", "/students")
    assert [(s["name"], s["shown"]) for s in listed] == [("Zoe", "Zoë")]
    session = requests.get(f"{class_server.url}/api/session", headers={"Authorization": f"Bearer {token}"},
                           timeout=10).json()
    assert session["role"] == "student" and session["student"] == "Zoe"
    assert page.locator("[data-control]:visible").count() == 0  # no control of the lab on a student's page
