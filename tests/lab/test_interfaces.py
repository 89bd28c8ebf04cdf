"""The machine's addresses as students type them: one per interface, loopback and bridges marked.

Read inside network namespaces this test builds (tests/netns.py), so the addresses are known: the
host's eth0 is on the LAN, a `docker0` bridge added there is a bridge, `lo` is loopback.
"""

from __future__ import annotations

import json

import pytest

from lab.interfaces import kind_of, machine_addresses, reachable_at

from ..netns import Lan, ip


@pytest.mark.parametrize(("interface", "address", "kind"), [
    ("eth0", "192.168.1.10", "lan"), ("wlan0", "10.0.0.7", "lan"), ("enp3s0", "2001:db8::5", "lan"),
    ("lo", "127.0.0.1", "loopback"), ("lo", "::1", "loopback"), ("eth0", "fe80::1", "link-local"),
    ("docker0", "172.17.0.1", "bridge"), ("br-3f2a9c", "172.18.0.1", "bridge"), ("virbr0", "192.168.122.1", "bridge"),
    ("veth12ab", "10.1.0.1", "bridge"), ("cni0", "10.244.0.1", "bridge"),
])
def test_each_address_is_marked_by_what_it_reaches(interface: str, address: str, kind: str) -> None:
    assert kind_of(interface, address) == kind


def test_this_machine_lists_loopback_last() -> None:
    found = machine_addresses()
    assert any(a.address == "127.0.0.1" and a.kind == "loopback" for a in found)
    assert [a.kind for a in found] == sorted((a.kind for a in found), key=["lan", "bridge", "link-local", "loopback"].index)


def test_a_specific_address_is_its_own_reach() -> None:
    assert [a.address for a in reachable_at("127.0.0.1")] == ["127.0.0.1"]
    assert reachable_at("not an address") == []


PROGRAM = """
import json, sys
from lab import Lab
from lab.interfaces import machine_addresses
lab = Lab(sys.argv[1], sys.argv[2], bind="0.0.0.0/0")
server = lab.create({"kind": "tcp-server", "host": "0.0.0.0", "port": 0})
print(json.dumps({"machine": [a.to_json() for a in machine_addresses()], "card": server.to_json()["reachable"]}), flush=True)
lab.close()
"""


def test_a_server_bound_to_every_address_names_the_hosts_real_ones(lan: Lan, tmp_path: object) -> None:
    host = lan.hosts[0]
    ip("-n", host, "link", "add", "docker0", "type", "bridge")
    ip("-n", host, "addr", "add", "172.17.0.1/16", "dev", "docker0")
    got = lan.run(host, PROGRAM, f"{tmp_path}/files", f"{tmp_path}/downloads").json(timeout=20)
    card = [(a["interface"], a["address"], a["kind"]) for a in got["card"]]
    assert card == [("eth0", lan.address[host], "lan"), ("docker0", "172.17.0.1", "bridge"), ("lo", "127.0.0.1", "loopback")]
    assert ("lo", "::1", "loopback") in [(a["interface"], a["address"], a["kind"]) for a in got["machine"]]
    json.dumps(got)  # (what the endpoint JSON carries is plain JSON)
