"""UDP broadcast on a real, private LAN: a bridge and four hosts in network namespaces the test makes.

Lab servers in three hosts, a lab client in the fourth: one datagram to the subnet's broadcast
address reaches every host at once, and only from a socket with SO_BROADCAST set.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest

from ..netns import Lan

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"),
                                reason="needs root and iproute2's `ip` to build a LAN of network namespaces")

# Each program runs as `python -c PROGRAM files downloads ...` inside one host namespace.
SERVER = """
import json, sys, time
from lab import Lab
lab = Lab(sys.argv[1], sys.argv[2], bind="0.0.0.0")
lab.create({"kind": "udp-server", "host": "0.0.0.0", "port": int(sys.argv[3]), "mode": "manual"})
print("ready", flush=True)
deadline, events = time.monotonic() + 10, []
while not any(e.kind == "recv" for e in events) and time.monotonic() < deadline:
    lab.bus.wait(events[-1].seq if events else 0, 0.1)
    events = lab.bus.since(0)[0]
print(json.dumps([{"peer": e.peer, "data": e.data, "size": e.size} for e in events if e.kind == "recv"]), flush=True)
lab.close()
"""

CLIENT = """
import json, sys
from lab import Lab, Refused
lab = Lab(sys.argv[1], sys.argv[2], allow=sys.argv[3])
client = lab.create({"kind": "udp-client", "host": sys.argv[4], "port": int(sys.argv[5]), "broadcast": sys.argv[6] == "on"})
try:
    result = {"sent": lab.send(client.id, {"data": "hello, LAN"})["sent"], "port": client.local[1]}
except Refused as exc:
    result = {"refused": str(exc)}
result["events"] = [(e.kind, e.detail) for e in lab.bus.since(0)[0] if e.kind != "state"]  # (snapshots: not sends)
lab.close()
print(json.dumps(result), flush=True)
"""


def folders(tmp_path: Path, host: str) -> tuple[str, str]:
    return str(tmp_path / host / "files"), str(tmp_path / host / "downloads")


def test_one_datagram_to_the_broadcast_address_reaches_every_host(lan: Lan, tmp_path: Path) -> None:
    *listeners, sender = lan.hosts
    port = random.randrange(20000, 60000)  # the namespaces are the test's own: no other program can hold it
    servers = [lan.run(host, SERVER, *folders(tmp_path, host), str(port)) for host in listeners]
    for server in servers:
        assert server.line() == "ready"

    result = lan.run(sender, CLIENT, *folders(tmp_path, sender), str(lan.subnet), lan.broadcast, str(port), "on").json()

    assert result["sent"] == 10, result
    assert [kind for kind, _ in result["events"]] == ["send"], result  # exactly one datagram left the sender
    for server in servers:
        received = server.json(timeout=12)
        assert received == [{"peer": [lan.address[sender], result["port"]], "data": "hello, LAN", "size": 10}]
        assert server.popen.wait(5) == 0


def test_sending_to_the_broadcast_address_without_so_broadcast_is_refused(lan: Lan, tmp_path: Path) -> None:
    sender = lan.hosts[-1]
    port = random.randrange(20000, 60000)
    result = lan.run(sender, CLIENT, *folders(tmp_path, sender), str(lan.subnet), lan.broadcast, str(port), "off").json()

    sentence = result.get("refused")
    assert sentence, f"the kernel should refuse (EACCES) without SO_BROADCAST: {result}"
    assert f"{lan.broadcast}:{port}" in sentence
    assert result["events"] == [["error", sentence]]  # nothing was sent; the same sentence reached the event stream
    assert "SO_BROADCAST" in sentence
