"""The wire's surface attacked as a hostile user would: the pcap hammered in parallel by
controllers and viewers, a viewer asking for it, on the embedded lab that captures its own packets
(as root; lab/wire/). The sandbox's own attacks (200 links, its Redis socket) are in tests/sandbox/.

Viewers may download the pcap: it holds the packets they already receive as `packet` events (the
same headers, cut at the same snaplen), and a GET changes nothing in the lab; without a token, 401."""

from __future__ import annotations

import http.client
import struct
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from lab.wire.capture import why_not
from webapp import create_app, shutdown
from webapp import pcap
from webapp.auth import Access

from bench.common import dashboard

from ..support import LiveServer

CONTROL, VIEW = "control-token-x", "view-token-y"
PARALLEL = 50
needs_capture = pytest.mark.skipif(why_not() is not None, reason=f"this process cannot capture packets ({why_not()})")


@pytest.fixture
def app(folders: dict[str, Path]) -> Iterator[Any]:
    the_app = create_app({"TESTING": True, "FILES": str(folders["files"]), "DOWNLOADS": str(folders["downloads"]),
                          "CAPTURE": True, "ACCESS": Access(CONTROL, VIEW)})
    yield the_app
    shutdown(the_app)


class PcapReader:
    """Checks a pcap as it streams in, keeping nothing but counts (so the test's own memory is flat)."""

    def __init__(self) -> None:
        self.buffer = b""
        self.header: tuple[int, ...] | None = None
        self.frames = 0
        self.size = 0

    def feed(self, data: bytes) -> None:
        self.size += len(data)
        self.buffer += data
        if self.header is None:
            if len(self.buffer) < 24:
                return
            self.header = struct.unpack("<IHHiIII", self.buffer[:24])
            assert self.header[0] == 0xA1B23C4D and self.header[1:3] == (2, 4) and self.header[6] == 1, self.header
            self.buffer = self.buffer[24:]
        while len(self.buffer) >= 16:
            _s, ns, caplen, wire = struct.unpack("<IIII", self.buffer[:16])
            assert ns < 10**9 and caplen <= self.header[5] and caplen <= wire, (ns, caplen, wire)
            if len(self.buffer) < 16 + caplen:
                return
            self.buffer = self.buffer[16 + caplen:]
            self.frames += 1

    def done(self) -> int:
        assert self.header is not None and self.buffer == b"", "the file ends inside a frame"
        return self.frames


