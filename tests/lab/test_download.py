"""File servers and downloads: the sans-I/O protocol, the lab's own pair, and plain programs."""

from __future__ import annotations

import hashlib
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from lab import Lab, Refused
from lab.protocols import download as proto

from ..support import Resources, wait_until
from .parsing import check_every_cut

SHA = "ab" * 32


OK = f"OK 3 {SHA}\n".encode()


def shown(event: proto.DownloadEvent) -> str:
    if isinstance(event, proto.Header):
        return f"header:{event.size}"
    return "body:" + bytes(event.data).decode()  # copied now: the view is only good until the next receive


def joined(seen: list[Any]) -> list[Any]:
    """Body pieces joined: how many there are depends on how the bytes were cut."""
    out: list[Any] = []
    for item in seen:
        if isinstance(item, str) and item.startswith("body:") and out and str(out[-1]).startswith("body:"):
            out[-1] += item.removeprefix("body:")
        else:
            out.append(item)
    return out


RECEIVER_TABLE: list[tuple[str, bool, bytes, bool, list[Any]]] = [
    # (name, framed, bytes, then EOF?, events then how it ended)
    ("raw to eof", False, b"abcdef", True, ["body:abcdef", "END"]),
    ("raw, nothing", False, b"", True, ["END"]),
    ("raw, more to come", False, b"abc", False, ["body:abc", "NEED_DATA"]),
    ("framed", True, OK + b"abc", True, ["header:3", "body:abc", "END"]),
    ("framed, crlf header", True, OK[:-1] + b"\r\nabc", True, ["header:3", "body:abc", "END"]),
    ("framed, empty file", True, f"OK 0 {SHA}\n".encode(), True, ["header:0", "END"]),
    ("framed, cut short", True, OK + b"ab", True, ["header:3", "body:ab", ("error", "body-cut-by-eof")]),
    ("framed, trailing bytes", True, OK + b"abcdef", False, ["header:3", "body:abc", ("error", "body-too-long")]),
    ("refused", True, b"ERR no such file\n", False, [("error", "server-refused")]),
    ("not a file server", True, b"HTTP/1.0 200 OK\r\n", False, [("error", "header-invalid")]),
    ("no header at all", True, b"", True, [("error", "header-missing")]),
    ("eof inside the header", True, OK[:10], True, [("error", "header-missing")]),
    ("longest header line", True, b"x" * proto.MAX_HEADER_LINE + b"\n", False, [("error", "header-invalid")]),
    ("header line too long", True, b"x" * (proto.MAX_HEADER_LINE + 1) + b"\n", False, [("error", "header-too-long")]),
]


@pytest.mark.parametrize(("framed", "data", "eof", "expected"), [c[1:] for c in RECEIVER_TABLE],
                         ids=[c[0] for c in RECEIVER_TABLE])
def test_receiver_table(framed: bool, data: bytes, eof: bool, expected: list[Any]) -> None:
    check_every_cut(lambda: proto.DownloadReceiver(framed), data, expected, eof=eof, show=shown, merge=joined)


REQUEST_TABLE: list[tuple[bytes, bool, list[Any]]] = [
    (b"hello.txt\n", True, [b"hello.txt", "PAUSED"]),
    (b"hello.txt\r\nextra bytes, ignored\n", True, [b"hello.txt", "PAUSED"]),
    (b"\n", True, [b"", "PAUSED"]),  # an empty name: the server refuses it by name, not the parser
    (b"x" * proto.MAX_REQUEST_LINE + b"\n", False, [b"x" * proto.MAX_REQUEST_LINE, "PAUSED"]),
    (b"x" * (proto.MAX_REQUEST_LINE + 1), False, [("error", "request-line-too-long")]),
    (b"hello.txt", True, [("error", "request-missing")]),
    (b"", True, [("error", "request-missing")]),
]


@pytest.mark.parametrize(("data", "eof", "expected"), REQUEST_TABLE, ids=[repr(c[0][:20]) for c in REQUEST_TABLE])
def test_request_reader_table(data: bytes, eof: bool, expected: list[Any]) -> None:
    check_every_cut(proto.RequestReader, data, expected, eof=eof, show=lambda request: request.name)


def plain_downloader(port: int, name: bytes | None) -> bytes:
    """The classic downloader: connect, maybe send a name, write until recv returns empty."""
    s = socket.socket()
    s.connect(("127.0.0.1", port))
    if name is not None:
        s.sendall(name + b"\n")
    received = bytearray()
    while True:
        data = s.recv(4096)
        if not data:
            break
        received += data
    s.close()
    return bytes(received)


def test_file_mode_serves_a_plain_downloader(lab: Lab, folders: dict) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "file", "file": "random-1MB.bin"})
    expected = (folders["files"] / "random-1MB.bin").read_bytes()
    assert plain_downloader(server.local[1], None) == expected
    assert plain_downloader(server.local[1], b"anything is ignored") == expected


