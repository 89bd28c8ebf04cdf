"""`python -m agent.trace --dashboard URL --token T`: a traced program's events straight to a dashboard
process over HTTP, no Redis; the dashboard killed and started again on the same port meanwhile."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from ..servers import Dashboard, start_dashboard
from ..support import Resources, wait_until
from .helpers import PROGRAMS, ROOT, TIMEOUT

TOKEN, VIEW = "control-17", "view-17"
TOKENS = {"SOCKETLAB_TOKEN": TOKEN, "SOCKETLAB_VIEW_TOKEN": VIEW}


def traced_events(dash: Dashboard) -> list[dict[str, Any]]:
    answer = requests.get(f"{dash.url}/api/events?after=0&limit=10000", headers={"Authorization": f"Bearer {VIEW}"},
                          timeout=5).json()
    return [e for e in answer["events"] if e.get("agent") == "steady" and not (e["kind"] == "agent" and e["args"].get("trace"))]


def calls_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Its socket calls, without what it printed (the `output` events between them)."""
    return [e for e in events if e["kind"] != "output"]


def listed(dash: Dashboard) -> dict[str, Any]:
    answer = requests.get(f"{dash.url}/api/agents", headers={"Authorization": f"Bearer {VIEW}"}, timeout=5).json()
    return {a["name"]: a for a in answer}


def sends(events: list[dict[str, Any]]) -> list[str]:
    return [e["data"] for e in events if e["kind"] == "send"]


def test_every_event_arrives_once_across_a_dashboard_restart(tmp_path: Path) -> None:
    n = 100
    first = start_dashboard("dev", tmp_path, env=TOKENS)
    second: Dashboard | None = None
    program = subprocess.Popen([sys.executable, "-m", "agent.trace", "--dashboard", first.url, "--token", TOKEN,
                                str(PROGRAMS / "steady.py"), str(n)], cwd=ROOT, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert program.stdout is not None and program.stdin is not None
        assert program.stdout.readline() == b"half\n"
        before = wait_until(lambda: (found := traced_events(first)) and len(sends(found)) == n
                            and sum(e["kind"] == "recv" for e in found) == n and found, 30)
        steady = listed(first)["steady"]  # listed beside the lab agents while it runs, from where it posts
        assert (steady["state"], steady["host"], steady["trace"]) == ("up", "127.0.0.1", True)
        first.proc.send_signal(signal.SIGKILL)  # killed: no goodbye, its memory gone
        first.proc.wait(10)
        first.stop()
        program.stdin.write(b"go\n")  # the second half happens while no dashboard is there
        program.stdin.flush()
        assert program.stdout.readline() == b"done\n"
        second = start_dashboard("dev", tmp_path, env=TOKENS, extra=("--port", str(first.port)))
        assert second.port == first.port
        out, err = program.communicate(timeout=TIMEOUT)  # (at exit it waits for its events to arrive)
        assert program.returncode == 0, err
        assert b"does not answer" in err and b"answers again" in err  # it said so, once each
        after = wait_until(lambda: (found := traced_events(second)) and calls_of(found)[-1]["kind"] == "close" and found, 10)
        assert wait_until(lambda: listed(second)["steady"]["state"] == "down", 10)  # its courier said it ended
    finally:
        if program.poll() is None:
            program.kill()
            program.communicate()
        first.stop()
        if second is not None:
            second.stop()
    seqs = [e["agent_seq"] for e in before + after]
    assert seqs == list(range(1, len(seqs) + 1))  # every event of the program, once, in order
    assert sends(before) == [str(i) for i in range(n)] and sends(after) == [str(i) for i in range(n, 2 * n)]
    assert not [e for e in before + after if e["kind"] == "agent"]  # nothing dropped


def test_a_viewer_token_cannot_publish(tmp_path: Path) -> None:
    dash = start_dashboard("dev", tmp_path, env=TOKENS)
    try:
        traced = subprocess.run([sys.executable, "-m", "agent.trace", "--dashboard", dash.url, "--token", VIEW,
                                 str(PROGRAMS / "steady.py"), "3"], cwd=ROOT, input=b"\n", capture_output=True,
                                timeout=TIMEOUT, check=False)
        assert traced.returncode == 0 and traced.stdout == b"half\ndone\n"  # the program itself runs as ever
        assert b"refused the events: 403" in traced.stderr, traced.stderr
        assert traced_events(dash) == []
    finally:
        dash.stop()


def test_a_dashboard_that_never_answers_never_hangs_the_program() -> None:
    """A peer that accepts the courier's connections and never reads nor answers: the program runs
    and ends as it would untraced, and its courier gives up within its own deadline (run() returns
    only when the courier, which shares the program's output pipes, has ended too)."""
    before = Resources.now()
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(64)  # never accept()ed: the kernel completes handshakes, nobody reads
        url = "http://127.0.0.1:%d" % black_hole.getsockname()[1]
        plain = subprocess.run([sys.executable, str(PROGRAMS / "flood.py"), "2000"], cwd=ROOT, capture_output=True,
                               timeout=TIMEOUT, check=False)
        traced = subprocess.run([sys.executable, "-m", "agent.trace", "--dashboard", url, "--token", TOKEN,
                                 str(PROGRAMS / "flood.py"), "2000"], cwd=ROOT, capture_output=True,
                                timeout=TIMEOUT, check=False)
    assert traced.returncode == plain.returncode == 0 and traced.stdout == plain.stdout == b"flooded\n"
    assert b"does not answer" in traced.stderr, traced.stderr
    before.settled()