def fetch(server: LiveServer, token: str | None, path: str = "/api/capture.pcap") -> tuple[int, PcapReader | bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        answer = conn.getresponse()
        if answer.status != 200:
            return answer.status, answer.read()
        reader = PcapReader()
        while chunk := answer.read(65536):
            reader.feed(chunk)
        return answer.status, reader
    finally:
        conn.close()


def traffic(server: LiveServer, frames: int) -> None:
    """An echo pair and a burst of sends, until the capture holds `frames` frames."""
    def api(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        import json
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None,
                         headers={"Authorization": f"Bearer {CONTROL}", "Content-Type": "application/json"})
            answer = conn.getresponse()
            data = answer.read()
            assert answer.status < 300, data
            return json.loads(data)
        finally:
            conn.close()

    echo = api("POST", "/api/endpoints", {"kind": "tcp-server", "port": 0, "mode": "echo"})
    client = api("POST", "/api/endpoints", {"kind": "tcp-client", "port": echo["local"][1]})
    while api("GET", "/api/stats")["capture"]["frames"] < frames:
        api("POST", f"/api/endpoints/{client['id']}/send", {"data": "x" * 200, "repeat": 1000, "interval_ms": 0})


@needs_capture
def test_a_viewer_may_download_the_pcap_a_stranger_may_not(live_server: LiveServer) -> None:
    traffic(live_server, 100)
    status, got = fetch(live_server, VIEW)
    assert status == 200 and isinstance(got, PcapReader) and got.done() >= 100
    assert fetch(live_server, None)[0] == 401
    assert fetch(live_server, "not-a-token")[0] == 401


@needs_capture
def test_the_pcap_hammered_fifty_times_at_once_each_whole_memory_bounded() -> None:
    """50 requests at once, half controllers, half viewers, against a full ring (the largest pcap), on
    the production server (gunicorn, 100 threads) in a process of its own: every answer is a whole
    pcap, and the dashboard's memory grows by a few pcaps, not by 50 (measured: +133 MiB before
    webapp/pcap.py bounded it, +35 MiB with its two slots; the bound here is 12 pcaps)."""
    env = {"SOCKETLAB_CAPTURE": "1", "SOCKETLAB_TOKEN": CONTROL, "SOCKETLAB_VIEW_TOKEN": VIEW,
           # glibc keeps freed memory in per-thread arenas and, after the first large free, serves even
           # 5 MB from them: with these, large blocks come from mmap and go back on free, so the RSS
           # follows what is alive (the number of pcaps at once), not what glibc kept
           "MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "131072"}
    with dashboard(env) as lab:
        server = LiveServer(lab.url, None, int(lab.url.rsplit(":", 1)[1]))
        traffic(server, 20_000)
        status, first = fetch(server, CONTROL)
        assert status == 200 and isinstance(first, PcapReader)
        size, frames = first.size, first.done()
        assert frames >= 19_000 and size > 4_000_000, (frames, size)  # the ring is full: about 5 MB
        before, peak, stop = lab.rss_mb(), [0.0], threading.Event()

        def watch() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], lab.rss_mb())
                stop.wait(0.002)

        results: list[Any] = [None] * PARALLEL

        def one(i: int) -> None:
            try:
                code, reader = fetch(server, CONTROL if i % 2 else VIEW)
                results[i] = (code, reader.done() if isinstance(reader, PcapReader) else reader)
            except Exception as exc:  # noqa: BLE001 (reported below, with the others)
                results[i] = exc

        watcher = threading.Thread(target=watch, name="rss-watch")
        threads = [threading.Thread(target=one, args=(i,), name=f"pcap-{i}") for i in range(PARALLEL)]
        watcher.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        stop.set()
        watcher.join(5)
        bad = [r for r in results if not (isinstance(r, tuple) and r[0] == 200 and r[1] >= 19_000)]
        assert not bad, bad
        grown = peak[0] - before
        assert grown < 12 * size / 2**20, f"RSS grew {grown:.0f} MiB for {PARALLEL} pcaps of {size / 2**20:.1f} MiB"
        print(f"pcap {size / 2**20:.1f} MiB, {frames} frames; {PARALLEL} at once: RSS +{grown:.0f} MiB")


@needs_capture
def test_pcaps_held_open_make_the_next_wait_then_get_a_sentence(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that opens pcaps and never finishes reading them holds the slots: the next request
    waits its turn, then gets a sentence (409 pcap-busy), and gets its pcap once a slot is free."""
    client = app.test_client()
    auth = {"Authorization": f"Bearer {VIEW}"}
    control = {"Authorization": f"Bearer {CONTROL}"}
    echo = client.post("/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo"}, headers=control).get_json()
    other = client.post("/api/endpoints", json={"kind": "tcp-client", "port": echo["local"][1]}, headers=control).get_json()
    assert client.post(f"/api/endpoints/{other['id']}/send", json={"data": "hi"}, headers=control).status_code == 200
    held = [client.get("/api/capture.pcap", headers=auth) for _ in range(pcap.PCAP_AT_ONCE)]
    assert all(h.status_code == 200 for h in held)
    monkeypatch.setattr(pcap, "PCAP_WAIT_S", 0.2)
    busy = client.get("/api/capture.pcap", headers=auth)
    assert busy.status_code == 409 and busy.get_json()["code"] == "pcap-busy", busy.get_json()
    assert busy.get_json()["error"].endswith(".") and "{" not in busy.get_json()["error"]
    held.pop().close()
    again = client.get("/api/capture.pcap", headers=auth)
    assert again.status_code == 200 and again.data[:4] == struct.pack("<I", 0xA1B23C4D)
    for answer in (again, *held):
        answer.close()
