"""Shared fixtures: a lab on temporary folders, the app, a live server on port 0, Socket.IO clients,
and the session's one Chromium (Playwright, sync API) with a fresh context per test.

Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM): Playwright cannot download its own here.
Without it browser tests are skipped with the reason, except under CI, where that is a failure.
One `browser` fixture for the whole run: Playwright's sync API allows one instance at a time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from lab import Lab
from webapp import create_app, shutdown

from .netns import Lan
from .redis_server import RedisServer
from .support import EventCollector, LiveServer, Resources, serve, wait_until


ROOT = Path(__file__).resolve().parents[1]
TREE = pytest.StashKey[frozenset[str]]()


def tree_status() -> frozenset[str] | None:
    """The project's `git status --porcelain` lines (untracked files too), or None outside a checkout."""
    try:
        done = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                              capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return frozenset(done.stdout.splitlines()) if done.returncode == 0 else None


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("SOCKETLAB_SCREENSHOTS"):
        return  # `make screenshots` writes the docs' pictures into the tree on purpose
    status = tree_status()
    if status is not None:
        session.config.stash[TREE] = status


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Tests write only to temporary folders: a run that changed the tree (a screenshot rewritten,
    a file left behind) fails, naming what it changed."""
    before, after = session.config.stash.get(TREE, None), tree_status()
    if before is None or after is None or not after - before:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_line("the tests changed the project's tree (they must write only to temporary folders): "
                            + ", ".join(sorted(after - before))[:2000], red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True, scope="session")
def project_state_untouched() -> Iterator[None]:
    """No test leaves a state folder in the project (a child that lost SOCKETLAB_STATE_DIR would)."""
    project = Path(__file__).resolve().parents[1] / "instance"
    there = project.exists()
    yield
    assert there or not project.exists(), f"a test wrote {project}: pass SOCKETLAB_STATE_DIR to its children"


@pytest.fixture(autouse=True)
def state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's own state folder (SOCKETLAB_STATE_DIR): generated tokens, join codes and students'
    tokens never land in the project's instance/ folder. In the environment, so dashboards started in
    subprocesses (which inherit it) keep theirs there too; and as the default of a configuration made
    in this process (create_app({...}) starts from the defaults, not from the environment)."""
    folder = tmp_path_factory.mktemp("state") / "state"
    monkeypatch.setenv("SOCKETLAB_STATE_DIR", str(folder))
    monkeypatch.setattr("webapp.state.DEFAULT", folder)
    return folder


@pytest.fixture
def resources() -> Resources:
    return Resources.now()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server of this test's own, on a unix socket (tests/redis_server.py); stopped by pid."""
    server = RedisServer()
    yield server
    server.close()


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    return {"files": tmp_path / "files", "downloads": tmp_path / "downloads"}


@pytest.fixture
def lab(folders: dict[str, Path]) -> Iterator[Lab]:
    the_lab = Lab(folders["files"], folders["downloads"])
    yield the_lab
    the_lab.close()


RUNNERS = ["embedded", "agent"]  # what runs the lab: `pytest.mark.parametrize("app", RUNNERS, indirect=True)`
WITH_SANDBOX = [*RUNNERS, "sandbox"]  # and the sandbox (skipped where namespaces are refused)
LOCAL_AGENT = "a1"  # (no word in it: the pages' "no English left" checks read ids too)


@pytest.fixture
def app(request: pytest.FixtureRequest, folders: dict[str, Path]) -> Iterator[Any]:
    """The dashboard with its own lab ("embedded", the default), or, parametrised "agent", a dashboard
    over a real redis-server with a lab agent in its process (SOCKETLAB_LOCAL_AGENT): the same tests on
    both paths, so that what the page and the stage do cannot drift apart."""
    runner = getattr(request, "param", "embedded")
    config = {"TESTING": True, "FILES": str(folders["files"]), "DOWNLOADS": str(folders["downloads"])}
    server, root = None, None
    if runner == "agent":
        server = RedisServer()
        config.update(REDIS=server.url, LOCAL_AGENT=LOCAL_AGENT)
    elif runner == "sandbox":  # (also a dashboard over an agent: its own, in namespaces, that captures packets)
        from .sandbox.conftest import lab_folder, namespaces_work

        refused = namespaces_work()
        if refused:
            pytest.skip(f"no network namespace here: {refused}")
        root = lab_folder(request.getfixturevalue("tmp_path_factory"))
        config.update(SANDBOX=True, FILES=str(root / "files"), DOWNLOADS=str(root / "downloads"))
    the_app = create_app(config)
    if server is not None:
        hub = the_app.extensions["socketlab_labs"].hub
        wait_until(lambda: LOCAL_AGENT in hub.up(), 10)
    yield the_app
    shutdown(the_app)
    if server is not None:
        server.close()
    if root is not None and os.geteuid() == 0:
        shutil.rmtree(root)  # (lab_folder's own, outside pytest's temporary folders)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def live_server(app: Any) -> Iterator[LiveServer]:
    """The app on a real threaded HTTP server at 127.0.0.1, port 0."""
    with serve(app) as live:
        yield live


@pytest.fixture
def events_client() -> Iterator[Callable[..., EventCollector]]:
    made: list[EventCollector] = []

    def connect(url: str, **kwargs: Any) -> EventCollector:
        collector = EventCollector(url, **kwargs)
        made.append(collector)
        return collector

    yield connect
    for collector in made:
        collector.close()


CHROMIUM = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000
VIEWPORT = {"width": 1280, "height": 720}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so a missing browser is a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    path = CHROMIUM if os.path.isabs(CHROMIUM) else shutil.which(CHROMIUM)
    if not path or not os.access(path, os.X_OK):
        _unavailable(f"Chromium not found at {CHROMIUM}: install Debian's chromium package or set $CHROMIUM")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("the 'playwright' Python package is not installed")
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def no_page_outlives_its_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every browser context a test made is closed when the test ends, passed or failed: a page left
    open (a test that failed before its `context.close()`) keeps its websocket to a server that no
    longer accepts, and every ping it answers starts a thread in the process of a later test, whose
    thread count then fails."""
    if "browser" not in request.fixturenames:
        yield
        return
    browser = request.getfixturevalue("browser")
    before = set(browser.contexts)
    yield
    for ctx in browser.contexts:
        if ctx not in before:
            ctx.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport=VIEWPORT, locale="en-US", accept_downloads=True)
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


@pytest.fixture
def lan() -> Iterator[Lan]:
    network = Lan(hosts=4)
    try:
        try:
            network.build()
        except subprocess.CalledProcessError as exc:
            if not network.created and not os.environ.get("CI"):  # in CI a LAN that cannot be built is a failure
                pytest.skip(f"root, but `ip netns add` is refused here (a container without CAP_SYS_ADMIN?): {exc.stderr.strip()}")
            raise
        yield network
    finally:
        network.close()  # whatever failed half-way: kill the children, delete every namespace made
