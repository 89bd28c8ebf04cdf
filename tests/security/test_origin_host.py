"""Any web page could drive a default lab (the hardening issue, item 1), and tokens reached the logs
(item 6): the attacks again, as HTTP requests, against the dev server (`python -m webapp`) and the
the production gunicorn command (docs/security.md), each in its own process on 127.0.0.1 port 0.

Every attack here succeeded before webapp/guard.py and webapp/redact.py: a text/plain body was
read as JSON (202, and a download connected to the listener), foreign Origin, Referer and Host
headers were ignored (201, 200), and both logs showed `?token=<the token>`.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from webapp import create_app, shutdown
from webapp.guard import HostPolicy, MachineAddresses, same_origin
from webapp.redact import redact

from ..servers import Dashboard, start_dashboard
from ..support import EventCollector, wait_until

CLASSROOM_NAME = "lab.classroom.test"  # given in SOCKETLAB_HOSTS
FOREIGN = "http://attacker.example"
SECRET = "s3cret-token-value"
TIMEOUT = 5


@pytest.fixture(scope="module", params=["dev", "gunicorn"])
def dashboard(request: Any, tmp_path_factory: Any) -> Iterator[Dashboard]:
    # gunicorn with its access log on (to stdout), to see what the log shows of a token
    extra = ("--access-logfile", "-") if request.param == "gunicorn" else ()
    dash = start_dashboard(request.param, tmp_path_factory.mktemp(request.param), env={"SOCKETLAB_HOSTS": CLASSROOM_NAME},
                           extra=extra)
    yield dash
    dash.stop()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A local service the attacks aim a download at (as they would at a local Redis)."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        sock.settimeout(TIMEOUT)
        yield sock


def created(dash: Dashboard) -> tuple[int, int]:
    endpoints = requests.get(f"{dash.url}/api/endpoints", timeout=TIMEOUT).json()
    downloads = requests.get(f"{dash.url}/api/downloads", timeout=TIMEOUT).json()
    return len(endpoints), len(downloads)


def as_json_in_text(port: int) -> str:
    """What an HTML form with enctype=text/plain can send: a JSON download of a chosen 'file' line."""
    return json.dumps({"host": "127.0.0.1", "port": port, "protocol": "raw", "file": "FLUSHALL"})


def assert_refused(answer: requests.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["code"] == code
    assert body["error"].endswith(".") and len(body["error"].split()) > 6, "a sentence a student can read"


def test_a_text_plain_body_is_refused_and_creates_nothing(dashboard: Dashboard, listener: socket.socket) -> None:
    before = created(dashboard)
    port = listener.getsockname()[1]
    for path, body in [("/api/downloads", as_json_in_text(port)),
                       ("/api/endpoints", json.dumps({"kind": "tcp-client", "host": "127.0.0.1", "port": port}))]:
        for kind in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None]:
            headers = {"Content-Type": kind} if kind else {}
            answer = requests.post(dashboard.url + path, data=body.encode(), headers=headers, timeout=TIMEOUT)
            assert_refused(answer, 415, "not-json")
    assert created(dashboard) == before
    # Then a real JSON download: the first connection the listener sees is this one, and the
    # download list grew by exactly one, so the refused ones never started.
    answer = requests.post(f"{dashboard.url}/api/downloads", json={"host": "127.0.0.1", "port": port, "file": "ok"},
                           timeout=TIMEOUT)
    assert answer.status_code == 202, answer.text
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(TIMEOUT)
        assert conn.recv(100) == b"ok\n"
    assert created(dashboard) == (before[0], before[1] + 1)
    requests.delete(f"{dashboard.url}/api/downloads/{answer.json()['id']}", timeout=TIMEOUT)


def test_a_body_that_says_json_is_still_accepted(dashboard: Dashboard) -> None:
    spec = json.dumps({"kind": "tcp-server", "port": 0, "mode": "echo"}).encode()
    for kind in ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"]:
        answer = requests.post(f"{dashboard.url}/api/endpoints", data=spec, headers={"Content-Type": kind}, timeout=TIMEOUT)
        assert answer.status_code == 201, answer.text
        # a bare DELETE, as curl -X DELETE sends it: no body, no Content-Type
        assert requests.delete(f"{dashboard.url}/api/endpoints/{answer.json()['id']}", timeout=TIMEOUT).ok


def test_a_foreign_origin_or_referer_cannot_act(dashboard: Dashboard) -> None:
    before = created(dashboard)
    spec = {"kind": "tcp-server", "port": 0, "mode": "echo"}
    for headers in [{"Origin": FOREIGN}, {"Origin": "null"}, {"Origin": f"http://127.0.0.1:{dashboard.port + 1}"},
                    {"Referer": f"{FOREIGN}/page.html"}, {"Origin": FOREIGN, "Referer": f"{dashboard.url}/"}]:
        assert_refused(requests.post(f"{dashboard.url}/api/endpoints", json=spec, headers=headers, timeout=TIMEOUT),
                       403, "cross-origin")
        assert_refused(requests.delete(f"{dashboard.url}/api/endpoints/e1", headers=headers, timeout=TIMEOUT),
                       403, "cross-origin")
    assert created(dashboard) == before
    # reading is not acting: a GET with a foreign Origin is answered (CORS keeps the body from that page)
    assert requests.get(f"{dashboard.url}/api/endpoints", headers={"Origin": FOREIGN}, timeout=TIMEOUT).ok


def test_the_dashboards_own_page_and_scripts_still_act(dashboard: Dashboard) -> None:
    spec = {"kind": "tcp-server", "port": 0, "mode": "echo"}
    localhost = f"localhost:{dashboard.port}"
    for headers in [{}, {"Origin": dashboard.url}, {"Referer": f"{dashboard.url}/?view=projector"},
                    {"Host": localhost, "Origin": f"http://{localhost}"},
                    {"Host": f"{CLASSROOM_NAME}:{dashboard.port}", "Origin": f"http://{CLASSROOM_NAME}:{dashboard.port}"}]:
        answer = requests.post(f"{dashboard.url}/api/endpoints", json=spec, headers=headers, timeout=TIMEOUT)
        assert answer.status_code == 201, (headers, answer.text)
        gone = requests.delete(f"{dashboard.url}/api/endpoints/{answer.json()['id']}", headers=headers, timeout=TIMEOUT)
        assert gone.ok, gone.text


def test_a_host_it_does_not_answer_to_gets_400(dashboard: Dashboard) -> None:
    before = created(dashboard)
    forged = {"Host": f"attacker.example:{dashboard.port}"}  # what DNS rebinding makes a browser send
    page = requests.get(f"{dashboard.url}/", headers=forged, timeout=TIMEOUT)
    assert page.status_code == 400 and page.headers["Content-Type"].startswith("text/plain")
    assert "SOCKETLAB_HOSTS" in page.text
    for host in [forged["Host"], "0.0.0.0", f"203.0.113.7:{dashboard.port}", "localhost.attacker.example"]:
        assert_refused(requests.get(f"{dashboard.url}/api/endpoints", headers={"Host": host}, timeout=TIMEOUT),
                       400, "unknown-host")
    # the rebinding page is same-origin with itself: Origin matches Host, the JSON is fine, the Host is not
    rebound = {**forged, "Origin": f"http://{forged['Host']}"}
    assert_refused(requests.post(f"{dashboard.url}/api/endpoints", json={"kind": "tcp-server", "port": 0},
                                 headers=rebound, timeout=TIMEOUT), 400, "unknown-host")
    handshake = requests.get(f"{dashboard.url}/socket.io/?EIO=4&transport=polling", headers=forged, timeout=TIMEOUT)
    assert_refused(handshake, 400, "unknown-host")
    assert created(dashboard) == before


def websocket_upgrade_status(dash: Dashboard, host: str) -> str:
    """The status line the Engine.IO websocket endpoint answers an upgrade with."""
    request = (f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    with socket.create_connection(("127.0.0.1", dash.port), timeout=TIMEOUT) as sock:
        sock.sendall(request.encode())
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode()


def test_the_websocket_upgrade_checks_the_host_too(dashboard: Dashboard) -> None:
    assert websocket_upgrade_status(dashboard, f"attacker.example:{dashboard.port}").split()[1] == "400"
    assert websocket_upgrade_status(dashboard, f"127.0.0.1:{dashboard.port}").split()[1] == "101"


def test_names_in_socketlab_hosts_and_loopback_are_answered(dashboard: Dashboard) -> None:
    for host in [f"{CLASSROOM_NAME}:{dashboard.port}", CLASSROOM_NAME.upper(), f"localhost:{dashboard.port}",
                 f"127.0.0.2:{dashboard.port}", f"[::1]:{dashboard.port}"]:
        assert requests.get(f"{dashboard.url}/api/health", headers={"Host": host}, timeout=TIMEOUT).ok, host
        assert requests.get(f"{dashboard.url}/", headers={"Host": host}, timeout=TIMEOUT).ok, host


def test_the_python_socketio_client_still_connects(dashboard: Dashboard) -> None:
    for transport in ["websocket", "polling"]:  # polling POSTs text/plain to /socket.io/: not the API
        collector = EventCollector(dashboard.url, transports=[transport])
        try:
            answer = requests.post(f"{dashboard.url}/api/endpoints", json={"kind": "tcp-server", "port": 0}, timeout=TIMEOUT)
            collector.wait_for(endpoint=answer.json()["id"], kind="listen")
            requests.delete(f"{dashboard.url}/api/endpoints/{answer.json()['id']}", timeout=TIMEOUT)
        finally:
            collector.close()


def test_tokens_never_reach_the_request_log(dashboard: Dashboard) -> None:
    for path in [f"/?token={SECRET}", f"/api/health?after=1&token={SECRET}&x=2", f"/api/health?%74oken={SECRET}"]:
        assert requests.get(dashboard.url + path, timeout=TIMEOUT).ok
    # the request log is written as each answer completes: wait for all three lines
    wait_until(lambda: dashboard.output().count("GET /api/health?") >= 2 and "GET /?" in dashboard.output(), TIMEOUT)
    assert SECRET not in dashboard.output()
    assert dashboard.output().count("token=(hidden)") >= 3
    assert "?after=1&token=(hidden)&x=2" in dashboard.output()


# --- the same rules in-process, where a test can set what a subprocess cannot ----------------------


def test_a_dashboard_on_all_addresses_answers_to_the_machines_own(folders: dict[str, Path]) -> None:
    """Bound to 0.0.0.0, a class opening the link by this machine's IP or name needs no configuration."""
    own = _outbound_address()
    app = create_app({"TESTING": True, "FILES": str(folders["files"]), "DOWNLOADS": str(folders["downloads"]),
                      "DASHBOARD_BIND": "0.0.0.0"})
    try:
        client = app.test_client()
        hosts = [f"{socket.gethostname()}:5000"] + ([f"{own}:5000"] if own else [])
        for host in hosts:
            assert client.get("/api/health", headers={"Host": host}).status_code == 200, host
        assert client.get("/api/health", headers={"Host": "203.0.113.7:5000"}).status_code == 400
        assert client.get("/api/health", headers={"Host": "attacker.example"}).status_code == 400
    finally:
        shutdown(app)


