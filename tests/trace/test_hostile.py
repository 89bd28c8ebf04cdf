"""Broken and hostile programs under the tracer: it never hangs them, never changes what they
print or how they end, and counts what it could not ship."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from typing import Any

from agent.redisconn import connect
from webapp import create_app, shutdown

from ..redis_server import RedisServer
from ..support import wait_until
from .helpers import PROGRAMS, ROOT, run, shipped, start


def test_an_exception_gives_the_same_traceback_and_status(redis_server: RedisServer) -> None:
    plain = run("crash.py")
    traced = run("crash.py", redis_url=redis_server.url)
    assert plain.returncode == traced.returncode == 1
    assert traced.stdout == plain.stdout == b"before\n"
    assert traced.stderr == plain.stderr and str(PROGRAMS / "crash.py").encode() in traced.stderr
    shipped_all = shipped(redis_server.url, "crash", output=True)
    assert [e["args"]["text"] for e in shipped_all if e["kind"] == "output"] == ["before\n"]  # what it printed
    events = [e for e in shipped_all if e["kind"] != "output"]
    assert [(e["kind"], e["call"]) for e in events][:2] == [("setup", "socket"), ("setup", "settimeout")]
    assert events[-1]["code"] == "socket-never-closed"  # (the program dropped it: collected, or open at exit)
    assert not redis_server_keys(redis_server, "hb:*")  # the heartbeat is gone at once


def test_an_error_inside_a_socket_call_shows_no_frame_of_the_tracer(redis_server: RedisServer) -> None:
    """ConnectionRefusedError is raised by the real connect, inside the tracer's wrapper: the program's
    traceback is Python's own, ending at the program's line, with no frame of agent/trace."""
    with socket.socket() as probe:  # a port that was free a moment ago: nobody listens on it
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    plain = run("refused.py", port)
    traced = run("refused.py", port, redis_url=redis_server.url)
    assert plain.returncode == traced.returncode == 1
    assert b"ConnectionRefusedError" in plain.stderr and traced.stderr == plain.stderr, traced.stderr
    assert b"agent/trace" not in traced.stderr


def test_a_python_without_the_projects_packages_gets_a_sentence() -> None:
    """`python3 -m agent.trace` outside the venv (here: -S, no site-packages): one sentence, status 2."""
    done = subprocess.run([sys.executable, "-S", "-m", "agent.trace", "--dashboard", "http://127.0.0.1:9",
                           str(PROGRAMS / "crash.py")], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "lacks the project's package" in done.stderr and ".venv/bin/python -m agent.trace" in done.stderr


def test_os_exit_does_not_hang(redis_server: RedisServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        port = str(sink.getsockname()[1])
        plain = run("exit_now.py", port)
        traced = run("exit_now.py", port, redis_url=redis_server.url)
    assert plain.returncode == traced.returncode == 7 and traced.stdout == plain.stdout == b"leaving\n"


def test_a_fork_does_not_hang_and_only_the_parent_is_traced(redis_server: RedisServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        port = str(sink.getsockname()[1])
        traced = run("forker.py", port, redis_url=redis_server.url)
        got = sorted(sink.recvfrom(100)[0] for _ in range(2))
    assert traced.returncode == 3 and traced.stdout == b"child status 0\n", traced.stderr
    assert got == [b"from the child", b"from the parent"]
    sends = [e["data"] for e in shipped(redis_server.url, "forker") if e["kind"] == "send"]
    assert sends == ["from the parent"]


def test_ten_thousand_calls_a_second_never_hang_and_every_event_is_shipped_or_counted(redis_server: RedisServer) -> None:
    traced = run("flood.py", "30000", redis_url=redis_server.url)
    assert traced.returncode == 0 and traced.stdout == b"flooded\n", traced.stderr
    events = shipped(redis_server.url, "flood", output=True)
    dropped = sum(e["args"]["count"] for e in events if e["kind"] == "agent" and e["args"]["event"] == "dropped")
    recorded = [e for e in events if e["kind"] != "agent"]
    # socket, listen (the bind), 30000 x (sendto, recvfrom), close, and what it printed ("flooded"): shipped, or counted as dropped
    assert len(recorded) + dropped == 3 + 60_000 + 1
    assert [e for e in recorded if e["kind"] != "output"][-1]["kind"] == "close"  # the last events are flushed at exit


def test_the_dashboard_relays_a_traced_program_as_an_agent(redis_server: RedisServer) -> None:
    app = create_app({"TESTING": True, "REDIS": redis_server.url})
    client = app.test_client()
    try:
        traced = run("mistakes.py", redis_url=redis_server.url, name="student-7")
        assert traced.returncode == 0, traced.stderr

        def relayed() -> list[dict[str, Any]]:
            found = client.get("/api/events?after=0&limit=10000").get_json()["events"]
            return [e for e in found if e.get("agent") == "student-7" and e["kind"] not in ("agent", "output")]

        events = wait_until(lambda: [e for e in relayed() if e["code"] == "socket-never-closed"] and relayed(), 10)
        assert events[0]["endpoint"] == "s1@student-7" and events[0]["call"] == "socket"
        assert [e["agent_seq"] for e in events] == sorted(e["agent_seq"] for e in events)
        assert client.get("/api/endpoints").status_code == 200  # a traced program is never sent a command
    finally:
        shutdown(app)


def redis_server_keys(server: RedisServer, pattern: str) -> list[bytes]:
    r = connect(server.url, socket_timeout=5)
    try:
        return list(r.scan_iter(match=pattern))
    finally:
        r.close()


def test_ctrl_c_stops_the_program_as_ever_and_its_events_still_arrive(redis_server: RedisServer) -> None:
    """Ctrl-C in a terminal signals the whole foreground group: the program gets its KeyboardInterrupt,
    the courier (in a session of its own) is not interrupted and ships everything up to it."""
    results = []
    for traced in (False, True):
        proc = start("steady.py", "20", redis_url=redis_server.url if traced else None, stdin=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.readline() == b"half\n"
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        results.append((proc.returncode, out, err.splitlines()[-1]))
    assert results[0] == results[1] == (-signal.SIGINT, b"", b"KeyboardInterrupt")  # (killed by it, as CPython ends)
    events = shipped(redis_server.url, "steady")
    assert sum(e["kind"] == "send" for e in events) == 20 and events[-1]["kind"] == "close"  # (the with block closed it)
