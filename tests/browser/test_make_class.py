"""`make class` on a namespace LAN: the teacher's dashboard (`python -m webapp --class`) on host 1,
two students on hosts 2 and 3. Each student joins with the code and a name and runs a plain socket
client from the tutorials against lesson 1's server, at the address the Join panel shows; the
teacher's page names both on the lanes. Then lesson 10, on the same dashboard, draws its packets:
the lessons' servers are on the LAN, the wire lessons in the sandbox beside them."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from .test_join import CONTROL, FETCH, VIEW, NamespaceDashboard, chromium_in, open_teacher
from .ui import expect, screenshots

# A student's whole side, stdlib only: join with the code and a name (POST /api/join, from the
# student's own address), then the tutorials' TCP client against the address and port on the projector.
STUDENT = """
import json, socket, sys, urllib.request
dashboard, code, name, host, port = sys.argv[1:6]
ask = urllib.request.Request(dashboard + "/api/join", data=json.dumps({"code": code, "name": name}).encode(),
                             headers={"Content-Type": "application/json"}, method="POST")
joined = json.load(urllib.request.urlopen(ask, timeout=10))
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect((host, int(port)))
s.sendall(("hello from " + name + "\\n").encode())
echo = s.recv(1024)
s.close()
print(json.dumps({"token": bool(joined["token"]), "echo": echo.decode()}), flush=True)
"""


@pytest.fixture
def folder() -> Iterator[Path]:
    """The class's files: a folder the sandbox's own user (run by root) may reach."""
    made = Path(tempfile.mkdtemp(prefix="socketlab-make-class-"))
    made.chmod(0o711)
    yield made
    shutil.rmtree(made)


def test_make_class_students_on_the_lan_and_the_wire_lessons_on_one_dashboard(browser: Any, lan: Any,
                                                                               folder: Path) -> None:
    teacher_host, students = lan.hosts[0], {"Ann": lan.hosts[1], "Bo": lan.hosts[2]}
    dashboard = NamespaceDashboard(teacher_host, folder, ("--class",))  # as make class runs it
    chromium = None
    try:
        said = "".join(dashboard.lines)
        assert "lessons 10-14 run in the sandbox" in said, said
        assert f"http://{lan.address[teacher_host]}:{dashboard.port}/?token={VIEW}" in said  # the LAN address, not a name
        chromium = chromium_in(browser, teacher_host, folder)
        teacher = open_teacher(chromium, f"http://127.0.0.1:{dashboard.port}/?token={CONTROL}")
        call = lambda method, path, body=None: teacher.evaluate(FETCH, [method, path, CONTROL, body])  # noqa: E731
        agents = sorted(a["name"] for a in call("GET", "/agents")["json"] if a["state"] == "up")
        assert agents == ["lab", "sandbox"], agents

        stage = call("POST", "/stage", {"lesson": 1})["json"]
        server = call("GET", f"/endpoints/{stage['lesson']['ids']['server']}")["json"]
        assert server["id"].endswith("@lab") and server["local"][0] == "0.0.0.0"
        info = call("GET", "/join")["json"]
        teacher.keyboard.press("j")  # what the projector shows for lesson 1's server: the LAN address
        shown = f'connect(("{lan.address[teacher_host]}", {server["local"][1]}))'
        expect(teacher.locator('[data-testid="join-server"][data-kind="lan"]').first).to_have_text(shown)
        teacher.keyboard.press("Escape")

        base = f"http://{lan.address[teacher_host]}:{dashboard.port}"
        runs = {name: lan.run(host, STUDENT, base, info["code"], name, lan.address[teacher_host], str(server["local"][1]))
                for name, host in students.items()}
        for name, run in runs.items():
            got = run.json(timeout=30)
            assert got == {"token": True, "echo": f"hello from {name}\n"}, got
        names = call("GET", "/names")["json"]
        assert names == {lan.address[host]: name for name, host in students.items()}, names
        teacher.get_by_test_id("view-ladder").click()
        for name in students:
            expect(teacher.locator('[data-testid="lane-name"]', has_text=name).first).to_be_visible(timeout=15_000)
        shot(teacher, "class-lesson-1-students")

        stage = call("POST", "/stage", {"lesson": 10})["json"]
        ids = [i for i in stage["lesson"]["ids"].values() if isinstance(i, str)]
        assert ids and all(i.endswith("@sandbox") for i in ids), ids
        acted = call("POST", "/stage/actions/connect", {})
        assert acted["status"] == 200, acted
        expect(teacher.locator('[data-testid="ladder-packet"]').first).to_be_attached(timeout=15_000)
        flags = teacher.evaluate("() => [...document.querySelectorAll('[data-testid=ladder-packet]')].map(p => p.dataset.flags)")
        assert flags[:3] == ["SYN", "SYN,ACK", "ACK"], flags
        # the students' lanes were lesson 1's: a new stage starts clean
        expect(teacher.locator('[data-testid="lane-name"]')).to_have_count(0)
        shot(teacher, "class-lesson-10-packets")
    finally:
        if chromium is not None:
            chromium.close()
        dashboard.stop()


def shot(page: Any, name: str) -> None:
    folder = screenshots("lessons")
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))
