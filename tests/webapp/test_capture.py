"""The wire through the REST API: a lab agent with capture on, in a network namespace of its own
(a real process, stopped by its pid), a dashboard over it through a real redis-server on a unix
socket (which crosses namespaces), and the pcap read back by tshark. Then the same routes where
capture is impossible or off: a sentence, and nothing else breaks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from webapp import create_app, shutdown

from ..netns import Process
from ..redis_server import RedisServer
from ..support import Resources, wait_until

AGENT = "wire"


@pytest.fixture
def wired(redis_server: RedisServer, tmp_path: Path, resources: Resources) -> Iterator[Any]:
    if shutil.which("unshare") is None:
        pytest.skip("the unshare program (util-linux) is missing")
    ns = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user", "--net"]
    env = {**os.environ, "SOCKETLAB_CAPTURE": "1", "SOCKETLAB_FILES": str(tmp_path / "files"),
           "SOCKETLAB_DOWNLOADS": str(tmp_path / "downloads"), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    agent = Process([*ns, "--", "/bin/sh", "-c",
                     f"ip link set lo up && exec {sys.executable} -m agent --redis {redis_server.url} --name {AGENT}"],
                    env, merge_stderr=True)
    app = create_app({"TESTING": True, "REDIS": redis_server.url})
    client = app.test_client()
    try:
        wait_until(lambda: [a for a in client.get("/api/agents").get_json() if a["state"] == "up"]
                   or agent.popen.poll() is not None, 15)
        if agent.popen.poll() is not None:
            pytest.skip(f"the agent could not start in a namespace here: {agent.seen}")
        yield client
    finally:
        shutdown(app)
        agent.stop()
    wait_until(lambda: not resources.new_threads(), 10)


def packet_events(client: Any) -> list[dict[str, Any]]:
    found = client.get("/api/events?after=0&limit=10000").get_json()["events"]
    return [e for e in found if e["kind"] == "packet"]


def tshark(pcap: bytes, folder: Path, *fields: str) -> list[list[str]]:
    if shutil.which("tshark") is None:
        if os.environ.get("CI"):
            pytest.fail("tshark is missing (CI is set; .ci/run installs it)")
        pytest.skip("tshark is missing: apt-get install tshark")
    path = folder / "got.pcap"
    path.write_bytes(pcap)
    args = [x for f in fields for x in ("-e", f)]
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-E", "separator=|", *args],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return [line.split("|") for line in out.splitlines()]


def test_the_session_says_capture_works_in_the_agents_namespace(wired: Any) -> None:
    session = wired.get("/api/session").get_json()
    assert session["capture"] is True and session["why_not"]["capture"] is None
    assert session["kinds"]["packet"]["lifecycle"] is False  # rate-limited like data, never pinned


def test_packets_through_the_api_and_the_pcap_through_redis_match_in_tshark(wired: Any, tmp_path: Path) -> None:
    server = wired.post("/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo"}).get_json()
    client = wired.post("/api/endpoints", json={"kind": "tcp-client", "port": server["local"][1]}).get_json()
    assert wired.post(f"/api/endpoints/{client['id']}/send", json={"data": "hi"}).status_code == 200
    assert wired.delete(f"/api/endpoints/{client['id']}").status_code in (200, 204)
    got = wait_until(lambda: (p := packet_events(wired)) and sum("FIN" in e["args"]["flags"] for e in p) == 2
                     and p[-1]["args"]["flags"] == "ACK" and p, 10)
    assert [e["args"]["flags"] for e in got[:3]] == ["SYN", "SYN,ACK", "ACK"]
    assert all(e["agent"] == AGENT and e["endpoint"] in (server["id"], client["id"]) for e in got)

    answer = wired.get("/api/capture.pcap")
    assert answer.status_code == 200 and answer.mimetype == "application/vnd.tcpdump.pcap"
    assert "attachment" in answer.headers["Content-Disposition"]
    read = tshark(answer.data, tmp_path, "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.len", "tcp.seq")
    assert [(("SYN" in e["args"]["flags"]), ("ACK" in e["args"]["flags"]), ("FIN" in e["args"]["flags"]),
             e["args"]["len"], e["args"]["seq"]) for e in got] == [
        (s == "1", a == "1", f == "1", int(n), int(q)) for s, a, f, n, q in read]

    one = wired.get(f"/api/capture.pcap?endpoint={server['id']}")
    assert one.status_code == 200 and one.data == answer.data  # every frame had the server at one end
    for done in (answer, one):
        done.close()  # a pcap holds one of the dashboard's few slots until it is closed (webapp/pcap.py)
    gone = wired.get(f"/api/capture.pcap?endpoint={client['id']}")  # removed, but its frames are still kept
    assert gone.status_code == 200 and len(tshark(gone.data, tmp_path, "tcp.len")) == len(read)
    gone.close()


def test_hostile_pcap_requests_get_sentences(wired: Any) -> None:
    for endpoint in ("e99@wire", "x" * 5000, "../../etc/passwd", "%00"):
        answer = wired.get("/api/capture.pcap", query_string={"endpoint": endpoint})
        assert answer.status_code in (400, 404) and answer.get_json()["error"].endswith("."), endpoint
    assert wired.get("/api/capture.pcap?agent=nobody").status_code == 404


def test_a_dashboard_whose_lab_does_not_capture_says_why_and_works(tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "FILES": str(tmp_path / "f"), "DOWNLOADS": str(tmp_path / "d")})
    client = app.test_client()
    try:
        session = client.get("/api/session").get_json()
        assert session["capture"] is False and session["why_not"]["capture"] == "capture-off"
        answer = client.get("/api/capture.pcap")
        assert answer.status_code == 409 and answer.get_json()["code"] == "capture-off"
        server = client.post("/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo"}).get_json()
        other = client.post("/api/endpoints", json={"kind": "tcp-client", "port": server["local"][1]}).get_json()
        assert client.post(f"/api/endpoints/{other['id']}/send", json={"data": "ok"}).status_code == 200
        assert not packet_events(client)
    finally:
        shutdown(app)
