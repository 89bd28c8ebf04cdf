"""The one-file tracer (GET /trace.py): a student who joined downloads socketlab_trace.py and runs
`python3 socketlab_trace.py my_program.py` with a bare interpreter (`-I -S`: no packages, no site),
also with fcntl, termios and resource unimportable (as on Windows); the dashboard shows the program's
calls under the student's name. The file is made of the repository's own tracer modules, holds the
student's token and no other, and only a student's own token gets one."""

from __future__ import annotations

import ast
import errno
import glob
import hashlib
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from agent.trace import facts, onefile
from agent.trace.labfacts import TRACED_ACTIONS
from lab.errors import os_problem
from lab.events.bus import Event
from webapp import create_app, shutdown
from webapp.auth import Access
from webapp.traces import MAX_EVENTS, TraceDesk
from webapp.tracer_file import MODULES, sources

from ..support import LiveServer, serve, wait_until
from .helpers import PROGRAMS, TIMEOUT

CONTROL, VIEW, CODE = "control-one-file", "view-one-file", "K7Q2XM"

ECHO_PAIR = textwrap.dedent('''\
    import socket
    import sys
    import threading

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]


    def serve():
        conn, _ = server.accept()
        while True:
            data = conn.recv(1024)
            if not data:
                break
            conn.sendall(data)
        conn.close()


    worker = threading.Thread(target=serve)
    worker.start()
    client = socket.create_connection(("127.0.0.1", port))
    client.sendall(b"hello, lab")
    print(client.recv(1024).decode())
    client.shutdown(socket.SHUT_WR)
    client.recv(1024)
    client.close()
    worker.join()
    server.close()
    print("args:", sys.argv[1:])
''')

# run the file with these modules made unimportable, as on a Windows laptop
WITHOUT_POSIX = textwrap.dedent('''\
    import runpy
    import sys

    class NoPosix:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("fcntl", "termios", "resource"):
                raise ImportError(f"no module named {name!r} here")
            return None

    for name in ("fcntl", "termios", "resource"):
        sys.modules.pop(name, None)
    sys.meta_path.insert(0, NoPosix())
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
''')


@pytest.fixture
def dashboard(folders: dict[str, Path]) -> Iterator[LiveServer]:
    app = create_app({"TESTING": True, "FILES": str(folders["files"]), "DOWNLOADS": str(folders["downloads"]),
                      "ACCESS": Access(CONTROL, VIEW), "JOIN_CODE": CODE})
    with serve(app, "one-file-dashboard") as live:
        yield live
    shutdown(app)


def joined(live: LiveServer, name: str) -> str:
    answer = requests.post(f"{live.url}/api/join", json={"code": CODE, "name": name}, timeout=5)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def download(live: LiveServer, token: str | None, query: str = "") -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{live.url}/trace.py{query}", headers=headers, timeout=10)


def events_of(live: LiveServer, name: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{live.url}/api/events?after=0&limit=10000", headers={"Authorization": f"Bearer {VIEW}"},
                          timeout=5).json()
    return [e for e in answer["events"] if e.get("agent") == name and e["kind"] not in ("agent", "output")]


def printed_by(live: LiveServer, name: str) -> str:
    """What the traced program printed, as its `output` events say, joined in order."""
    answer = requests.get(f"{live.url}/api/events?after=0&limit=10000", headers={"Authorization": f"Bearer {VIEW}"},
                          timeout=5).json()
    return "".join(e["args"]["text"] for e in answer["events"] if e.get("agent") == name and e["kind"] == "output")


def run_bare(folder: Path, file: Path, *wrapper: str, python: str = sys.executable) -> subprocess.CompletedProcess[bytes]:
    program = folder / "my_server.py"
    program.write_text(ECHO_PAIR)
    return subprocess.run([python, "-I", "-S", *wrapper, str(file), str(program), "one", "two"], cwd=folder,
                          capture_output=True, timeout=TIMEOUT, check=False, env={})


def oldest_python() -> str | None:
    """A Python 3.8, the oldest the file promises to run on, if this machine has one (pyenv's, or on PATH)."""
    candidates = [*sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.8*/bin/python3"))), shutil.which("python3.8")]
    for python in filter(None, candidates):
        said = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                              timeout=TIMEOUT, check=False)
        if said.returncode == 0 and said.stdout.strip() == b"(3, 8)":  # (not a shim that finds no 3.8)
            return python
    return None


