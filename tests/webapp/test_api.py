"""Every row of the contract's REST API, and bad input answered with a 4xx sentence, never a 5xx."""

from __future__ import annotations

import hashlib
import socket
from typing import Any

import pytest

from ..support import wait_until


def make(client: Any, **spec: Any) -> dict:
    response = client.post("/api/endpoints", json=spec)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_health(client: Any) -> None:
    assert client.get("/api/health").get_json() == {"status": "ok"}


def test_endpoint_lifecycle(client: Any) -> None:
    server = make(client, kind="tcp-server", host="127.0.0.1", port=0, mode="echo")
    assert server["kind"] == "tcp-server" and server["state"] == "listening" and server["local"][1] > 0
    assert server["remote"] is None and server["connections"] == []
    assert client.get("/api/endpoints").get_json()[0]["id"] == server["id"]
    tcp_client = make(client, kind="tcp-client", host="127.0.0.1", port=server["local"][1])
    assert tcp_client["state"] == "connected" and tcp_client["remote"] == server["local"]
    conns = wait_until(lambda: client.get(f"/api/endpoints/{server['id']}").get_json()["connections"])
    assert conns[0]["peer"] == tcp_client["local"]
    assert client.post(f"/api/endpoints/{tcp_client['id']}/send", json={"data": "hello"}).get_json() == {"sent": 5}
    stopped = client.post(f"/api/endpoints/{server['id']}/stop-listening")
    assert stopped.status_code == 200 and stopped.get_json()["state"] == "not-listening"
    assert client.delete(f"/api/endpoints/{server['id']}/connections/{conns[0]['id']}").status_code in (200, 204)
    wait_until(lambda: client.get(f"/api/endpoints/{tcp_client['id']}").get_json()["state"] == "closed")
    assert client.delete(f"/api/endpoints/{server['id']}").status_code in (200, 204)
    assert client.get(f"/api/endpoints/{server['id']}").status_code == 404


def test_udp_endpoints(client: Any) -> None:
    server = make(client, kind="udp-server", port=0, mode="reply", reply="pong")
    udp_client = make(client, kind="udp-client", host="127.0.0.1", port=server["local"][1])
    assert client.post(f"/api/endpoints/{udp_client['id']}/send", json={"data": "70 69 6e 67", "encoding": "hex"}).get_json() == {"sent": 4}
    events = wait_until(lambda: [e for e in client.get("/api/events?after=0").get_json()["events"]
                                 if e["endpoint"] == udp_client["id"] and e["kind"] == "recv"])
    assert events[0]["data"] == "pong" and events[0]["proto"] == "udp"
    assert client.post(f"/api/endpoints/{server['id']}/send", json={"data": "again"}).get_json() == {"sent": 5}


def test_events_paging(client: Any) -> None:
    make(client, kind="tcp-server", port=0)
    make(client, kind="udp-server", port=0)
    everything = client.get("/api/events?after=0").get_json()
    # each create: its `listen`, then its `state` snapshot
    assert [e["kind"] for e in everything["events"]] == ["listen", "state", "listen", "state"]
    assert [e["seq"] for e in everything["events"]] == [1, 2, 3, 4] and everything["last"] == 4 and everything["dropped"] == 0
    one = client.get("/api/events?after=1&limit=1").get_json()
    assert [e["seq"] for e in one["events"]] == [2]
    none = client.get("/api/events?after=4").get_json()
    assert none == {"events": [], "last": 4, "dropped": 0, "more": False, "boot": none["boot"]} and none["boot"]
    event = everything["events"][0]
    assert set(event) == {"seq", "ts", "endpoint", "conn", "proto", "kind", "local", "peer", "size", "data", "hex", "detail",
                          "call", "args", "result", "closed_by", "errno", "code", "params", "message", "framing", "state"}


