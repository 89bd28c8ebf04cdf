"""The mode registry: a mode is a class in the table (lab/sockets/servermodes.py), what its servers do (its
Service, lab/sockets/handlers.py) and what its program says (lab/codegen/modes.py), keyed by its name; the
spec checks, the servers and the code generator follow."""

from __future__ import annotations

import ast
import socket
from typing import Iterator

import pytest

from lab import BadInput
from lab import Lab
from lab.sockets import handlers
from lab.codegen.programs import program_for
from lab.codegen.modes import PROGRAMS, ModeCode, unwrite, writes
from lab.sockets.handlers import SERVICES, Service, serves, unserve
from lab.sockets.servermodes import REGISTRY, Mode, modes_for, register, session_info, unregister
from lab.spec import parse_endpoint

from ..support import wait_until

WAIT = 10.0


class Upper(Mode):
    """A mode made here only: echo, upper-cased."""

    name = "upper"


class UpperService(Service):
    def reply_to(self, message: bytes) -> bytes | None:
        return message.upper()


class UpperCode(ModeCode):
    describe = {"tcp-server": "A TCP server that answers every message upper-cased.",
                "udp-server": "A UDP server that answers every datagram upper-cased."}

    @classmethod
    def answer(cls, var: str, send, wrap) -> list[str]:  # type: ignore[no-untyped-def]
        return [send(f"{var}.upper()")]


@pytest.fixture
def upper() -> Iterator[type[Mode]]:
    register(Upper)
    serves(Upper)(UpperService)
    writes(Upper)(UpperCode)
    try:
        yield Upper
    finally:
        unregister("upper")
        unserve("upper")
        unwrite("upper")


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
    assert info["modes"] == {"tcp-server": ["echo", "reply", "manual", "file", "files", "relay", "http", "greet", "lines"],
                             "udp-server": ["echo", "reply", "manual"]}
    assert info["framings"]["http"] == ["raw"] and info["framings"]["echo"] == ["raw", "line", "length"]


def test_every_mode_has_a_service_and_a_program_text() -> None:
    """The three tables name the same modes: a mode added to the registry alone fails here, by name."""
    assert set(SERVICES) == set(REGISTRY), f"modes without a Service in lab/sockets/handlers.py: {set(REGISTRY) - set(SERVICES)}"
    assert set(PROGRAMS) == set(REGISTRY), f"modes without a program text in lab/codegen/modes.py: {set(REGISTRY) - set(PROGRAMS)}"
    for name, mode in REGISTRY.items():
        assert SERVICES[name].mode is mode and PROGRAMS[name].mode is mode
        assert set(PROGRAMS[name].describe) == set(mode.kinds), name


def test_a_handler_is_made_for_each_connection_and_owns_its_parser(lab: Lab) -> None:
    """Per-connection state lives on each connection's handler: two HTTP clients, one sending its
    request in pieces, never share a parser, and the first client's half request does not reach the
    second's answer."""
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "http"})
    with socket.create_connection(("127.0.0.1", server.local[1]), timeout=WAIT) as first, \
            socket.create_connection(("127.0.0.1", server.local[1]), timeout=WAIT) as second:
        first.sendall(b"GET /nothing-here HTTP/1.0\r\n")  # half a head: its parser waits for the rest
        connections = wait_until(lambda: list(server.connections.values()) if len(server.connections) == 2 else None)
        assert connections[0].handler is not connections[1].handler
        assert all(isinstance(c.handler, handlers.HttpHandler) for c in connections)
        second.sendall(b"GET / HTTP/1.0\r\n\r\n")
        answer = b"".join(iter(lambda: second.recv(65536), b""))
        assert answer.startswith(b"HTTP/1.0 200 "), answer[:80]
        first.sendall(b"\r\n")
        assert b"".join(iter(lambda: first.recv(65536), b"")).startswith(b"HTTP/1.0 404 ")