@pytest.mark.parametrize("posix", [True, False], ids=["bare", "without-fcntl-termios-resource"])
def test_a_student_runs_the_served_file_with_a_bare_python(dashboard: LiveServer, tmp_path: Path, posix: bool) -> None:
    token = joined(dashboard, "Ann")
    answer = download(dashboard, token)
    assert answer.status_code == 200 and "attachment" in answer.headers["Content-Disposition"]
    assert answer.headers["Cache-Control"] == "no-store"
    text = answer.text
    ast.parse(text, feature_version=(3, 8))
    for _name, source in sources():  # (and each module it carries: compile() judges them when the file runs)
        ast.parse(source, feature_version=(3, 8))
    assert f"DASHBOARD = {dashboard.url!r}" in text and "NAME = 'Ann'" in text and f"TOKEN = {token!r}" in text
    file = tmp_path / "socketlab_trace.py"
    file.write_text(text, encoding="utf-8")
    wrapper: list[str] = []
    if not posix:
        (tmp_path / "no_posix.py").write_text(WITHOUT_POSIX)
        wrapper = [str(tmp_path / "no_posix.py")]
    done = run_bare(tmp_path, file, *wrapper)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b"hello, lab\nargs: ['one', 'two']\n", done.stdout
    assert token.encode() not in done.stderr and b"refused" not in done.stderr, done.stderr

    def seen() -> list[tuple[str, str | None]]:
        return [(e["kind"], e["call"]) for e in events_of(dashboard, "Ann")]

    wait_until(lambda: ("close", "close") in seen() and ("listen", "listen") in seen(), 15)
    kinds = seen()
    for expected in [("listen", "listen"), ("accept", "accept"), ("connect", "connect"), ("send", "sendall"),
                     ("recv", "recv"), ("shutdown", "shutdown"), ("close", "close")]:
        assert expected in kinds, (expected, kinds)
    events = events_of(dashboard, "Ann")
    assert all(e["endpoint"].endswith("@Ann") for e in events)
    echoed = [e for e in events if e["kind"] == "recv" and e["data"] == "hello, lab"]
    assert len(echoed) == 2  # the server's recv and the client's
    # what it printed reached the terminal unchanged (above) and the dashboard as `output` events
    assert wait_until(lambda: printed_by(dashboard, "Ann") == done.stdout.decode(), 15)
    # each socket's close says what it received: the client got the echo, the listening socket nothing
    closes = {e["endpoint"]: e["args"] for e in events if e["kind"] == "close"}
    assert {"received": 10, "sha256": hashlib.sha256(b"hello, lab").hexdigest()} in [
        {k: v for k, v in args.items() if k != "thread"} for args in closes.values()]
    assert all(set(args) == {"received", "sha256", "thread"} for args in closes.values()), closes
    if not posix:  # without FIONREAD nothing about unread bytes is claimed; the calls themselves are all there
        assert not [e for e in events if e.get("code") == "recv-missed-pieces"]
    # the dashboard lists the program as a traced one, and its end
    agents = requests.get(f"{dashboard.url}/api/agents", headers={"Authorization": f"Bearer {VIEW}"}, timeout=5).json()
    assert any(a["name"] == "Ann" and a.get("trace") for a in agents), agents


def test_the_file_is_the_repositorys_own_tracer(dashboard: LiveServer) -> None:
    """One implementation: the file carries agent/trace's modules byte for byte, and the lab's values
    (labfacts) as literals equal to the lab's."""
    text = download(dashboard, joined(dashboard, "Bo")).text
    tree = ast.parse(text)
    carried = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                   and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "SOURCES")
    modules = ast.literal_eval(carried)
    root = Path(__file__).resolve().parents[2] / "agent" / "trace"
    assert list(modules) == ["labfacts", *MODULES]
    for name in MODULES:
        assert modules[name] == (root / f"{name}.py").read_text(encoding="utf-8"), name
    values: dict[str, Any] = {}
    exec(modules["labfacts"], values)  # noqa: S102  (the dashboard's own text)
    from agent.trace import labfacts
    assert {k: values[k] for k in labfacts.__all__} == {k: getattr(labfacts, k) for k in labfacts.__all__}


def test_the_program_side_names_an_os_error_as_the_lab_does() -> None:
    """facts.os_problem (labfacts' table) and lab.errors.os_problem agree on every errno, a name not
    found and a timeout, for every action a traced call names."""
    cases: list[OSError] = [OSError(n, "why") for n in errno.errorcode] + [
        OSError(1 << 20, "why"), OSError("no errno"), socket.gaierror(-2, "Name or service not known"),
        socket.timeout("timed out"), TimeoutError(errno.ETIMEDOUT, "timed out")]
    for action in TRACED_ACTIONS:
        for exc in cases:
            lab = os_problem(exc, action, "::1", 7)
            assert facts.os_problem(exc, action, "::1", 7) == (lab.code, lab.params), (action, exc)