def test_files_and_download_round_trip(client: Any, folders: dict) -> None:
    files = {f["name"]: f for f in client.get("/api/files").get_json()}
    original = (folders["files"] / "random-1MB.bin").read_bytes()
    assert files["random-1MB.bin"]["sha256"] == hashlib.sha256(original).hexdigest()
    server = make(client, kind="tcp-server", port=0, mode="files", protocol="framed")
    started = client.post("/api/downloads", json={"host": "127.0.0.1", "port": server["local"][1],
                                                  "file": "random-1MB.bin", "protocol": "framed"})
    assert started.status_code == 202
    dl = started.get_json()
    assert dl["state"] in ("running", "done") and dl["file"] == "random-1MB.bin"
    done = wait_until(lambda: (d := client.get(f"/api/downloads/{dl['id']}").get_json())["state"] != "running" and d)
    assert done["state"] == "done" and done["verified"] is True and done["bytes"] == done["size"] == len(original)
    assert done["sha256"] == files["random-1MB.bin"]["sha256"]
    assert client.get("/api/downloads").get_json()[0]["id"] == dl["id"]
    saved = client.get(f"/api/downloads/{dl['id']}/file")
    assert saved.status_code == 200 and saved.data == original
    assert "attachment" in saved.headers["Content-Disposition"]
    saved.close()


def test_delete_download_removes_it_and_its_file(client: Any, folders: dict) -> None:
    server = make(client, kind="tcp-server", port=0, mode="file", file="hello.txt")
    dl = client.post("/api/downloads", json={"port": server["local"][1]}).get_json()
    wait_until(lambda: client.get(f"/api/downloads/{dl['id']}").get_json()["state"] == "done")
    assert list(folders["downloads"].iterdir())
    assert client.delete(f"/api/downloads/{dl['id']}").status_code == 200
    assert client.get(f"/api/downloads/{dl['id']}").status_code == 404
    assert not list(folders["downloads"].iterdir())


def test_download_file_before_done_or_unknown(client: Any) -> None:
    assert client.get("/api/downloads/d99").status_code == 404
    assert client.get("/api/downloads/d99/file").status_code == 404


BAD_CREATES = [
    ({"kind": "tcp-server", "port": 70000}, 400, "out of range"),
    ({"kind": "tcp-server", "port": -1}, 400, "out of range"),
    ({"kind": "tcp-server", "port": "80"}, 400, "whole number"),
    ({"kind": "tcp-server", "port": True}, 400, "whole number"),
    ({"kind": "tcp-server", "port": 1.5}, 400, "whole number"),
    ({"kind": "spaceship", "port": 0}, 400, "not a valid kind"),
    ({"kind": "tcp-server", "port": 0, "mode": "dance"}, 400, "not a valid mode"),
    ({"kind": "udp-server", "port": 0, "mode": "files"}, 400, "not a valid mode"),
    ({"kind": "tcp-server", "port": 0, "mode": "file"}, 400, "needs a 'file'"),
    ({"kind": "tcp-server", "port": 0, "mode": "file", "file": "nope.txt"}, 404, "no file named"),
    ({"kind": "tcp-server", "port": 0, "mode": "file", "file": "../../etc/passwd"}, 400, "plain file name"),
    ({"kind": "tcp-client"}, 400, "missing"),
    ({"kind": "tcp-client", "port": 0}, 400, "out of range"),
    ({"kind": 5, "port": 0}, 400, "must be a string"),
    ({"port": 0}, 400, "'kind' is missing"),
    ({"kind": "tcp-server", "host": "", "port": 0}, 400, "host is empty"),
    ({"kind": "tcp-server", "host": "no-such-host.invalid", "port": 0}, 409, "could not be found"),
    ({"kind": "tcp-server", "host": "192.0.2.1", "port": 0}, 403, "SOCKETLAB_BIND"),
    ({"kind": "tcp-client", "host": "192.0.2.1", "port": 80}, 403, "SOCKETLAB_ALLOW"),
    ({"kind": "udp-client", "host": "192.0.2.1", "port": 53}, 403, "SOCKETLAB_ALLOW"),
    ([1, 2, 3], 400, "JSON object"),
    ("just a string", 400, "JSON object"),
]


