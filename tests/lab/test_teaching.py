"""The teaching modes with plain-socket programs on the other end: framing and sticky packets,
relay, auto-reply rules, periodic sends, UDP impairment against its seed, and TCP_INFO."""

from __future__ import annotations

import socket
import struct
import time

import pytest

from lab import Lab
from lab.sockets import udp as lab_udp
from lab.sockets.impair import Impairer
from lab.spec import ImpairSpec

from ..support import Resources, wait_until


def of(lab: Lab, endpoint: str, kind: str) -> list:
    return [e for e in lab.bus.since(0, 100_000)[0] if e.endpoint == endpoint and e.kind == kind]


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "closed early"
        data += chunk
    return data


def test_line_framing_restores_messages_from_one_send(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo", "framing": "line"})
    with socket.create_connection(server.local, timeout=5) as s:
        s.sendall(b"one\ntwo\nthr")  # one send, two and a half messages
        s.sendall(b"ee\n")
        assert recv_exactly(s, 14) == b"one\ntwo\nthree\n"
    messages = wait_until(lambda: len(of(lab, server.id, "message")) == 3 and of(lab, server.id, "message"))
    assert [m.data for m in messages] == ["one", "two", "three"]


def test_length_framing_with_a_plain_client(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "reply", "reply": "got it", "framing": "length"})
    with socket.create_connection(server.local, timeout=5) as s:
        s.sendall(struct.pack("!I", 5) + b"hello" + struct.pack("!I", 3))
        s.sendall(b"abc")
        for _ in range(2):
            (length,) = struct.unpack("!I", recv_exactly(s, 4))
            assert recv_exactly(s, length) == b"got it"


def test_sticky_packets_raw_versus_framed(lab: Lab) -> None:
    """N back-to-back sends arrive as fewer recv() calls; line framing restores all N messages."""
    n = 200
    raw_server = lab.create({"kind": "tcp-server", "port": 0, "mode": "manual"})
    raw_client = lab.create({"kind": "tcp-client", "port": raw_server.local[1]})
    # Coalescing is what the OS usually does, not a promise: a receiver that keeps up with every
    # send sees one recv each. So burst again (bounded) until the lesson shows.
    for burst in range(1, 6):
        assert lab.send(raw_client.id, {"data": "msg", "repeat": n, "interval_ms": 0}) == {"sent": 3 * n, "calls": n}
        wait_until(lambda burst=burst: sum(e.size for e in of(lab, raw_server.id, "recv")) == 3 * n * burst)
        if len(of(lab, raw_server.id, "recv")) < n * burst:
            break
    assert len(of(lab, raw_client.id, "send")) == n * burst
    assert len(of(lab, raw_server.id, "recv")) < n * burst  # coalesced: one send() is not one recv()

    line_server = lab.create({"kind": "tcp-server", "port": 0, "mode": "manual", "framing": "line"})
    line_client = lab.create({"kind": "tcp-client", "port": line_server.local[1], "framing": "line"})
    lab.send(line_client.id, {"data": "msg", "repeat": n})
    messages = wait_until(lambda: len(of(lab, line_server.id, "message")) == n and of(lab, line_server.id, "message"))
    assert {m.data for m in messages} == {"msg"}  # framing restores every message, however they arrived


def test_relay_between_plain_clients(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "relay", "framing": "line"})
    clients = [socket.create_connection(server.local, timeout=5) for _ in range(3)]
    try:
        wait_until(lambda: len(server.connections) == 3)
        clients[0].sendall(b"hello class\n")
        assert recv_exactly(clients[1], 12) == b"hello class\n"
        assert recv_exactly(clients[2], 12) == b"hello class\n"
        clients[0].settimeout(0.2)
        with pytest.raises(TimeoutError):
            clients[0].recv(100)  # the sender does not get its own message back
        relay = wait_until(lambda: of(lab, server.id, "relay"))[0]
        assert relay.detail.startswith("relayed from c1 via the server to c2, c3")
    finally:
        for c in clients:
            c.close()


