"""A slow reader (`recv_delay_ms`): the sticky-packet lesson for the reason the tutorials give, a
receiver that reads more slowly than the sender sends, so it shows on the first press every time."""

from __future__ import annotations

import ast
import socket

import pytest

from lab import BadInput, Lab
from lab.codegen.programs import program_for

from ..support import Resources, wait_until

MESSAGES = 20


def recvs(lab: Lab, endpoint: str) -> list:
    return [e for e in lab.bus.since(0, 100_000)[0] if e.endpoint == endpoint and e.kind == "recv"]


@pytest.mark.parametrize("run", range(10))
def test_back_to_back_sends_reach_a_slow_reader_glued_every_time(lab: Lab, run: int) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "manual", "recv_delay_ms": 300})
    assert server.local is not None
    sent = b""
    with socket.create_connection(server.local, timeout=10) as client:
        for i in range(1, MESSAGES + 1):
            message = f"#{i} hello\n".encode()
            client.sendall(message)  # twenty send() calls
            sent += message
        wait_until(lambda: server.bytes_in == len(sent), 10)
    got = recvs(lab, server.id)
    assert sum(e.size for e in got) == len(sent) and got[0].head == sent[:64]
    assert len(got) < MESSAGES  # the point of the lesson: fewer recv()s than send()s
    assert got[0].size > len(b"#1 hello\n")  # the first recv() already holds several messages
    assert got[0].args == {"bufsize": 65536, "delay_ms": 300}


def test_the_delay_is_shown_and_checked(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "recv_delay_ms": 250})
    assert server.to_json()["recv_delay_ms"] == 250
    assert lab.create({"kind": "tcp-server", "port": 0}).to_json()["recv_delay_ms"] == 0
    with pytest.raises(BadInput, match="only a TCP server"):
        lab.create({"kind": "udp-server", "port": 0, "recv_delay_ms": 100})
    for bad in (-1, 10_001, 1.5, "100", True):
        with pytest.raises(BadInput, match="recv_delay_ms"):
            lab.create({"kind": "tcp-server", "port": 0, "recv_delay_ms": bad})


def test_stopping_a_slow_reader_does_not_wait_for_its_delay(lab: Lab, resources: Resources) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "recv_delay_ms": 10_000})
    assert server.local is not None
    with socket.create_connection(server.local, timeout=10):
        wait_until(lambda: server.connections)
        conn = next(iter(server.connections.values()))
        lab.remove(server.id)  # joins each connection thread for at most 5 s: less than the delay
        assert conn._thread is not None and not conn._thread.is_alive()
    resources.settled()


def test_the_generated_program_reads_slowly_too(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo", "recv_delay_ms": 200})
    code = program_for(server.spec, server.local, server.id)
    ast.parse(code)
    assert "import time" in code and "time.sleep(0.2)" in code
    assert code.index("time.sleep(0.2)") < code.index("conn.recv(1024)")
