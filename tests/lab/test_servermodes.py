"""The mode registry: one class makes a mode, and everything else (spec checks, servers, code) follows."""

from __future__ import annotations

import ast
import socket
from typing import Iterator

import pytest

from lab import BadInput, Lab
from lab.codegen import program_for
from lab.servermodes import REGISTRY, Mode, modes_for, register, session_info, unregister
from lab.spec import parse_endpoint

WAIT = 10.0


class Upper(Mode):
    """A mode made here only: echo, upper-cased."""

    name = "upper"
    describe = {"tcp-server": "A TCP server that answers every message upper-cased.",
                "udp-server": "A UDP server that answers every datagram upper-cased."}

    def reply_to(self, message: bytes) -> bytes | None:
        return message.upper()

    @classmethod
    def code_answer(cls, var: str, send, wrap) -> list[str]:  # type: ignore[no-untyped-def]
        return [send(f"{var}.upper()")]


@pytest.fixture
def upper() -> Iterator[type[Mode]]:
    register(Upper)
    try:
        yield Upper
    finally:
        unregister("upper")


def test_a_new_mode_is_one_class(lab: Lab, upper: type[Mode]) -> None:
    assert "upper" in modes_for("tcp-server") and session_info()["framings"]["upper"] == ["raw", "line", "length"]
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "upper", "framing": "line"})
    with socket.create_connection(("127.0.0.1", server.local[1]), timeout=WAIT) as s:
        s.sendall(b"hello\nworld\n")
        got = b""
        while len(got) < 12:
            chunk = s.recv(100)
            assert chunk
            got += chunk
    assert got == b"HELLO\nWORLD\n"
    program = program_for(server.spec, server.local, server.id)
    ast.parse(program)
    assert "# A TCP server that answers every message upper-cased." in program
    assert "conn.sendall(frame(message.upper()))" in program
    udp = lab.create({"kind": "udp-server", "port": 0, "mode": "upper"})
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(WAIT)
        s.sendto(b"ping", udp.local)
        assert s.recv(100) == b"PING"


def test_an_unregistered_mode_is_refused_by_name() -> None:
    assert "upper" not in REGISTRY
    with pytest.raises(BadInput) as refused:
        parse_endpoint({"kind": "tcp-server", "mode": "upper"})
    assert refused.value.code == "not-a-choice"


@pytest.mark.parametrize(("mode", "framing"), [("file", "line"), ("files", "length"), ("http", "line")])
def test_a_mode_with_its_own_protocol_allows_raw_framing_only(mode: str, framing: str) -> None:
    with pytest.raises(BadInput) as refused:
        parse_endpoint({"kind": "tcp-server", "mode": mode, "framing": framing, "file": "hello.txt"})
    assert refused.value.code == "framing-with-byte-mode"


def test_the_registry_lists_every_mode_of_the_contract() -> None:
    info = session_info()
    assert info["modes"] == {"tcp-server": ["echo", "reply", "manual", "file", "files", "relay", "http"],
                             "udp-server": ["echo", "reply", "manual"]}
    assert info["framings"]["http"] == ["raw"] and info["framings"]["echo"] == ["raw", "line", "length"]
