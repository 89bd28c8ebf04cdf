"""The link field and the kernel's TCP table, without privileges: spec checking as tables, /proc/net/tcp
lines as tables, and what a lab says when it cannot impair its link (a shared loopback, no nft)."""

from __future__ import annotations

import os
import socket
from typing import Any

import pytest

from lab import BadInput, Lab
from lab.sockets import tcptable
from lab.client import LocalLabs
from lab.wire.link import Link, lo_is_ours
from lab.spec import LinkSpec, parse_endpoint
from lab.stage import Stage

from ..support import wait_until

VALID = [
    ({"loss": 0.2}, LinkSpec(0.2, 0)),
    ({"loss": 1}, LinkSpec(1.0, 0)),
    ({"rate_kbit": 800}, LinkSpec(0.0, 800)),
    ({"loss": 0.05, "rate_kbit": 8}, LinkSpec(0.05, 8)),
    ({}, None),  # asks for nothing: no rules at all
    ({"loss": 0, "rate_kbit": 0}, None),
    ({"loss": None}, None),
]


@pytest.mark.parametrize(("link", "expected"), VALID)
@pytest.mark.parametrize("kind", ["tcp-server", "udp-server"])
def test_link_specs(kind: str, link: Any, expected: LinkSpec | None) -> None:
    assert parse_endpoint({"kind": kind, "port": 0, "link": link}).link == expected


@pytest.mark.parametrize(("link", "code"), [
    ({"loss": 1.01}, "number-out-of-range"), ({"loss": float("nan")}, "number-out-of-range"),
    ({"loss": float("inf")}, "number-out-of-range"), ({"rate_kbit": 7}, "number-out-of-range"),
    ({"rate_kbit": 800.0}, "not-a-whole-number"), ({"rate_kbit": "800"}, "not-a-whole-number"),
    ({"loss": [0.2]}, "not-a-number"), ({"jitter_ms": 5}, "unknown-link-field"), (5, "not-an-object"),
])
def test_hostile_link_specs(link: Any, code: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_endpoint({"kind": "tcp-client", "port": 9, "link": link})
    assert caught.value.code == code and str(caught.value).endswith(".")


# Lines of a real /proc/net/tcp and tcp6 (a listener, an established pair, TIME_WAIT, unread bytes).
TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:9A29 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2029020 1 0000000045985d69 100 0 0 10 0
   1: 0100007F:B9E8 0100007F:9A29 06 00000000:00000000 03:000011CB 00000000     0        0 0 3 0000000058d55d2b
   2: 0100007F:9A29 0100007F:B9EA 01 00000000:00000011 00:00000000 00000000     0        0 2029021 1 0000000045985d6a 20 4 30 10 -1
   3: garbage
"""
TCP6 = """  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:D431 01 00000005:00000000 00:00000000 00000000  1000        0 99 1 0 20 4 30 10 -1
   1: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 98 1 0 100 0 0 10 0
"""


def test_tcp_table_rows() -> None:
    rows = tcptable.parse(TCP)
    assert rows == [
        tcptable.Row(("127.0.0.1", 39465), ("0.0.0.0", 0), "LISTEN", 0, 0),
        tcptable.Row(("127.0.0.1", 47592), ("127.0.0.1", 39465), "TIME_WAIT", 0, 0),
        tcptable.Row(("127.0.0.1", 39465), ("127.0.0.1", 47594), "ESTABLISHED", 0, 17),  # 17 bytes unread
    ]
    assert tcptable.parse(TCP6) == [
        tcptable.Row(("127.0.0.1", 8080), ("127.0.0.1", 54321), "ESTABLISHED", 5, 0),  # v4-mapped: as IPv4
        tcptable.Row(("::1", 22), ("::", 0), "LISTEN", 0, 0),
    ]
    for cut in range(len(TCP)):  # a table read while it changes may end mid-line: never an exception
        tcptable.parse(TCP[:cut])


def test_tcp_table_of_this_namespace_shows_unread_bytes() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server, \
            socket.create_connection(server.getsockname()) as client:
        accepted, _ = server.accept()
        with accepted:
            client.sendall(b"never read")
            here, there = accepted.getsockname(), accepted.getpeername()
            row = wait_until(lambda: (r := tcptable.find(here, there)) and r.rx_queue and r)
            assert row.state == "ESTABLISHED" and row.rx_queue == len(b"never read")


def test_a_rate_on_a_shared_loopback_is_refused_with_its_reason(lab: Lab) -> None:
    if lo_is_ours():
        pytest.skip("this test runs in a namespace whose loopback is its own")
    with pytest.raises(BadInput) as caught:
        lab.create({"kind": "tcp-server", "port": 0, "link": {"rate_kbit": 800}})
    expected = lab.link.why_not() or "link-rate-shared-loopback"
    assert caught.value.code == expected and not lab.endpoints


def test_without_nft_real_loss_says_why(monkeypatch: pytest.MonkeyPatch, lab: Lab) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # no nft on the PATH: the lab's probe finds none
    link = Link()
    assert link.why_not() == "link-no-nft"
    lab.link = link
    with pytest.raises(BadInput) as caught:
        lab.create({"kind": "udp-server", "port": 0, "link": {"loss": 0.2}})
    assert caught.value.code == "link-no-nft" and not lab.endpoints
    assert lab.create({"kind": "udp-server", "port": 0}).state == "bound"  # everything else still works
    assert os.environ["PATH"] == "/nonexistent"


def test_the_real_loss_lesson_says_why_it_cannot_start(monkeypatch: pytest.MonkeyPatch, lab: Lab) -> None:
    """Lesson 14 needs kernel loss: without it the stage's lesson fails with the reason as data, and
    the lessons that only lack the capture (10-13) still build."""
    monkeypatch.setenv("PATH", "/nonexistent")
    lab.link = Link()
    stage = Stage(LocalLabs(lab))
    lesson = stage.begin({"lesson": 14})["lesson"]
    assert lesson["state"] == "failed" and lesson["error"]["code"] == "link-no-nft"
    assert not lab.endpoints
    monkeypatch.undo()
    assert stage.begin({"lesson": 10})["lesson"]["state"] == "ready"
    stage.begin({"lesson": None})
