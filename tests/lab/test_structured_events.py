"""Events say what happened as data: call, args, result, closed_by, errno, code, params,
message, framing, state. Each scenario is a real one on 127.0.0.1 and pins the exact fields, so a
page can word every event in its own language without reading `detail`."""

from __future__ import annotations

import re
import socket
import struct
from pathlib import Path
from typing import Any

import pytest

from lab import Lab
from lab.events import bus as events_module
from lab.sockets.endpoint import Limits
from lab.events.bus import JSON_FIELDS, Event, Form
from lab.events.kinds import KINDS, LIFECYCLE_KINDS, kinds_json

from ..support import Resources, wait_until

ROOT = Path(__file__).resolve().parents[2]
NEW_FIELDS = JSON_FIELDS[JSON_FIELDS.index("call"):]  # (what happened, as data: the structured fields)


def of(lab: Lab, endpoint: str, *kinds: str) -> list[Event]:
    return [e for e in lab.bus.since(0, 100_000)[0] if e.endpoint == endpoint and (not kinds or e.kind in kinds)]


def fields(event: Event, *names: str) -> tuple[Any, ...]:
    return tuple(event.to_json()[name] for name in names)


def reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the kernel sends RST instead of FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def free_port() -> int:
    """A port nothing listens on: bound, never listened, closed (connect() to it is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def small_lab(folders: dict[str, Path]) -> Any:
    the_lab = Lab(folders["files"], folders["downloads"], limits=Limits(idle_seconds=1, connections_per_server=1))
    yield the_lab
    the_lab.close()


# -- TCP ---------------------------------------------------------------------------------------

def test_tcp_echo_with_a_plain_client(lab: Lab, resources: Resources) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    host, port = server.local
    with socket.create_connection(server.local, timeout=5) as c:
        c.sendall(b"hello")
        assert c.recv(100) == b"hello"
        me = list(c.getsockname())
    close = wait_until(lambda: of(lab, server.id, "close"))[0]
    listen, accept = of(lab, server.id, "listen")[0], of(lab, server.id, "accept")[0]
    recv, send = of(lab, server.id, "recv")[0], of(lab, server.id, "send")[0]
    assert fields(listen, "call", "args", "result") == ("listen", {"address": [host, port], "backlog": 128}, None)
    assert fields(accept, "call", "result", "conn") == ("accept", me, "c1")
    assert fields(recv, "call", "args", "result", "framing", "message") == ("recv", {"bufsize": 65536}, 5, None, None)
    assert fields(send, "call", "args", "result", "framing", "message") == ("sendall", {"bytes": 5}, 5, None, None)
    assert fields(close, "call", "closed_by", "errno", "code", "params") == ("close", "peer", None, None, None)
    # every event carries every field, null where it does not apply
    for event in of(lab, server.id):
        assert set(NEW_FIELDS) <= set(event.to_json())
        assert (event.kind == "state") == (event.state is not None)
    lab.remove(server.id)
    resources.settled()


def test_recv_events_share_one_args_object(lab: Lab) -> None:
    """The hot path builds no dict per recv: every recv event holds the same (never mutated) args."""
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "manual"})
    with socket.create_connection(server.local, timeout=5) as c:
        c.sendall(b"one")
        wait_until(lambda: of(lab, server.id, "recv"))
        c.sendall(b"two")
        recvs = wait_until(lambda: len(of(lab, server.id, "recv")) == 2 and of(lab, server.id, "recv"))
    assert recvs[0].args is recvs[1].args


def test_state_events_follow_the_lifecycle_of_a_server(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    with socket.create_connection(server.local, timeout=5):
        wait_until(lambda: server.connections)
    wait_until(lambda: not server.connections)
    lab.stop_listening(server.id)
    lab.remove(server.id)
    states = [e.state for e in of(lab, server.id, "state")]
    assert states is not None
    shown = [(s["state"], [c["id"] for c in s["connections"]], s.get("removed", False)) for s in states if s]
    assert shown == [("listening", [], False), ("listening", ["c1"], False), ("listening", [], False),
                     ("not-listening", [], False), ("stopped", [], True)]
    # a snapshot makes no syscall: no tcp_info, in the endpoint or its connections
    assert all("tcp_info" not in c for s in states if s for c in s["connections"])


def test_snapshots_share_each_connections_summary(lab: Lab) -> None:
    """A state event costs pointers, not new dicts per connection (the buffer holds thousands)."""
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "manual"})
    with socket.create_connection(server.local, timeout=5), socket.create_connection(server.local, timeout=5):
        wait_until(lambda: len(server.connections) == 2)
        states = wait_until(lambda: [e.state for e in of(lab, server.id, "state") if e.state and len(e.state["connections"]) == 2])
        first = [e.state for e in of(lab, server.id, "state") if e.state and e.state["connections"]][0]
        assert first["connections"][0] is states[0]["connections"][0]


def test_the_peer_resets(lab: Lab, resources: Resources) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    plain = socket.create_connection(server.local, timeout=5)
    host, port = plain.getsockname()
    wait_until(lambda: server.connections)
    reset(plain)
    close = wait_until(lambda: of(lab, server.id, "close"))[0]
    error = of(lab, server.id, "error")[0]
    assert fields(error, "call", "errno", "code", "params") == (
        "recv", "ECONNRESET", "connection-reset", {"host": host, "port": port, "address": f"{host}:{port}"})
    assert fields(close, "call", "closed_by", "errno", "code") == ("close", "reset", "ECONNRESET", None)
    lab.remove(server.id)
    resources.settled()


def test_connect_refused(lab: Lab) -> None:
    port = free_port()
    with pytest.raises(Exception, match="refused"):
        lab.create({"kind": "tcp-client", "host": "127.0.0.1", "port": port})
    error = [e for e in lab.bus.since(0)[0] if e.kind == "error"][0]
    assert fields(error, "call", "errno", "code", "params", "peer") == (
        "connect", "ECONNREFUSED", "connection-refused",
        {"host": "127.0.0.1", "port": port, "address": f"127.0.0.1:{port}"}, ["127.0.0.1", port])


def test_a_tcp_client_connects_and_is_closed_from_the_dashboard(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    client = lab.create({"kind": "tcp-client", "host": "127.0.0.1", "port": server.local[1]})
    connect = of(lab, client.id, "connect")[0]
    assert fields(connect, "call", "args") == ("connect", {"address": ["127.0.0.1", server.local[1]]})
    lab.remove(client.id)
    close = of(lab, client.id, "close")[0]
    assert fields(close, "closed_by", "code", "params") == ("local", "dashboard", None)
    states = [e.state for e in of(lab, client.id, "state")]
    assert [s["state"] for s in states if s] == ["connected", "closed", "closed"]
    assert states[-1] and states[-1]["removed"] and states[-1]["connection"]["tcp_info"] is None


def test_a_framed_line_server(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo", "framing": "line"})
    with socket.create_connection(server.local, timeout=5) as c:
        c.sendall(b"one\ntwo\n")  # one send, two messages: framing restores them
        got = b""
        while got.count(b"\n") < 2:
            got += c.recv(100)
    messages = wait_until(lambda: len(of(lab, server.id, "message")) == 2 and of(lab, server.id, "message"))
    assert [fields(m, "message", "framing", "result", "call") for m in messages] == [(1, "line", 3, None), (2, "line", 3, None)]
    sends = of(lab, server.id, "send")
    assert [fields(s, "call", "args", "message", "framing") for s in sends] == [
        ("sendall", {"bytes": 4}, 1, "line"), ("sendall", {"bytes": 4}, 2, "line")]


def test_a_framing_error_has_its_code(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo", "framing": "length"})
    with socket.create_connection(server.local, timeout=5) as c:
        c.sendall(struct.pack("!I", 0xFFFFFFFF))
        error = wait_until(lambda: of(lab, server.id, "error"))[0]
        close = wait_until(lambda: of(lab, server.id, "close"))[0]
    assert fields(error, "code", "framing") == ("message-too-long", "length")
    assert error.params is not None and error.params["size"] == 0xFFFFFFFF
    assert fields(close, "closed_by", "code") == ("local", "failed-send")


def test_stop_listening(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    with socket.create_connection(server.local, timeout=5):
        wait_until(lambda: server.connections)
        lab.stop_listening(server.id)
        close = of(lab, server.id, "close")[0]
        assert fields(close, "conn", "call", "args", "closed_by", "code", "params") == (
            None, "close", {"socket": "listening"}, "local", "stopped", {"established": 1})
        state = of(lab, server.id, "state")[-1].state
        assert state and state["state"] == "not-listening" and [c["id"] for c in state["connections"]] == ["c1"]


def test_idle_close_and_the_connection_limit(small_lab: Lab) -> None:
    lab = small_lab
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    with socket.create_connection(server.local, timeout=5) as first:
        wait_until(lambda: server.connections)
        with socket.create_connection(server.local, timeout=5):
            refuse = wait_until(lambda: of(lab, server.id, "refuse"))[0]
        assert fields(refuse, "call", "code", "params", "conn") == ("accept", "connection-limit", {"limit": 1}, "c2")
        assert first.recv(10) == b""  # the server closed the idle connection
    close = wait_until(lambda: of(lab, server.id, "close"))[0]
    assert fields(close, "conn", "closed_by", "code", "params") == ("c1", "local", "idle-timeout", {"limit": 1})
    assert "idle for 1 s" in close.detail


def test_http_mode(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "http"})
    with socket.create_connection(server.local, timeout=5) as c:
        c.sendall(b"GET /files/hello.txt HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := c.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.0 200 OK")
    request, response = wait_until(lambda: len(of(lab, server.id, "http")) == 2 and of(lab, server.id, "http"))
    assert request.args == {"direction": "request", "method": "GET", "target": "/files/hello.txt", "version": "HTTP/1.0"}
    assert response.args == {"direction": "response", "status": 200, "reason": "OK"}
    shutdown = wait_until(lambda: of(lab, server.id, "shutdown"))[0]  # (published once shutdown() returned)
    assert fields(shutdown, "call", "args") == ("shutdown", {"how": "SHUT_WR"})


# -- UDP ---------------------------------------------------------------------------------------

def test_udp_echo(lab: Lab) -> None:
    server = lab.create({"kind": "udp-server", "port": 0, "mode": "echo"})
    host, port = server.local
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(b"ping", server.local)
        assert s.recvfrom(100)[0] == b"ping"
        me = ["127.0.0.1", s.getsockname()[1]]
    listen = of(lab, server.id, "listen")[0]
    recv = of(lab, server.id, "recv")[0]
    send = wait_until(lambda: of(lab, server.id, "send"))[0]
    assert fields(listen, "call", "args") == ("bind", {"address": [host, port]})
    assert fields(recv, "call", "args", "result") == ("recvfrom", {"bufsize": 65535}, 4)
    assert fields(send, "call", "args", "result") == ("sendto", {"bytes": 4, "address": me}, 4)
    lab.remove(server.id)
    close = of(lab, server.id, "close")[0]
    assert fields(close, "call", "closed_by", "code") == ("close", "local", "stopped")


def test_udp_loss_by_impairment(lab: Lab) -> None:
    client = lab.create({"kind": "udp-client", "host": "127.0.0.1", "port": free_port(), "impair": {"loss": 1, "seed": 1}})
    lab.send(client.id, {"data": "gone"})
    lost = of(lab, client.id, "lost")[0]
    assert fields(lost, "code", "params") == ("impair-loss", {"datagram": 1, "loss": 1})


# -- downloads ---------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", ["raw", "framed"])
def test_a_download(lab: Lab, protocol: str) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "files", "protocol": protocol})
    size = (lab.files.root / "hello.txt").stat().st_size
    download = lab.start_download({"port": server.local[1], "file": "hello.txt", "protocol": protocol})
    wait_until(lambda: download.state != "running" and of(lab, download.id, "close"))
    assert download.state == "done"
    mine = of(lab, download.id)
    by_kind = {e.kind: e for e in mine}
    assert fields(by_kind["connect"], "call", "args") == (
        "connect", {"address": ["127.0.0.1", server.local[1]], "download": True, "protocol": protocol})
    assert fields(by_kind["send"], "call", "args", "result") == (
        "sendall", {"bytes": len(b"hello.txt\n"), "request": True, "file": "hello.txt"}, len(b"hello.txt\n"))
    progress = [e for e in mine if e.kind == "progress"][-1]
    assert fields(progress, "call", "args") == ("recv_into", {"bytes": size, "size": size if protocol == "framed" else None})
    verified = True if protocol == "framed" else None
    assert fields(by_kind["done"], "args") == ({"bytes": size, "file": "hello.txt", "verified": verified},)
    assert fields(by_kind["close"], "call", "closed_by", "code") == ("close", "peer", None)
    assert ("header" in by_kind) == (protocol == "framed")
    if protocol == "framed":
        assert by_kind["header"].args == {"size": size, "sha256": lab.files.sha256(lab.files.root / "hello.txt")}
    states = [e.state for e in mine if e.kind == "state"]
    assert states[-1] and states[-1]["state"] == "done" and states[-1]["id"] == download.id
    # the server's side of the same transfer
    sendfile = [e for e in of(lab, server.id, "send") if e.call == "sendfile"][0]
    assert fields(sendfile, "args", "result") == ({"bytes": size, "file": "hello.txt"}, size)
    if protocol == "framed":
        header = [e for e in of(lab, server.id, "send") if e.args and e.args.get("header")][0]
        assert header.call == "sendall"


def test_a_download_refused(lab: Lab) -> None:
    port = free_port()
    with pytest.raises(Exception, match="refused"):
        lab.start_download({"port": port, "protocol": "raw"})
    error = [e for e in lab.bus.since(0)[0] if e.kind == "error"][0]
    assert fields(error, "call", "errno", "code") == ("connect", "ECONNREFUSED", "connection-refused")


# -- the registry ------------------------------------------------------------------------------

PUBLISHED = re.compile(r"""publish\(\s*["']([a-z_]+)["']""")


def published_literals() -> set[str]:
    """Every kind named in a publish("...") call in lab/, and every kind a hot path's Form records
    (EventBus.record_call)."""
    found: set[str] = set()
    for path in (ROOT / "lab").rglob("*.py"):
        found |= set(PUBLISHED.findall(path.read_text(encoding="utf-8")))
    forms = list(Form.__subclasses__())
    while forms:
        form = forms.pop()
        forms += form.__subclasses__()
        found.add(form.kind)
    return found


def test_every_published_kind_is_registered() -> None:
    literals = published_literals()
    assert {"listen", "accept", "recv", "send", "close", "state"} <= literals  # the grep finds them at all
    assert literals <= set(KINDS), f"kinds published but not in lab/events/kinds.py: {sorted(literals - set(KINDS))}"


def test_every_kind_seen_in_the_scenarios_is_registered(lab: Lab) -> None:
    test_a_framed_line_server(lab)
    test_http_mode(lab)
    test_a_download(lab, "framed")
    seen = {e.kind for e in lab.bus.since(0, 100_000)[0]}
    assert seen <= set(KINDS), sorted(seen - set(KINDS))


def test_each_kind_has_a_lifecycle_flag_and_a_drawing_rule() -> None:
    for kind in KINDS.values():
        assert isinstance(kind.lifecycle, bool) and isinstance(kind.changes, bool)
        assert kind.draw in ("lane-start", "lane-end", "arrow", "mark", "wire", "none"), kind
    assert events_module.LIFECYCLE_KINDS is LIFECYCLE_KINDS  # derived once, never listed again
    assert kinds_json()["close"] == {"lifecycle": True, "draw": "lane-end", "changes": True, "log": "row"}


def test_the_api_reference_names_every_kind_and_field() -> None:
    reference = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    table = reference[reference.index("<!-- event-kinds -->"):reference.index("<!-- /event-kinds -->")]
    named = set(re.findall(r"^\| `([a-z_]+)` \|", table, re.M))
    assert named == set(KINDS), (sorted(set(KINDS) - named), sorted(named - set(KINDS)))
    for field in JSON_FIELDS:
        assert f"`{field}`" in reference, field


def test_the_session_hands_the_page_the_kinds(client: Any) -> None:
    kinds = client.get("/api/session").get_json()["kinds"]
    assert kinds == kinds_json() and set(kinds) == set(KINDS)


def test_pages_learn_of_an_endpoint_before_any_event_of_its_threads(lab: Lab) -> None:
    """Lab.create publishes the first `state`, then starts the threads: a page that keeps its cards
    from events never meets an accept, a recv or a TCP_INFO of an endpoint it does not know."""
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    client = lab.create({"kind": "tcp-client", "port": server.local[1]})
    lab.send(client.id, {"data": "hi"})
    wait_until(lambda: any(e.kind == "recv" and e.endpoint == client.id for e in lab.bus.since(0)[0]))
    events = lab.bus.since(0)[0]
    for endpoint in (server.id, client.id):
        kinds = [e.kind for e in events if e.endpoint == endpoint]
        first_state = kinds.index("state")
        assert set(kinds[:first_state]) <= {"listen", "connect"}, kinds
    info = [e for e in events if e.kind == "tcp_info" and e.endpoint == client.id]
    assert info and info[0].args and info[0].args["state"] == "ESTABLISHED"  # the handshake's TCP_INFO, unasked


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_kind_has_words_in_both_languages(language: str) -> None:
    """Adding a kind is one registry entry plus its translations: a missing one fails here."""
    table = (ROOT / "static" / "i18n" / f"{language}.js").read_text(encoding="utf-8")
    missing = [kind for kind in KINDS if f'"ev.{kind}' not in table]
    assert not missing, f"no ev.<kind> sentence in {language}.js for {missing}"
