"""The auth matrix: no token, viewer and controller, across every route and the Socket.IO connect."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
import socketio as socketio_client

from webapp import create_app, shutdown
from lab.interfaces import machine_addresses
from webapp.auth import Access, announce, new_token, prepare_tokens

from ..support import EventCollector, LiveServer, serve

CONTROL, VIEW = "control-secret", "view-secret"

# (method, path, json body); "{srv}" and "{dl}" are filled with a live server's and a download's ids.
ROUTES = [
    ("GET", "/api/endpoints", None),
    ("POST", "/api/endpoints", {"kind": "tcp-server", "port": 0}),
    ("GET", "/api/endpoints/{srv}", None),
    ("POST", "/api/endpoints/{srv}/send", {"data": "x"}),
    ("POST", "/api/endpoints/{srv}/stop-listening", None),
    ("DELETE", "/api/endpoints/{srv}/connections/c1", None),
    ("DELETE", "/api/endpoints/{srv}", None),
    ("POST", "/api/downloads", {"port": 1}),
    ("GET", "/api/downloads", None),
    ("GET", "/api/downloads/{dl}", None),
    ("GET", "/api/downloads/{dl}/file", None),
    ("GET", "/api/endpoints/{srv}/code", None),
    ("GET", "/api/downloads/{dl}/code", None),
    ("DELETE", "/api/downloads/{dl}", None),
    ("GET", "/api/files", None),
    ("GET", "/api/events?after=0", None),
    ("GET", "/api/session", None),
    ("GET", "/api/stats", None),
    ("GET", "/api/stage", None),
    ("PUT", "/api/stage/teacher", {"view": "ladder"}),
    ("POST", "/api/stage/actions/sendHello", None),
    ("POST", "/api/stage", {"lesson": None}),
]


@pytest.fixture
def secured(folders: dict) -> Iterator[Any]:
    app = create_app({"TESTING": True, "FILES": str(folders["files"]), "DOWNLOADS": str(folders["downloads"]),
                      "ACCESS": Access(CONTROL, VIEW)})
    yield app
    shutdown(app)


def call(client: Any, method: str, path: str, body: Any, token: str | None, how: str = "header") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token and how == "header" else {}
    if token and how == "query":
        path += ("&" if "?" in path else "?") + f"token={token}"
    return client.open(path, method=method, json=body, headers=headers)


def ids(client: Any) -> dict[str, str]:
    server = call(client, "POST", "/api/endpoints", {"kind": "tcp-server", "port": 0, "mode": "files"}, CONTROL).get_json()
    dl = call(client, "POST", "/api/downloads", {"port": server["local"][1], "file": "hello.txt"}, CONTROL).get_json()
    return {"srv": server["id"], "dl": dl["id"]}


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_auth_matrix(secured: Any, method: str, path: str, body: Any) -> None:
    client = secured.test_client()
    path = path.format(**ids(client))
    action = method not in ("GET", "HEAD")
    for token, how in [(None, "header"), ("wrong", "header"), (VIEW, "header"), (VIEW, "query"), (CONTROL, "header"), (CONTROL, "query")]:
        response = call(client, method, path, body, token, how)
        status = response.status_code
        response.close()
        if token in (None, "wrong"):
            assert status == 401, (token, status)
            assert "token" in response.get_json()["error"]
        elif token == VIEW and action:
            assert status == 403 and "view-only" in response.get_json()["error"]
        else:
            assert status not in (401, 403, 500), (token, how, status)


def test_health_and_page_need_no_token(secured: Any) -> None:
    client = secured.test_client()
    assert client.get("/api/health").status_code == 200
    assert client.get("/").status_code == 200  # the page itself asks for the token


def test_session_says_the_role(secured: Any) -> None:
    client = secured.test_client()
    assert call(client, "GET", "/api/session", None, VIEW).get_json()["role"] == "view"
    assert call(client, "GET", "/api/session", None, CONTROL).get_json()["role"] == "control"


def test_no_token_configured_means_loopback_only(client: Any) -> None:
    assert client.get("/api/endpoints").status_code == 200
    remote = client.get("/api/endpoints", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert remote.status_code == 401 and "SOCKETLAB_TOKEN" in remote.get_json()["error"]


def test_tokens_generated_only_when_exposed() -> None:
    assert not prepare_tokens(None, None, ["127.0.0.1"]).required
    access = prepare_tokens(None, None, ["0.0.0.0"])
    assert access.required and access.view and access.control != access.view
    lines = announce(access, "0.0.0.0", 5000)
    assert f"?token={access.control}" in lines[0] and f"?token={access.view}" in lines[1]
    # on every address, the links name the machine's LAN address, as the Join panel does (a host name
    # may resolve to loopback on the teacher's machine and to nothing on the students')
    lan = [a.address for a in machine_addresses((4,)) if a.kind == "lan"]
    if lan:
        assert lines[0].split("?")[0].endswith(f"http://{lan[0]}:5000/"), lines
    fixed = prepare_tokens("t", None, ["0.0.0.0"])
    assert fixed.control == "t" and fixed.view


def test_no_token_starts_like_an_option() -> None:
    """`--token -x...` is an option to argparse (and to most command lines): one URL-safe token in 64 would
    start so, and fail the student who pastes it. 2,000 draws meet a leading "-" about 31 times."""
    tokens = [new_token(24) for _ in range(2000)]
    assert not [t for t in tokens if t.startswith("-")]
    assert len(set(tokens)) == 2000 and {len(t) for t in tokens} == {32}
    assert {t[0] for t in tokens} >= {"_", "A", "z"}  # still random in its first character


@pytest.fixture
def secured_live(secured: Any) -> Iterator[LiveServer]:
    with serve(secured) as live:
        yield live


def test_socketio_connect_needs_a_token(secured_live: LiveServer) -> None:
    for auth in (None, {"token": "wrong"}):
        sio = socketio_client.Client(reconnection=False)
        with pytest.raises(socketio_client.exceptions.ConnectionError):
            sio.connect(secured_live.url, transports=["websocket"], auth=auth, wait_timeout=5)
        sio.disconnect()
    for token in (VIEW, CONTROL):
        collector = EventCollector(secured_live.url, auth={"token": token})
        assert collector.sio.connected
        collector.close()


def test_socketio_refuses_other_origins(live_server: LiveServer) -> None:
    """Same-origin only: a page on another site cannot open the lab's event stream."""
    sio = socketio_client.Client(reconnection=False)
    with pytest.raises(socketio_client.exceptions.ConnectionError):
        sio.connect(live_server.url, transports=["websocket"], headers={"Origin": "http://evil.example"}, wait_timeout=5)
    sio.disconnect()
    same = EventCollector(live_server.url)  # python-socketio sends no Origin: allowed, like same-origin
    assert same.sio.connected
    same.close()
