"""Students' own programs on the projector: a traced student server and a traced student
client, delivered over HTTP to the dashboard (no Redis), appear as two named lane groups joined by
arrows, beside a lab client talking to the same student server; projector mode at 1280x720."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from ..support import wait_until
from ..trace.helpers import PROGRAMS, ROOT, TIMEOUT
from .test_classroom import lab_of, show
from .ui import expect, screenshots

SHOTS = screenshots("lessons")


def traced(url: str, name: str, program: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "agent.trace", "--dashboard", url, "--name", name,
                             str(PROGRAMS / program), *args], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def drawn_arrows(page: Any) -> list[tuple[str, str]]:
    """(lane of the send, lane of the recv) of every data arrow drawn."""
    found = page.evaluate("""() => [...document.querySelectorAll('[data-testid="ladder-arrow"][data-kind="data"]')]
      .map(a => [a.dataset.send, a.dataset.recv].map(seq => document.querySelector(`g.row[data-seq="${seq}"]`)?.dataset.lane))""")
    return [(str(send), str(recv)) for send, recv in found]


def shoot(page: Any) -> None:
    """The diagram held still (paused) at its newest rows, at its start, in Chinese and in the dark theme."""
    page.get_by_test_id("ladder-pause").click()  # the picture holds still for the screenshots
    page.screenshot(path=str(SHOTS / "own-program-en.png"))
    page.locator("#ladder-scroll").evaluate("el => el.scrollTop = 0")  # the start: connects, the lab's client
    page.screenshot(path=str(SHOTS / "own-program-start-en.png"))
    page.locator("#ladder-scroll").evaluate("el => el.scrollTop = el.scrollHeight")
    page.get_by_test_id("lang-select").select_option("zh")
    expect(page.get_by_test_id("ladder-pause")).to_have_text("继续")
    page.screenshot(path=str(SHOTS / "own-program-zh.png"))
    page.get_by_test_id("lang-select").select_option("en")
    page.get_by_test_id("theme-toggle").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.screenshot(path=str(SHOTS / "own-program-dark.png"))
    page.get_by_test_id("theme-toggle").click()


def test_two_traced_programs_are_two_named_lane_groups_joined_by_arrows(open_page: Any, live_server: Any) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    lab = lab_of(live_server)
    page = open_page("?view=projector")
    page.set_viewport_size({"width": 1280, "height": 720})
    show(page, "ladder")
    server = traced(live_server.url, "alice", "threaded_echo_server.py", "2")
    client: subprocess.Popen[bytes] | None = None
    lab_client: Any = None
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        lab_client = lab.create({"kind": "tcp-client", "host": "127.0.0.1", "port": port})
        lab.send(lab_client.id, {"data": "hi from the lab"})
        client = traced(live_server.url, "bob", "patient_client.py", str(port), "hello", "class")
        assert client.stdout is not None
        assert client.stdout.readline() == b"echo: hello\n" and client.stdout.readline() == b"echo: class\n"

        groups = page.get_by_test_id("lane-group")
        expect(groups).to_have_count(2, timeout=10_000)
        assert sorted(groups.all_text_contents()) == ["alice", "bob"]
        lanes = lambda: page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.lane-head.traced')]
          .map(h => [h.dataset.lane, h.querySelector('.lane-id').textContent]))""")  # noqa: E731
        wait_until(lambda: len(lanes()) >= 4, 10)  # alice's listening socket may leave the view; her 2 connections stay
        named = lanes()
        assert named["s1@bob"] == "MainThread"
        assert {text for lane, text in named.items() if lane.endswith("@alice")} >= {"Thread-1 (serve)", "Thread-2 (serve)"}

        def joined() -> list[tuple[str, str]]:
            found = drawn_arrows(page)
            return found if ({("s1@bob", lane) for lane in named if lane.endswith("@alice")} & set(found)
                             and any(s.endswith("@alice") and r == "s1@bob" for s, r in found)
                             and any(s == lab_client.id and r.endswith("@alice") for s, r in found)) else []

        arrows = wait_until(joined, 10)  # bob's send -> alice's recv, her echo -> bob's recv, the lab's send -> alice
        assert all(s and r for s, r in arrows)
        assert page.locator("body").evaluate("el => parseFloat(getComputedStyle(el).fontSize)") >= 20
        shoot(page)
    finally:
        if client is not None:
            client.communicate(b"\n", timeout=TIMEOUT)  # the student presses Enter: the client closes
        if lab_client is not None:
            lab.remove(lab_client.id)
        out, err = server.communicate(timeout=TIMEOUT)  # its two clients gone, the server ends
    assert server.returncode == 0 and out.endswith(b"server done\n"), err
    assert client is not None and client.returncode == 0


def test_a_hint_is_worded_by_the_page_in_both_languages(open_page: Any, live_server: Any) -> None:
    """The classic mistake "one recv() for the whole message" under the tracer: the log's row says
    what went wrong and what to do, in English and in Chinese (from its code, never its detail)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = open_page("?view=projector")
    page.set_viewport_size({"width": 1280, "height": 720})
    show(page, "log")
    program = traced(live_server.url, "carol", "one_recv.py")
    out, err = program.communicate(timeout=TIMEOUT)
    assert program.returncode == 0 and out == b"server got: b'first half, '\n", err
    hint = page.locator('[data-testid="event-row"][data-kind="error"]').filter(has_text="11")
    expect(hint.first).to_contain_text("in a loop", timeout=10_000)
    page.get_by_test_id("lang-select").select_option("zh")
    expect(hint.first).to_contain_text("循环")
    hint.first.click()  # its details: the whole sentence, for the class to read
    page.screenshot(path=str(SHOTS / "own-program-hint-zh.png"))
    page.get_by_test_id("lang-select").select_option("en")