def test_auto_reply_rules_with_captures(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo", "framing": "line",
                         "rules": [{"match": r"^hello (\w+)", "reply": "hi $1, welcome"},
                                   {"match": r"^time\b", "reply": "no clocks here"}]})
    with socket.create_connection(server.local, timeout=5) as s:
        s.sendall(b"hello bob\ntime please\nother\n")
        assert recv_exactly(s, len(b"hi bob, welcome\nno clocks here\nother\n")) == b"hi bob, welcome\nno clocks here\nother\n"
    udp = lab.create({"kind": "udp-server", "port": 0, "mode": "manual", "rules": [{"match": "ping", "reply": "pong"}]})
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(5)
        u.sendto(b"ping?", tuple(udp.local))
        assert u.recvfrom(100)[0] == b"pong"


def test_periodic_sends_and_cancel_on_stop(lab: Lab, resources: Resources) -> None:
    server = lab.create({"kind": "udp-server", "port": 0, "mode": "manual"})
    client = lab.create({"kind": "udp-client", "port": server.local[1]})
    answer = lab.send(client.id, {"data": "tick", "repeat": 4, "interval_ms": 20, "numbered": True})
    assert answer == {"sent": 7, "calls": 1, "scheduled": 3}
    got = wait_until(lambda: len(of(lab, server.id, "recv")) == 4 and of(lab, server.id, "recv"))
    assert [e.data for e in got] == ["#1 tick", "#2 tick", "#3 tick", "#4 tick"]
    lab.send(client.id, {"data": "forever", "repeat": 10_000, "interval_ms": 50})
    lab.remove(client.id)  # stopping the endpoint stops its periodic sender too
    lab.remove(server.id)
    resources.settled()


class Replay:
    """The lab's impairment rule applied to a replay of the seed, with no clock in it: what each
    send puts on the wire. A lost datagram never leaves; a duplicate goes twice in a row; a held one
    goes right after the next datagram that is sent (HOLD_LIMIT is made long enough not to matter)."""

    def __init__(self, impair: dict) -> None:
        self._impairer = Impairer(ImpairSpec(**impair))
        self.sent = 0
        self.held: list[int] = []
        self.lost: list[int] = []

    def send(self) -> list[int]:
        self.sent += 1
        fate = self._impairer.fate()
        if fate.copies == 0:
            self.lost.append(self.sent)
            return []
        if fate.held:
            self.held += [self.sent] * fate.copies
            return []
        wire, self.held = [self.sent] * fate.copies + self.held, []
        return wire


def run_impaired(lab: Lab, impair: dict, n: int, monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], list]:
    """Send 1..n (and more, until nothing is held back) through an impaired lab client, reading after
    each send exactly what the replay says that send put on the wire: the outcome has no clock in it."""
    monkeypatch.setattr(lab_udp, "HOLD_LIMIT", 3600.0)  # only a later datagram releases a held one
    replay = Replay(impair)
    got: list[int] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        client = lab.create({"kind": "udp-client", "port": receiver.getsockname()[1], "impair": impair})
        while replay.sent < n or replay.held:
            lab.send(client.id, {"data": f"{replay.sent + 1}"})
            wanted = replay.send()
            try:
                got += [int(receiver.recvfrom(100)[0]) for _ in wanted]
            except TimeoutError:
                raise AssertionError(f"after datagram {replay.sent} the replay expects {wanted}; got only {got[-5:]}") from None
            assert got[len(got) - len(wanted):] == wanted, f"datagram {replay.sent}: the replay expects {wanted}"
        assert client.datagrams_out == len(got)  # and nothing more went out than was read
        lab.remove(client.id)
    lost = of(lab, client.id, "lost")
    assert [int(e.data) for e in lost] == replay.lost
    return got, lost


