"""Faults the lab must survive: each ends in a clear event and state, with no leaked thread or fd,
while the lab keeps serving everyone else."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from lab import Lab, Refused

from ..support import Resources, wait_until

ROOT = Path(__file__).resolve().parents[2]


def events(lab: Lab, endpoint: str, kind: str) -> list:
    return [e for e in lab.bus.since(0, 100_000)[0] if e.endpoint == endpoint and e.kind == kind]


def reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the kernel sends RST instead of FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def still_serving(lab: Lab) -> None:
    echo = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    with socket.create_connection(echo.local, timeout=5) as c:
        c.sendall(b"alive?")
        assert c.recv(100) == b"alive?"
    lab.remove(echo.id)


def test_peer_resets_in_the_middle_of_a_download(lab: Lab, resources: Resources) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    started: list = []

    def serve() -> None:
        conn, _ = listener.accept()
        conn.sendall(b"OK 1000000 " + b"a" * 64 + b"\n" + b"x" * 1000)
        wait_until(lambda: started and started[0].bytes >= 1000)
        reset(conn)

    thread = threading.Thread(target=serve)
    thread.start()
    download = lab.start_download({"port": listener.getsockname()[1], "file": "big", "protocol": "framed"})
    started.append(download)
    thread.join(5)
    wait_until(lambda: download.state != "running")
    assert download.state == "failed" and "reset" in (download.error or "")
    assert events(lab, download.id, "error") and not any(lab.downloads_dir.iterdir())
    listener.close()
    still_serving(lab)
    resources.settled()


def test_downloading_client_killed_mid_transfer(lab: Lab, folders: dict, resources: Resources) -> None:
    (folders["files"] / "big.bin").write_bytes(os.urandom(32 << 20))
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "files", "protocol": "framed"})
    program = textwrap.dedent(f"""
        import socket, sys, time
        s = socket.create_connection(("127.0.0.1", {server.local[1]}))
        s.sendall(b"big.bin\\n")
        s.recv(1024)
        print("reading", flush=True)
        while True: time.sleep(0.1)  # until the test kills it
    """)
    child = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "reading"
    wait_until(lambda: server.connections)
    # 32 MiB is far more than both socket buffers hold: the lab is still inside sendfile(), blocked
    # (its `send` event comes when the call returns).
    assert not [e for e in events(lab, server.id, "send") if e.detail.startswith("sendfile()")], "sent before the kill"
    os.kill(child.pid, signal.SIGKILL)  # the downloader dies with unread data: its kernel resets
    child.wait(5)
    child.stdout.close()
    close = wait_until(lambda: events(lab, server.id, "close"))[0]
    # Linux reports a reset that meets a blocked sendfile() as EPIPE (sendall() would get ECONNRESET),
    # and that call consumes it: the next recv() sees a closed stream and returns 0 bytes. The lab
    # remembers the failed send, so the close still says "reset", not a peer's orderly close.
    assert [e.detail for e in events(lab, server.id, "error")] == [f"sending 'big.bin' stopped: {os.strerror(errno.EPIPE)}"]
    assert close.detail == "reset by the peer (a send met the reset); recv() then returned 0 bytes"
    assert (close.closed_by, close.errno, close.code) == ("reset", "EPIPE", None)
    wait_until(lambda: not server.connections)
    still_serving(lab)
    lab.remove(server.id)
    resources.settled()


def test_peer_resets_an_idle_connection(lab: Lab, resources: Resources) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    plain = socket.create_connection(server.local, timeout=5)
    peer = plain.getsockname()
    wait_until(lambda: server.connections)  # the lab's thread is in recv() now, nothing to send
    reset(plain)
    close = wait_until(lambda: events(lab, server.id, "close"))[0]
    assert close.detail == "reset by the peer"
    [error] = events(lab, server.id, "error")
    assert error.detail == (f"The connection to {peer[0]}:{peer[1]} was reset by the peer "
                            "(it closed abruptly, without a normal goodbye).")
    wait_until(lambda: not server.connections)
    lab.remove(server.id)
    resources.settled()


def test_peer_half_closes_then_lab_client_send_is_refused(lab: Lab, resources: Resources) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = lab.create({"kind": "tcp-client", "port": listener.getsockname()[1]})
    conn, _ = listener.accept()
    conn.shutdown(socket.SHUT_WR)  # the peer says it is done sending
    wait_until(lambda: client.state == "closed")
    assert "closed by the peer" in events(lab, client.id, "close")[0].detail
    with pytest.raises(Refused, match="is closed"):
        lab.send(client.id, {"data": "anyone there?"})
    conn.close()
    listener.close()
    still_serving(lab)
    lab.remove(client.id)
    resources.settled()


def test_client_keeps_sending_after_the_file_server_half_closed(lab: Lab, resources: Resources) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "file", "file": "hello.txt"})
    with socket.create_connection(server.local) as s:
        data = b""
        while chunk := s.recv(4096):
            data += chunk  # EOF: the server did shutdown(SHUT_WR) after the file
        s.sendall(b"more data after your EOF\n")  # legal on a half-closed connection: read and ignored
        wait_until(lambda: any(e.size == 25 for e in events(lab, server.id, "recv")))
    wait_until(lambda: not server.connections)
    assert "closed by the peer" in events(lab, server.id, "close")[0].detail  # a FIN, never a reset
    lab.remove(server.id)
    resources.settled()


def test_connect_to_a_closed_port(lab: Lab, resources: Resources) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        with pytest.raises(Refused, match="Connection refused"):
            lab.create({"kind": "tcp-client", "port": s.getsockname()[1]})
    assert lab.endpoints == {} and events(lab, "e1", "error")
    resources.settled()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare for a private network namespace")
def test_network_unreachable_in_an_empty_namespace(tmp_path: Path) -> None:
    """A fresh network namespace has no routes at all, so nothing can leave it: connect fails at once."""
    program = textwrap.dedent(f"""
        import threading
        from lab import Lab, Refused
        lab = Lab({str(tmp_path / 'f')!r}, {str(tmp_path / 'd')!r}, allow="10.0.0.0/8")
        before = threading.active_count()
        try:
            lab.create({{"kind": "tcp-client", "host": "10.1.2.3", "port": 80}})
        except Refused as exc:
            print("REFUSED", exc)
        events = [e.kind for e in lab.bus.since(0)[0]]
        lab.close()
        print("EVENTS", events, "THREADS", threading.active_count() - before)
    """)
    result = subprocess.run(["unshare", "--net", sys.executable, "-c", program], check=False, cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert "REFUSED" in result.stdout, result.stderr
    assert "unreachable" in result.stdout
    assert "EVENTS ['error'] THREADS 0" in result.stdout
