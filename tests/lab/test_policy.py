"""Target and bind policies, and every limit: over it, a clear error and nothing else disturbed."""

from __future__ import annotations

import socket
from typing import Any, Iterator

import pytest

from lab import BadInput, Forbidden, Lab, Limits, Refused, TooLarge
from lab import policy as policy_module
from lab.policy import Policy

from ..support import wait_until


@pytest.fixture
def make_lab(folders: dict) -> Iterator[Any]:
    made: list[Lab] = []

    def make(**kwargs: Any) -> Lab:
        limits = kwargs.pop("limits", None)
        lab = Lab(folders["files"], folders["downloads"], limits, **kwargs)
        made.append(lab)
        return lab

    yield make
    for lab in made:
        lab.close()


def test_target_policy_rules() -> None:
    policy = Policy.from_text("10.0.0.0/8, 192.0.2.5:8000-8100, [2001:db8::1]:443", "SOCKETLAB_ALLOW", "reach")
    assert policy.allows("127.0.0.1", 1) and policy.allows("127.9.9.9", 65535) and policy.allows("::1", 80)
    assert policy.allows("10.20.30.40", 22)
    assert policy.allows("192.0.2.5", 8050) and not policy.allows("192.0.2.5", 9000)
    assert policy.allows("2001:db8::1", 443) and not policy.allows("2001:db8::1", 80)
    assert not policy.allows("192.168.1.1", 80) and not policy.allows("8.8.8.8", 53)
    assert policy.allows("::ffff:10.0.0.1", 80)  # an IPv4-mapped address is judged as its IPv4 self


def test_bind_policy_takes_cidrs_with_and_without_ports() -> None:
    policy = Policy.from_text("10.77.0.0/24, fd00:77::/64, [fd00:78::]/64:9000-9100, [fd00:79::/64]:80",
                              "SOCKETLAB_BIND", "bind")
    assert policy.allows("10.77.0.2", 40123) and not policy.allows("10.77.1.2", 40123)
    assert policy.allows("fd00:77::5", 1) and policy.allows("fd00:78::5", 9050) and not policy.allows("fd00:78::5", 80)
    assert policy.ports_for("fd00:78::5") == (9000, 9100) and policy.ports_for("10.77.0.9") is None
    assert policy.allows("fd00:79::1", 80) and not policy.allows("fd00:79::1", 81)


@pytest.mark.parametrize("text", ["10.0.0.0/33", "host:80-70", "x:abc", "no-such-host.invalid"])
def test_bad_policy_text_is_a_sentence(text: str) -> None:
    with pytest.raises(BadInput, match="SOCKETLAB_ALLOW"):
        Policy.from_text(text, "SOCKETLAB_ALLOW", "reach")


def test_default_refuses_non_loopback_targets_and_names_the_fix(make_lab: Any) -> None:
    lab = make_lab()
    for kind in ("tcp-client", "udp-client"):
        with pytest.raises(Forbidden, match="SOCKETLAB_ALLOW=192.0.2.7/32"):
            lab.create({"kind": kind, "host": "192.0.2.7", "port": 80})
    with pytest.raises(Forbidden):
        lab.start_download({"host": "192.0.2.7", "port": 80})
    server = lab.create({"kind": "udp-server", "port": 0, "mode": "manual"})
    with pytest.raises(Forbidden):  # an explicit UDP destination is checked too: no open relay
        lab.send(server.id, {"data": "x", "to": ["192.0.2.7", 53]})