def test_only_a_students_own_token_gets_a_file_with_that_token_only(dashboard: LiveServer) -> None:
    ann, bob = joined(dashboard, "Ann"), joined(dashboard, "Bob")
    mine = download(dashboard, ann).text
    assert ann in mine and "NAME = 'Ann'" in mine
    for other in (bob, CONTROL, VIEW):
        assert other not in mine
    # Bob cannot get Ann's file, whatever he asks for: the name is the token's
    for query in ("?name=Ann", "?student=Ann", "?name=Ann&token=" + ann):
        theirs = download(dashboard, bob, query)
        assert theirs.status_code == 200 and "NAME = 'Bob'" in theirs.text and ann not in theirs.text, query
    # no token, a wrong one, the view and the control token: the API's 401, and 403 with a sentence
    assert download(dashboard, None).status_code == 401
    assert download(dashboard, "guessed-token").json()["code"] == "unauthorized"
    for token in (VIEW, CONTROL):
        refused = download(dashboard, token)
        assert refused.status_code == 403 and refused.json()["code"] == "trace-file-for-students"
        assert CONTROL not in refused.text and VIEW not in refused.text
    # a token in the URL works as it does for the API (?token=), and a revoked one is refused there too
    by_query = requests.get(f"{dashboard.url}/trace.py?token={ann}", timeout=10)
    assert by_query.status_code == 200 and "NAME = 'Ann'" in by_query.text
    assert requests.get(f"{dashboard.url}/api/session?token={ann}", timeout=10).json()["student"] == "Ann"
    gone = requests.delete(f"{dashboard.url}/api/students/Ann", headers={"Authorization": f"Bearer {CONTROL}"}, timeout=5)
    assert gone.ok
    assert download(dashboard, ann).status_code == 401
    assert requests.get(f"{dashboard.url}/trace.py?token={ann}", timeout=10).status_code == 401


def test_a_file_of_a_revoked_student_stops_and_says_why(dashboard: LiveServer, tmp_path: Path) -> None:
    """The token in the file is checked at each post: once revoked, the program still runs, untraced,
    and the tracer says the dashboard refused (no retrying forever, no traceback)."""
    token = joined(dashboard, "Cy")
    file = tmp_path / "socketlab_trace.py"
    file.write_text(download(dashboard, token).text, encoding="utf-8")
    assert requests.delete(f"{dashboard.url}/api/students/Cy", headers={"Authorization": f"Bearer {CONTROL}"},
                           timeout=5).ok
    done = run_bare(tmp_path, file)
    assert done.returncode == 0 and done.stdout.startswith(b"hello, lab\n"), done.stderr.decode()
    assert b"the dashboard refused the events: 401" in done.stderr and b"Traceback" not in done.stderr, done.stderr
    assert events_of(dashboard, "Cy") == []


def test_on_the_oldest_python_it_promises(dashboard: LiveServer, tmp_path: Path) -> None:
    python = oldest_python()
    if python is None:
        pytest.skip("no Python 3.8 on this machine (python3.8 on PATH, or pyenv's): the file's syntax is still "
                    "checked against 3.8's grammar by the test above")
    file = tmp_path / "socketlab_trace.py"
    file.write_text(download(dashboard, joined(dashboard, "Old")).text, encoding="utf-8")
    done = run_bare(tmp_path, file, python=python)
    assert done.returncode == 0 and done.stdout == b"hello, lab\nargs: ['one', 'two']\n", done.stderr.decode()
    wait_until(lambda: ("close", "close") in [(e["kind"], e["call"]) for e in events_of(dashboard, "Old")], 15)


