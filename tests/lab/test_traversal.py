"""A path-traversal corpus against both file protocols: every attempt is refused and logged as an
event, answered with an ERR line (framed) or a close (raw), and nothing outside the folder leaks."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from lab import Lab

from ..support import wait_until

SECRET = b"TOP-SECRET-OUTSIDE-THE-FOLDER"

CORPUS: list[bytes] = [
    b"../secret.txt",
    b"..\\secret.txt",
    b"../../../../etc/passwd",
    b"/etc/passwd",
    b"//etc/passwd",
    b"\\\\server\\share",
    b"C:\\Windows\\win.ini",
    b"..",
    b".",
    b"./hello.txt",
    b"subdir/../../secret.txt",
    b"....//secret.txt",
    b"..%2fsecret.txt",
    b"%2e%2e%2fsecret.txt",
    b"%2e%2e/secret.txt",
    b"..%252fsecret.txt",
    b"..%c0%afsecret.txt",
    b"hello.txt\x00.png",
    b"\x00",
    b"..\xc0\xafsecret.txt",  # overlong UTF-8 slash: not valid UTF-8
    b"\xff\xfe\xfd",
    b"a" * 300,
    b"..\x2fsecret.txt",
    b"link-out.txt",  # a symlink pointing outside
    b"link-dir/secret.txt",
    b"\x1b[31mhello.txt",
    b"",
]


@pytest.fixture
def tree(folders: dict) -> Path:
    outside = folders["files"].parent / "secret.txt"
    outside.write_bytes(SECRET)
    return outside


def ask(port: int, name: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(name + b"\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("protocol", ["raw", "framed"])
def test_traversal_corpus(lab: Lab, tree: Path, protocol: str) -> None:
    os.symlink(tree, lab.files.root / "link-out.txt")
    os.symlink(tree.parent, lab.files.root / "link-dir")
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "files", "protocol": protocol})
    for name in CORPUS:
        answer = ask(server.local[1], name)
        assert SECRET not in answer, name
        assert b"root:" not in answer, name
        if protocol == "framed":
            assert answer.startswith(b"ERR "), (name, answer[:80])
        else:
            assert answer == b"", (name, answer[:80])
    refusals = wait_until(lambda: len([e for e in lab.bus.since(0, 10_000)[0]
                                       if e.kind == "error" and "refused" in e.detail]) >= len(CORPUS) and True)
    assert refusals
    assert ask(server.local[1], b"hello.txt").endswith(b"\n")  # and the real files are still served
