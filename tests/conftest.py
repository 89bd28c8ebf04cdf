"""Shared fixtures: a lab on temporary folders, the app, a live server on port 0, Socket.IO clients."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from werkzeug.serving import make_server

from lab import Lab
from webapp import create_app, shutdown

from .support import EventCollector, LiveServer, Resources


@pytest.fixture
def resources() -> Resources:
    return Resources.now()


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    return {"files": tmp_path / "files", "downloads": tmp_path / "downloads"}


@pytest.fixture
def lab(folders: dict[str, Path]) -> Iterator[Lab]:
    the_lab = Lab(folders["files"], folders["downloads"])
    yield the_lab
    the_lab.close()


@pytest.fixture
def app(folders: dict[str, Path]) -> Iterator[Any]:
    the_app = create_app({"TESTING": True, "FILES": str(folders["files"]), "DOWNLOADS": str(folders["downloads"])})
    yield the_app
    shutdown(the_app)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def live_server(app: Any) -> Iterator[LiveServer]:
    """The app on a real threaded HTTP server at 127.0.0.1, port 0."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield LiveServer(f"http://127.0.0.1:{server.server_port}", app, server.server_port)
    server.shutdown()
    server.server_close()
    thread.join(5)


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