def test_files_mode_raw_and_framed_with_a_plain_downloader(lab: Lab, folders: dict) -> None:
    text = (folders["files"] / "hello.txt").read_bytes()
    raw = lab.create({"kind": "tcp-server", "port": 0, "mode": "files"})
    assert plain_downloader(raw.local[1], b"hello.txt") == text
    assert plain_downloader(raw.local[1], b"missing.txt") == b""  # raw: a refusal is a close
    framed = lab.create({"kind": "tcp-server", "port": 0, "mode": "files", "protocol": "framed"})
    answer = plain_downloader(framed.local[1], b"hello.txt")
    assert answer == f"OK {len(text)} {hashlib.sha256(text).hexdigest()}\n".encode() + text
    assert plain_downloader(framed.local[1], b"missing.txt").startswith(b"ERR ")


@pytest.mark.parametrize("protocol", ["raw", "framed"])
def test_lab_download_from_lab_server_is_saved_and_verified(lab: Lab, folders: dict, protocol: str) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "files", "protocol": protocol})
    download = lab.start_download({"host": "127.0.0.1", "port": server.local[1], "file": "random-1MB.bin", "protocol": protocol})
    wait_until(lambda: download.state != "running", 10)
    assert download.state == "done", download.error
    original = (folders["files"] / "random-1MB.bin").read_bytes()
    assert lab.download_path(download.id).read_bytes() == original
    # framed: verified before it is done; raw: hashed from the saved file just after, off the receive loop
    assert wait_until(lambda: download.sha256) == hashlib.sha256(original).hexdigest()
    assert download.verified is (True if protocol == "framed" else None)
    if protocol == "raw":  # the digest reaches the page in the download's last `state` event
        last = [e for e in lab.bus.since(0)[0] if e.endpoint == download.id and e.kind == "state"][-1]
        assert last.state is not None and last.state["sha256"] == download.sha256
    assert not list(folders["downloads"].glob(".*.part"))


def test_two_downloads_of_one_file_do_not_clobber(lab: Lab, folders: dict) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "files", "protocol": "framed"})
    downloads = [lab.start_download({"port": server.local[1], "file": "hello.txt", "protocol": "framed"}) for _ in range(2)]
    wait_until(lambda: all(d.state == "done" for d in downloads), 10)
    names = sorted(d.path.name for d in downloads)
    assert names == ["hello-1.txt", "hello.txt"]


def test_download_of_unknown_file_fails_with_the_servers_reason(lab: Lab, folders: dict) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "files", "protocol": "framed"})
    download = lab.start_download({"port": server.local[1], "file": "nope.txt", "protocol": "framed"})
    wait_until(lambda: download.state == "failed")
    assert "no file named 'nope.txt'" in (download.error or "")
    assert list(folders["downloads"].iterdir()) == []


def test_lab_downloader_reads_a_plain_server_until_eof(lab: Lab, resources: Resources) -> None:
    """The other way round: a plain server that sends and closes, the lab downloads without a name."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    payload = bytes(range(256)) * 1000

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(payload)

    thread = threading.Thread(target=serve)
    thread.start()
    download = lab.start_download({"port": listener.getsockname()[1], "protocol": "raw"})
    wait_until(lambda: download.state != "running")
    thread.join(5)
    listener.close()
    assert download.state == "done" and lab.download_path(download.id).read_bytes() == payload
    resources.settled()


def test_download_refused_is_a_sentence(lab: Lab) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        with pytest.raises(Refused, match="nothing is listening"):
            lab.start_download({"port": s.getsockname()[1]})


def test_sample_files_exist(lab: Lab, folders: dict) -> None:
    names = {f["name"]: f for f in lab.files.listing()}
    assert set(names) >= {"hello.txt", "random-1MB.bin", "gradient.png"}
    assert names["random-1MB.bin"]["size"] == 1 << 20
    assert Path(folders["files"] / "gradient.png").read_bytes().startswith(b"\x89PNG")


def test_a_server_that_sends_nothing_times_the_download_out(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    # SO_RCVTIMEO bounds each blocking recv_into(); the kernel's EAGAIN reads as a time-out
    monkeypatch.setattr("lab.sockets.download.RECV_TIMEOUT", 0.3)
    silent = lab.create({"kind": "tcp-server", "port": 0, "mode": "manual"})
    download = lab.start_download({"host": "127.0.0.1", "port": silent.local[1]})
    wait_until(lambda: download.state == "failed", 10)
    assert "no answer before the time limit" in (download.error or "")
    error = [e for e in lab.bus.since(0)[0] if e.endpoint == download.id and e.kind == "error"][-1]
    assert error.code == "download-timed-out" and error.errno == "ETIMEDOUT"