def test_the_files_events_are_the_labs_json_form() -> None:
    """onefile.to_json (written from labfacts' FIELDS and SHOWN_AS) is Event.to_json, key for key."""
    events = [Event(7, 1.5, "s1@Ann", None, "tcp", "recv", ("127.0.0.1", 5), ("10.0.0.2", 6), 3, b"\xffab", "recv(1024)",
                    "recv", {"bufsize": 1024}, 3),
              Event(8, 2.0, "s2@Ann", None, "tcp", "accept", None, None, 0, None, "accept()", "accept", {}, ("::1", 9)),
              Event(9, 2.5, "", None, "", "agent", None, None, 0, None, "dropped", None, {"event": "dropped", "count": 2},
                    None, None, "EPIPE", "peer-closed", {"host": "h"}, 4, "line", {"x": 1})]
    for event in events:
        assert onefile.to_json(tuple(event)) == event.to_json()
        assert list(onefile.to_json(tuple(event))) == list(event.to_json())
    assert onefile.BATCH_EVENTS == MAX_EVENTS


def test_the_buffer_counts_what_it_lets_go() -> None:
    buffer = onefile.Buffer(capacity=3)
    for n in range(5):
        buffer.record(float(n), "s1@Ann", None, "udp", "send", None, None, 1, None, "send")
    events, lost = buffer.since(0, 10)
    assert [e[0] for e in events] == [3, 4, 5] and lost == 2
    assert buffer.since(4, 10) == ([events[-1]], 0)


def test_a_flood_of_calls_is_posted_or_counted_and_the_program_never_waits_for_it(folders: dict[str, Path],
                                                                                 tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "FILES": str(folders["files"]), "DOWNLOADS": str(folders["downloads"]),
                      "ACCESS": Access(CONTROL, VIEW), "JOIN_CODE": CODE})
    desk = app.extensions["socketlab_traces"] = TraceDesk()
    posted: dict[int, dict[str, Any]] = {}
    take = desk.take

    def taking(name: str, boot: int, events: list[Any], host: str = "", end: bool = False) -> tuple[int, int, int]:
        posted.update((e["seq"], e) for e in events)  # (a batch posted again counts once, as the desk counts it)
        return take(name, boot, events, host, end)

    desk.take = taking  # type: ignore[method-assign]  (the real desk, its batches seen on the way in)
    try:
        with serve(app, "one-file-flood") as live:
            file = tmp_path / "socketlab_trace.py"
            file.write_text(download(live, joined(live, "flood")).text, encoding="utf-8")
            done = subprocess.run([sys.executable, "-I", "-S", str(file), str(PROGRAMS / "flood.py"), "30000"],
                                  cwd=tmp_path, capture_output=True, timeout=TIMEOUT, check=False, env={})
            assert done.returncode == 0 and done.stdout == b"flooded\n", done.stderr.decode()
    finally:
        shutdown(app)
    events = [posted[seq] for seq in sorted(posted)]
    dropped = sum(e["args"]["count"] for e in events if e["kind"] == "agent" and e["args"]["event"] == "dropped")
    recorded = [e for e in events if e["kind"] != "agent"]
    # socket, listen (the bind), 30000 x (sendto, recvfrom), close, and what it printed ("flooded"): posted, or counted as dropped
    assert len(recorded) + dropped == 3 + 60_000 + 1
    assert [e for e in recorded if e["kind"] != "output"][-1]["kind"] == "close"  # the last events are flushed at exit


def test_the_file_says_how_to_use_it_as_python_would(dashboard: LiveServer, tmp_path: Path) -> None:
    """No program: the usage line; a program that is not there: Python's own words; both status 2,
    and the stdlib folders stay on sys.path under -I (the program's folder goes first, nothing is lost)."""
    file = tmp_path / "socketlab_trace.py"
    file.write_text(download(dashboard, joined(dashboard, "Di")).text, encoding="utf-8")
    bare = [sys.executable, "-I", "-S", str(file)]
    usage = subprocess.run(bare, capture_output=True, timeout=TIMEOUT, check=False, env={})
    assert usage.returncode == 2 and b"usage: python3 socketlab_trace.py my_program.py" in usage.stderr
    absent = subprocess.run([*bare, str(tmp_path / "nothing.py")], capture_output=True, timeout=TIMEOUT, check=False,
                            env={})
    assert absent.returncode == 2 and b"can't open file" in absent.stderr and b"Traceback" not in absent.stderr
    paths = tmp_path / "paths.py"
    paths.write_text("import sys\nprint(repr(sys.path))\n")
    plain = subprocess.run([sys.executable, "-I", "-S", "-c", "import sys; print(repr(sys.path))"], capture_output=True,
                           timeout=TIMEOUT, check=False, env={})
    traced = subprocess.run([*bare, str(paths)], capture_output=True, timeout=TIMEOUT, check=False, env={})
    assert ast.literal_eval(traced.stdout.decode()) == [str(tmp_path), *ast.literal_eval(plain.stdout.decode())]
