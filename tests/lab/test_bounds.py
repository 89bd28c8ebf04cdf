"""What the lab holds on a request's or a peer's behalf is bounded: the delay line of an impaired
UDP endpoint, and periodic sends (capped per endpoint and in total, refused before sending)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Iterator

import pytest

from lab import Lab
from lab.sockets.endpoint import Limits
from lab.errors import TooLarge
from lab.sockets.impair import DelayLine

from ..support import wait_until


def of(lab: Lab, endpoint: str, kind: str) -> list:
    return [e for e in lab.bus.since(0, 100_000)[0] if e.endpoint == endpoint and e.kind == kind]


@pytest.fixture
def lab(folders: dict[str, Path]) -> Iterator[Lab]:
    limits = Limits(delay_datagrams=10, delay_bytes=4000, periodic_per_endpoint=2, periodic_total=3)
    the_lab = Lab(folders["files"], folders["downloads"], limits)
    yield the_lab
    the_lab.close()


def test_delay_line_refuses_past_its_items_and_bytes() -> None:
    line = DelayLine("test-delay", max_items=3, max_bytes=100)
    try:
        assert all(line.put(60, lambda: None, 10) for _ in range(3))
        assert not line.put(60, lambda: None, 10)  # a fourth datagram
        assert (line.held, line.held_bytes, line.dropped) == (3, 30, 1)
        ran = threading.Event()
        assert not line.put(0, ran.set, 71)  # 30 + 71 bytes > 100, even with room for items
        assert line.dropped == 2
    finally:
        line.close()


def test_impaired_udp_flood_is_held_within_the_limits_and_drops_are_counted(lab: Lab) -> None:
    server = lab.create({"kind": "udp-server", "port": 0, "mode": "manual"})
    client = lab.create({"kind": "udp-client", "port": server.local[1], "impair": {"delay_ms": 10_000}})
    for _ in range(30):
        lab.send(client.id, {"data": "d" * 100})
    # 10 datagrams fit (1000 bytes, under 4000); the other 20 are dropped, counted and reported
    assert client.to_json()["delay_dropped"] == 20
    lost = of(lab, client.id, "lost")
    assert len(lost) == 20 and "the delay line already holds 10 datagrams" in lost[0].detail
    assert "20 dropped so far" in lost[-1].detail


def test_periodic_sends_are_capped_before_anything_is_sent(lab: Lab) -> None:
    server = lab.create({"kind": "udp-server", "port": 0, "mode": "manual"})
    first = lab.create({"kind": "udp-client", "port": server.local[1]})
    second = lab.create({"kind": "udp-client", "port": server.local[1]})
    periodic = {"data": "tick", "repeat": 5, "interval_ms": 60_000}
    assert lab.send(first.id, periodic) == {"sent": 4, "calls": 1, "scheduled": 4}
    lab.send(first.id, periodic)
    with pytest.raises(TooLarge, match="This endpoint already has 2 periodic sends"):
        lab.send(first.id, periodic)
    lab.send(second.id, periodic)
    sent = second.bytes_out
    with pytest.raises(TooLarge, match="The lab already has 3 periodic sends"):
        lab.send(second.id, periodic)
    assert second.bytes_out == sent  # refused before its first datagram went
    lab.remove(first.id)  # closing an endpoint cancels its periodic sends
    assert lab.ctx.scheduler.count() == 1
    lab.send(second.id, periodic)


def test_periodic_sends_arrive_numbered_from_one_thread(lab: Lab) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(10)
        client = lab.create({"kind": "udp-client", "port": peer.getsockname()[1]})
        lab.send(client.id, {"data": "n", "repeat": 4, "interval_ms": 1, "numbered": True})
        assert [peer.recvfrom(100)[0] for _ in range(4)] == [b"#1 n", b"#2 n", b"#3 n", b"#4 n"]
        wait_until(lambda: lab.ctx.scheduler.count() == 0)