def test_a_dashboard_on_loopback_refuses_the_machines_other_addresses(folders: dict[str, Path]) -> None:
    own = _outbound_address()
    if own is None:
        pytest.skip("this machine has no address besides loopback")
    app = create_app({"TESTING": True, "FILES": str(folders["files"]), "DOWNLOADS": str(folders["downloads"]),
                      "DASHBOARD_BIND": "127.0.0.1"})
    try:
        assert app.test_client().get("/api/health", headers={"Host": f"{own}:5000"}).status_code == 400
    finally:
        shutdown(app)


def _outbound_address() -> str | None:
    """This machine's address on its default route, found without the code under test: a UDP
    connect() only asks the routing table, it sends nothing."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never a real peer
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def test_machine_addresses_are_read_again_on_a_miss_but_not_every_time() -> None:
    reads: list[int] = []

    class Counted(MachineAddresses):
        @classmethod
        def read(cls) -> set[Any]:
            reads.append(1)
            return super().read()

    machine = Counted(refresh=3600)
    policy = HostPolicy(["0.0.0.0"], [], machine)
    for _ in range(50):
        assert not policy.allows("203.0.113.7")
    assert len(reads) == 1, "a flood of forged Hosts reads the interfaces once per refresh period"


@pytest.mark.parametrize(("url", "host", "same"), [
    ("http://127.0.0.1:5000", "127.0.0.1:5000", True),
    ("http://127.0.0.1:5000/page?x=1", "127.0.0.1:5000", True),
    ("http://LOCALHOST:5000", "localhost:5000", True),
    ("https://lab.example", "lab.example", True),  # behind a TLS proxy: default ports on both sides
    ("http://lab.example", "lab.example:80", True),
    ("http://[::1]:5000", "[::1]:5000", True),
    ("http://127.0.0.1:5001", "127.0.0.1:5000", False),
    ("http://127.0.0.1", "127.0.0.1:5000", False),
    ("http://attacker.example:5000", "127.0.0.1:5000", False),
    ("http://127.0.0.1.attacker.example:5000", "127.0.0.1:5000", False),
    ("null", "127.0.0.1:5000", False),
    ("file:///home/student/page.html", "127.0.0.1:5000", False),
    ("http://127.0.0.1:notaport", "127.0.0.1:5000", False),
])
def test_same_origin(url: str, host: str, same: bool) -> None:
    assert same_origin(url, host) is same


@pytest.mark.parametrize(("line", "shown"), [
    ('"GET /?token=abc HTTP/1.1" 200 -', '"GET /?token=(hidden) HTTP/1.1" 200 -'),
    ("GET /api/events?after=3&token=abc&limit=5 HTTP/1.1", "GET /api/events?after=3&token=(hidden)&limit=5 HTTP/1.1"),
    ("GET /?%74oken=abc HTTP/1.1", "GET /?%74oken=(hidden) HTTP/1.1"),
    ("GET /?tokens=abc&mytoken=abc HTTP/1.1", "GET /?tokens=abc&mytoken=abc HTTP/1.1"),
    ("GET /api/health HTTP/1.1", "GET /api/health HTTP/1.1"),
])
def test_redact(line: str, shown: str) -> None:
    assert redact(line) == shown



def test_every_api_error_carries_a_stable_code(app: Any, client: Any) -> None:
    """CONTRACT: every API error body is {"error": <sentence>, "code": <stable-code>}."""
    from webapp.auth import Access

    with socket.socket() as bound:  # bound, never listening: a connect to it is refused
        bound.bind(("127.0.0.1", 0))
        closed_port = bound.getsockname()[1]
        cases = [
            # lab errors: the fine code (lab/messages.py); `category` keeps the coarse code of before
            (client.post("/api/endpoints", json={"kind": "nope"}), 400, "not-a-choice/bad-input"),
            (client.post("/api/endpoints", json={"kind": "tcp-client", "host": "192.0.2.1", "port": 9}), 403,
             "policy-forbids-reach/forbidden"),
            (client.get("/api/endpoints/e999"), 404, "no-such-endpoint/not-found"),
            (client.post("/api/endpoints", json={"kind": "tcp-client", "host": "127.0.0.1", "port": closed_port}),
             409, "connection-refused/refused"),
            (client.post("/api/endpoints", data=b'"' + b"x" * (9 << 20) + b'"', content_type="application/json"),
             413, "too-large"),
            (client.get("/api/no-such-thing"), 404, "no-such-route"),
            (client.put("/api/endpoints", json={}), 405, "method-not-allowed"),
            (client.post("/api/endpoints", data="{}", content_type="text/plain"), 415, "not-json"),
            (client.post("/api/endpoints", json={}, headers={"Origin": FOREIGN}), 403, "cross-origin"),
            (client.get("/api/endpoints", headers={"Host": "attacker.example"}), 400, "unknown-host"),
            (client.get("/api/endpoints", environ_base={"REMOTE_ADDR": "192.0.2.5"}), 401, "local-only"),
        ]
    app.config["ACCESS"] = Access("control-secret", "view-secret")
    cases.append((client.post("/api/endpoints", json={"kind": "tcp-server", "port": 0},
                              headers={"Authorization": "Bearer view-secret"}), 403, "view-only"))
    cases.append((client.get("/api/endpoints", environ_base={"REMOTE_ADDR": "192.0.2.5"}), 401, "unauthorized"))
    for answer, status, expected in cases:
        body = answer.get_json()
        code, _, category = expected.partition("/")
        assert (answer.status_code, body["code"]) == (status, code), body
        assert not category or body["category"] == category, body
        assert isinstance(body["params"], dict), body
        assert isinstance(body["error"], str) and body["error"].endswith("."), body
