"""A page from another site, in a real Chromium, tries to drive the default lab (no token, on
127.0.0.1): the hardening issue, item 1.

The attacker's pages come from a small HTTP server on 127.0.0.2 (another origin on this same
machine, as any website is once it runs in the teacher's browser). Each trick aims a download at a
TCP listener the test runs, the way it would reach a local Redis. Before webapp/guard.py the form
POST and the no-cors fetch each started a download that sent "FLUSHALL\n" to that listener.
"""

from __future__ import annotations

import html
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest
import requests

from ..support import LiveServer, wait_until

pytestmark = pytest.mark.browser

TIMEOUT = 5


class AttackerSite:
    """Serves the pages set in `pages` (path -> HTML) from 127.0.0.2, port 0."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  (http.server's name)
                body = pages.get(self.path, "not here").encode()
                self.send_response(200 if self.path in pages else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass  # quiet: the test says what failed

        self.server = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
        self.url = f"http://127.0.0.2:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="attacker-site")
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(TIMEOUT)


@pytest.fixture
def attacker() -> Iterator[AttackerSite]:
    site = AttackerSite()
    yield site
    site.close()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield sock


def json_form(action: str, fields: dict[str, Any]) -> str:
    """An enctype=text/plain form whose body reads as the JSON `fields`: the browser sends
    `name=value`, so the name holds the JSON up to the last string's opening quote and the value
    the rest, and the '=' lands inside that last string."""
    text = json.dumps(fields)
    cut = text.rindex('"', 0, len(text) - 2)  # the opening quote of the last value (a string)
    name, value = text[:cut + 1], text[cut + 1:]
    return (f'<form method="POST" action="{html.escape(action)}" enctype="text/plain">'
            f'<input name="{html.escape(name)}" value="{html.escape(value)}"></form>'
            "<script>document.forms[0].submit()</script>")


def no_cors_fetch(url: str, fields: dict[str, Any]) -> str:
    body = json.dumps(json.dumps(fields))
    return (f"<script>fetch({json.dumps(url)}, {{method: 'POST', mode: 'no-cors', body: {body}}})"
            ".then(() => { document.title = 'sent'; }, () => { document.title = 'failed'; });</script>")


def image_get(url: str) -> str:
    return (f'<img src="{html.escape(url)}" onload="document.title=\'sent\'" '
            "onerror=\"document.title='sent'\">")


def lab_state(server: LiveServer) -> tuple[list[Any], list[Any]]:
    return (requests.get(f"{server.url}/api/endpoints", timeout=TIMEOUT).json(),
            requests.get(f"{server.url}/api/downloads", timeout=TIMEOUT).json())


def test_another_sites_page_cannot_drive_the_lab(context: Any, live_server: LiveServer,
                                                  attacker: AttackerSite, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    download = {"host": "127.0.0.1", "port": port, "protocol": "raw", "file": "FLUSHALL"}
    client = {"kind": "tcp-client", "host": "127.0.0.1", "port": port, "framing": "line", "delimiter": "FLUSHALL"}
    api = f"{live_server.url}/api"
    attacker.pages.update({
        "/form-download": json_form(f"{api}/downloads", download),
        "/form-endpoint": json_form(f"{api}/endpoints", client),
        "/fetch-download": no_cors_fetch(f"{api}/downloads", download),
        "/fetch-endpoint": no_cors_fetch(f"{api}/endpoints", client),
        "/image": image_get(f"{api}/downloads?host=127.0.0.1&port={port}&file=FLUSHALL"),
    })
    answers: dict[str, int] = {}  # path of each request the pages made to the dashboard -> status

    def seen(response: Any) -> None:
        if response.url.startswith(live_server.url):
            answers[response.request.method + " " + response.url[len(live_server.url):]] = response.status

    page = context.new_page()
    page.on("response", seen)
    for trick in ["/form-download", "/form-endpoint"]:
        with page.expect_navigation(url=f"{api}/**"):  # the form leaves for the dashboard's answer
            page.goto(attacker.url + trick)
        assert "cross-origin" in page.content()  # the refusal, shown to nobody but the attacker's tab
    for trick in ["/fetch-download", "/fetch-endpoint", "/image"]:
        page.goto(attacker.url + trick)
        wait_until(lambda: page.title() in ("sent", "failed"), TIMEOUT)
    # (the image's answer is 200, reading is not acting, and Chromium keeps a JSON body from an <img>)
    wait_until(lambda: {"POST /api/downloads", "POST /api/endpoints"} <= answers.keys(), TIMEOUT)

    assert answers.get("POST /api/downloads") == 403 and answers.get("POST /api/endpoints") == 403, answers
    assert lab_state(live_server) == ([], []), "the lab created nothing"
    listener.setblocking(False)
    with pytest.raises(BlockingIOError):
        listener.accept()  # nothing ever connected, and nothing can: the lab holds no download or client

    # DNS rebinding: the attacker's name now points at 127.0.0.1, so its page is "same-origin" with the
    # dashboard, sends JSON and a matching Origin; only the Host header gives it away. (A browser
    # cannot be made to forge Host, so this one is sent as the browser would send it.)
    rebound = f"attacker.example:{live_server.port}"
    answer = requests.post(f"{api}/downloads", json=download, timeout=TIMEOUT,
                           headers={"Host": rebound, "Origin": f"http://{rebound}"})
    assert answer.status_code == 400 and answer.json()["code"] == "unknown-host"
    assert lab_state(live_server) == ([], [])

    # The same browser on the dashboard's own page still acts (the control for all of the above).
    own = context.new_page()
    own.goto(live_server.url + "/")
    status = own.evaluate("""async (spec) => (await fetch('/api/endpoints', {method: 'POST',
        headers: {'Content-Type': 'application/json'}, body: JSON.stringify(spec)})).status""",
                          {"kind": "tcp-server", "port": 0, "mode": "echo"})
    assert status == 201
    assert len(lab_state(live_server)[0]) == 1