def test_a_name_resolving_to_a_forbidden_address_is_refused(make_lab: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = make_lab()
    real = socket.getaddrinfo

    def fake(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "sneaky.example":  # resolves to loopback AND to a private address
            return real("127.0.0.1", *args, **kwargs) + [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.9.9.9", args[0]))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(policy_module.socket, "getaddrinfo", fake)
    with pytest.raises(Forbidden, match=r"sneaky\.example \(10\.9\.9\.9\)"):
        lab.create({"kind": "tcp-client", "host": "sneaky.example", "port": 80})


def test_localhost_name_is_resolved_and_allowed(make_lab: Any) -> None:
    lab = make_lab()
    server = lab.create({"kind": "tcp-server", "host": "127.0.0.1", "port": 0})
    client = lab.create({"kind": "tcp-client", "host": "localhost", "port": server.local[1]})
    assert client.remote == ("127.0.0.1", server.local[1]) or client.remote[0] == "::1"


def test_bind_policy(make_lab: Any) -> None:
    lab = make_lab()
    with pytest.raises(Forbidden, match="SOCKETLAB_BIND"):
        lab.create({"kind": "tcp-server", "host": "0.0.0.0", "port": 0})
    exotic = make_lab(bind="192.0.2.1")  # allowed by policy, but not an address of this machine
    with pytest.raises(Refused, match="not an address of this machine"):
        exotic.create({"kind": "udp-server", "host": "192.0.2.1", "port": 0})


def test_bind_port_range_picks_inside_it(make_lab: Any) -> None:
    with socket.socket() as probe:  # find a free port to build a small range around, not a fixed one
        probe.bind(("0.0.0.0", 0))
        low = probe.getsockname()[1]
    lab = make_lab(bind=f"0.0.0.0:{low}-{low + 20}")
    server = lab.create({"kind": "tcp-server", "host": "0.0.0.0", "port": 0})
    assert low <= server.local[1] <= low + 20
    with pytest.raises(Forbidden, match=f"{low}-{low + 20}"):
        lab.create({"kind": "tcp-server", "host": "0.0.0.0", "port": low + 21 if low < 65000 else low - 1})


def test_endpoint_limit(make_lab: Any) -> None:
    lab = make_lab(limits=Limits(endpoints=2))
    lab.create({"kind": "udp-server", "port": 0})
    lab.create({"kind": "udp-server", "port": 0})
    with pytest.raises(TooLarge, match="limit"):
        lab.create({"kind": "udp-server", "port": 0})
    assert len(lab.endpoints) == 2


def test_send_limit(make_lab: Any) -> None:
    lab = make_lab(limits=Limits(send_bytes=4))
    server = lab.create({"kind": "udp-server", "port": 0})
    client = lab.create({"kind": "udp-client", "port": server.local[1]})
    with pytest.raises(TooLarge, match="at most 4 bytes"):
        lab.send(client.id, {"data": "12345"})
    assert lab.send(client.id, {"data": "1234"})["sent"] == 4


def test_file_size_limit_served_and_downloaded(make_lab: Any, folders: dict) -> None:
    lab = make_lab(limits=Limits(file_bytes=100))
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "files", "protocol": "framed"})
    with socket.create_connection(server.local) as s:
        s.sendall(b"random-1MB.bin\n")
        assert s.recv(200).startswith(b"ERR ") and b"limit" in s.recv(200) + b"limit"
    raw = lab.create({"kind": "tcp-server", "port": 0, "mode": "file", "file": "hello.txt"})
    (folders["files"] / "big.bin").write_bytes(b"x" * 500)
    unlimited = make_lab()
    big = unlimited.create({"kind": "tcp-server", "port": 0, "mode": "file", "file": "big.bin"})
    download = lab.start_download({"port": big.local[1]})
    wait_until(lambda: download.state != "running")
    assert download.state == "failed" and "limit of 100 bytes" in (download.error or "")
    ok = lab.start_download({"port": raw.local[1]})
    wait_until(lambda: ok.state != "running")
    assert ok.state == "done"


def test_downloads_at_once_limit(make_lab: Any) -> None:
    lab = make_lab(limits=Limits(downloads_at_once=1))
    with socket.socket() as silent:  # accepts (via backlog) but never sends: the download waits
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        first = lab.start_download({"port": silent.getsockname()[1]})
        with pytest.raises(TooLarge, match="1 downloads are already running"):
            lab.start_download({"port": silent.getsockname()[1]})
        first.cancel()
    assert first.state == "failed" and "cancelled" in (first.error or "")


def test_events_per_second_limit_keeps_lifecycle(make_lab: Any) -> None:
    lab = make_lab(limits=Limits(events_per_second=5))
    server = lab.create({"kind": "udp-server", "port": 0, "mode": "manual"})
    client = lab.create({"kind": "udp-client", "port": server.local[1]})
    for _ in range(30):
        lab.send(client.id, {"data": "flood"})
    wait_until(lambda: lab.bus.suppressed > 0)
    lab.remove(server.id)
    kinds = [e.kind for e in lab.bus.since(0, 1000)[0]]
    assert kinds.count("send") <= 5 and "close" in kinds and "listen" in kinds