@pytest.mark.parametrize(("spec", "status", "words"), BAD_CREATES)
def test_bad_endpoint_specs_get_a_sentence(client: Any, spec: Any, status: int, words: str) -> None:
    response = client.post("/api/endpoints", json=spec)
    assert response.status_code == status, response.get_json()
    assert words in response.get_json()["error"]


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b"\xff\xfe"])
def test_not_json_is_a_400(client: Any, raw: bytes) -> None:
    response = client.post("/api/endpoints", data=raw, content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"].startswith("The request")


def test_bad_sends(client: Any) -> None:
    server = make(client, kind="tcp-server", port=0, mode="manual")
    url = f"/api/endpoints/{server['id']}/send"
    cases = [
        ({}, 400, "'data' is missing"),
        ({"data": 5}, 400, "must be a string"),
        ({"data": "zz", "encoding": "hex"}, 400, "hex data is not valid"),
        ({"data": "x", "encoding": "rot13"}, 400, "not a valid encoding"),
        ({"data": ""}, 400, "nothing to send"),
        ({"data": "x", "conn": 3}, 400, "connection id"),
        ({"data": "x", "to": "somewhere"}, 400, "[host, port]"),
        ({"data": "x"}, 409, "No client is connected"),
        ({"data": "x", "conn": "c7"}, 404, "no connection 'c7'"),
        ({"data": "x" * (1 << 20 + 1)}, 413, ""),
    ]
    for payload, status, words in cases:
        response = client.post(url, json=payload)
        assert response.status_code == status, (payload if len(str(payload)) < 100 else "big", response.get_json())
        assert words in response.get_json()["error"]
    assert client.post("/api/endpoints/e99/send", json={"data": "x"}).status_code == 404


def test_sending_on_a_closed_connection_is_a_409(client: Any) -> None:
    server = make(client, kind="tcp-server", port=0, mode="manual")
    tcp_client = make(client, kind="tcp-client", port=server["local"][1])
    wait_until(lambda: client.get(f"/api/endpoints/{server['id']}").get_json()["connections"])
    client.delete(f"/api/endpoints/{server['id']}")
    wait_until(lambda: client.get(f"/api/endpoints/{tcp_client['id']}").get_json()["state"] == "closed")
    response = client.post(f"/api/endpoints/{tcp_client['id']}/send", json={"data": "late"})
    assert response.status_code == 409 and "closed" in response.get_json()["error"]


def test_unknown_ids_and_wrong_kinds(client: Any) -> None:
    udp = make(client, kind="udp-server", port=0)
    assert client.get("/api/endpoints/e42").status_code == 404
    assert client.delete("/api/endpoints/e42").status_code == 404
    assert client.post("/api/endpoints/e42/stop-listening").status_code == 404
    assert client.post(f"/api/endpoints/{udp['id']}/stop-listening").status_code == 400
    assert client.delete(f"/api/endpoints/{udp['id']}/connections/c1").status_code == 400
    tcp = make(client, kind="tcp-server", port=0)
    assert client.delete(f"/api/endpoints/{tcp['id']}/connections/c9").status_code == 404


def test_bad_downloads(client: Any) -> None:
    with socket.socket() as closed_port:
        closed_port.bind(("127.0.0.1", 0))
        port = closed_port.getsockname()[1]
        cases = [
            ({"port": port}, 409, "nothing is listening"),
            ({"host": "127.0.0.1"}, 400, "missing"),
            ({"port": 0}, 400, "out of range"),
            ({"port": port, "protocol": "ftp"}, 400, "not a valid protocol"),
            ({"port": port, "file": "a\nb"}, 400, "one line"),
        ]
        for payload, status, words in cases:
            response = client.post("/api/downloads", json=payload)
            assert response.status_code == status, response.get_json()
            assert words in response.get_json()["error"]


def test_bad_event_queries(client: Any) -> None:
    for query in ("after=x", "after=-1", "limit=0", "limit=abc", "limit=100000"):
        response = client.get(f"/api/events?{query}")
        assert response.status_code == 400 and response.get_json()["error"]


def test_unknown_route_and_method_answer_json(client: Any) -> None:
    assert client.get("/api/nothing").get_json()["error"]
    response = client.put("/api/endpoints")
    assert response.status_code == 405 and response.get_json()["error"]


def test_security_headers_and_page(client: Any) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert b"socket.io" in page.data  # the vendored client, served locally
    vendored = client.get("/static/vendor/socket.io-4.8.4.min.js")
    assert vendored.status_code == 200
    vendored.close()