def test_impairment_matches_its_seed(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    impair = {"loss": 0.2, "duplicate": 0.1, "reorder": 0.1, "seed": 42}
    n = 300
    got, lost = run_impaired(lab, impair, n, monkeypatch)  # checked send by send against the replay
    assert got != sorted(got)  # some arrive out of order
    assert len({x for x in got if got.count(x) > 1}) > 0  # some twice
    assert 0.12 * n < len(lost) < 0.28 * n  # about the configured 20%
    again, _ = run_impaired(lab, impair, n, monkeypatch)
    assert again == got  # same seed, same outcome


def test_a_held_datagram_goes_anyway_when_nothing_overtakes_it(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lab_udp, "HOLD_LIMIT", 0.05)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        client = lab.create({"kind": "udp-client", "port": receiver.getsockname()[1], "impair": {"reorder": 1.0}})
        lab.send(client.id, {"data": "alone"})  # held back, and no later datagram comes to overtake it
        assert receiver.recvfrom(100)[0] == b"alone"
        lab.remove(client.id)


def test_delay_and_jitter_hold_each_datagram_as_its_seed_says(lab: Lab) -> None:
    impair = {"delay_ms": 20, "jitter_ms": 10, "seed": 3}
    replay = Impairer(ImpairSpec(**impair))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        client = lab.create({"kind": "udp-client", "port": receiver.getsockname()[1], "impair": impair})
        delays = []
        for i in range(1, 21):
            fate = replay.fate()
            started = time.monotonic()
            lab.send(client.id, {"data": f"{i}"})
            assert receiver.recvfrom(100)[0] == f"{i}".encode()
            # A lower bound only, which load cannot break: the delay line never sends before it is due.
            assert time.monotonic() - started >= fate.delay
            delays.append(fate.delay)
        lab.remove(client.id)
    assert not of(lab, client.id, "lost") and 0.01 <= min(delays) < max(delays) <= 0.03


def test_tcp_info_present_and_plausible(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    client = lab.create({"kind": "tcp-client", "port": server.local[1]})
    for _ in range(100):
        lab.send(client.id, {"data": "x" * 1000})
    wait_until(lambda: client.conn.bytes_in == 100_000)
    info = client.to_json()["connection"]["tcp_info"]
    assert info["state"] == "ESTABLISHED"
    assert 0 < info["rtt_us"] < 1_000_000 and info["rttvar_us"] >= 0
    assert info["snd_cwnd"] >= 1 and info["retransmits"] == 0 and info["total_retrans"] >= 0
    assert info["bytes_acked"] >= 100_000 and info["bytes_received"] >= 100_000
    server_side = server.to_json()["connections"][0]["tcp_info"]
    assert server_side["bytes_received"] >= 100_000
    assert of(lab, client.id, "tcp_info")  # sampled while busy


def http_get(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer


def test_http_by_hand(lab: Lab, folders: dict) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "http"})
    page = http_get(server.local[1], b"GET / HTTP/1.0\r\nHost: lab\r\n\r\n")
    assert page.startswith(b"HTTP/1.0 200 OK\r\n") and b"hello.txt" in page
    text = http_get(server.local[1], b"GET /files/hello.txt HTTP/1.0\r\n\r\n")
    head, _, body = text.partition(b"\r\n\r\n")
    assert body == (folders["files"] / "hello.txt").read_bytes() and b"text/plain" in head
    # "%2f" decodes to "/": a name with a folder in it is bad input, whether or not such a file exists
    assert http_get(server.local[1], b"GET /files/..%2f..%2fetc%2fpasswd HTTP/1.0\r\n\r\n").split(b"\r\n")[0] == (
        b"HTTP/1.0 400 Bad Request")
    assert http_get(server.local[1], b"BREW /pot HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 405")
    shown = [e.detail for e in of(lab, server.id, "http")]
    assert any(d.startswith("HTTP request:\nGET /files/hello.txt HTTP/1.0") for d in shown)
    assert any(d.startswith("HTTP response:\nHTTP/1.0 200 OK") for d in shown)


def test_broadcast_on_one_machine_reaches_every_server(lab: Lab) -> None:
    """Servers bound to the loopback broadcast address share its port; one broadcast reaches all."""
    first = lab.create({"kind": "udp-server", "host": "127.255.255.255", "port": 0, "mode": "manual"})
    port = first.local[1]
    others = [lab.create({"kind": "udp-server", "host": "127.255.255.255", "port": port, "mode": "manual"}) for _ in range(2)]
    client = lab.create({"kind": "udp-client", "host": "127.255.255.255", "port": port, "broadcast": True})
    lab.send(client.id, {"data": "to everyone"})
    for server in [first, *others]:
        assert wait_until(lambda server=server: of(lab, server.id, "recv"))[0].data == "to everyone"
    with pytest.raises(Exception, match="already in use"):  # unicast UDP keeps "port in use"
        taken = lab.create({"kind": "udp-server", "port": 0})
        lab.create({"kind": "udp-server", "port": taken.local[1]})
