"""Real loss and rate in the sandbox: the rules live in the lab's own namespace, match the endpoint's
port, go when it closes; hostile specs are sentences and leave the lab answering."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from agent.inbox import WORKERS

from ..support import Resources, wait_until
from .conftest import in_namespace


def rules(app: Any) -> str:
    return in_namespace(app, "nft", "list", "ruleset")


def test_link_rules_live_in_the_sandbox_and_go_with_the_endpoint(sandbox_app: Any, api: Any) -> None:
    made = api.post("/api/endpoints", json={"kind": "udp-server", "port": 0, "mode": "echo",
                                            "link": {"loss": 0.25, "rate_kbit": 800}})
    assert made.status_code == 201, made.json
    port = made.json["local"][1]
    assert made.json["link"] == {"loss": 0.25, "rate_kbit": 800}
    ruleset = rules(sandbox_app)
    assert f"udp dport {port} numgen random mod 1000 < 250" in ruleset  # on INPUT: real loss, not a send error
    assert f"udp sport {port} numgen random mod 1000 < 250" in ruleset
    assert "hook input" in ruleset and "hook output" not in ruleset
    assert "tbf" in in_namespace(sandbox_app, "tc", "qdisc", "show", "dev", "lo")
    assert "mtu 1500 " in in_namespace(sandbox_app, "ip", "link", "show", "lo")  # Ethernet's, while shaped
    assert api.delete(f"/api/endpoints/{made.json['id']}").status_code in (200, 204)
    ruleset = rules(sandbox_app)
    assert str(port) not in ruleset and "drop" not in ruleset
    assert "tbf" not in in_namespace(sandbox_app, "tc", "qdisc", "show", "dev", "lo")
    assert "mtu 65536 " in in_namespace(sandbox_app, "ip", "link", "show", "lo")  # loopback's own, back


HOSTILE = [
    ({"loss": 1.5}, "number-out-of-range"),
    ({"loss": -0.1}, "number-out-of-range"),
    ({"loss": "0.2"}, "not-a-number"),
    ({"loss": True}, "not-a-number"),
    ({"loss": 1e309}, "invalid-json"),  # Infinity: not JSON (over an agent it would have become null)
    ({"loss": float("nan")}, "invalid-json"),
    ({"rate_kbit": 2.5}, "not-a-whole-number"),
    ({"rate_kbit": 3}, "number-out-of-range"),
    ({"rate_kbit": 10**12}, "number-out-of-range"),
    ({"rate_kbit": -800}, "number-out-of-range"),
    ({"loss": 0.1, "delay_ms": 100}, "unknown-link-field"),
    ({"loss; drop": 1}, "unknown-link-field"),
    ([0.2], "not-an-object"),
    ("loss=0.2", "not-an-object"),
]


@pytest.mark.parametrize(("link", "code"), HOSTILE)
def test_hostile_link_specs_are_sentences(sandbox_app: Any, api: Any, link: Any, code: str) -> None:
    answer = api.post("/api/endpoints", json={"kind": "tcp-server", "port": 0, "link": link})
    assert answer.status_code == 400 and answer.json["code"] == code, answer.json
    assert answer.json["error"].endswith(".")
    assert api.get("/api/endpoints").json == []  # nothing half-made
    assert "drop" not in rules(sandbox_app)


def held(pid: int) -> tuple[int, int]:
    """A process's open fds and threads, but its unix sockets: in the agent those are only its Redis
    connections, a pool that grows to the threads that share it (the lab's own are TCP, UDP, packet)."""
    unix = {line.split()[6] for line in Path(f"/proc/{pid}/net/unix").read_text().splitlines()[1:]}
    fds = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    return sum(1 for fd in fds if fd.removeprefix("socket:[").rstrip("]") not in unix), len(os.listdir(f"/proc/{pid}/task"))


def churn(api: Any, server: dict[str, Any], times: int) -> None:
    for i in range(times):
        made = [api.post("/api/endpoints", json=spec).json for spec in (
            {"kind": "tcp-server", "port": 0, "link": {"loss": 0.5}},
            {"kind": "udp-server", "port": 0, "link": {"loss": 1, "rate_kbit": 64 + i}},
            {"kind": "tcp-client", "port": server["local"][1], "link": {"loss": 0.01}},
            {"kind": "udp-client", "port": 9, "link": {"loss": 0.3}})]
        assert all("id" in m for m in made), [m.get("error") for m in made]
        for m in made:
            api.delete(f"/api/endpoints/{m['id']}")


def test_link_churn_leaves_no_rule_no_thread_no_fd(sandbox_app: Any, api: Any) -> None:
    """60 impaired endpoints made and closed as fast as the API goes, TCP and UDP, servers and clients."""
    server = api.post("/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo"}).json
    churn(api, server, 3)
    agent = sandbox_app.extensions["socketlab_sandbox"].agent.pid
    agent_before = held(agent)
    before = Resources.now()
    churn(api, server, 15)
    # the lab's process (the agent, in the sandbox): every socket and thread of the 60 endpoints gone.
    # Every lab thread holds a socket, so the fds are compared exactly; the thread count may also grow
    # by the agent's command pool, which starts its workers as commands overlap (seen on a loaded CI
    # machine) and keeps them. The echo server's accepted connections go first (a FIN lost to the
    # client's 1% loss is sent again after the RTO).
    wait_until(lambda: api.get(f"/api/endpoints/{server['id']}").json["connections"] == [], 20)
    wait_until(lambda: held(agent)[0] == agent_before[0]
               and agent_before[1] <= held(agent)[1] <= agent_before[1] + WORKERS, 20)
    # the dashboard's: nothing new but connections of its Redis pool (it grows to the threads that use it)
    pool = sandbox_app.extensions["socketlab_labs"].hub.redis.connection_pool
    pooled = {c._sock.fileno() for c in [*pool._available_connections, *pool._in_use_connections] if c._sock}
    wait_until(lambda: not before.new_threads() and set(before.new_fds()) <= pooled, 5)
    api.delete(f"/api/endpoints/{server['id']}")
    ruleset = rules(sandbox_app)
    assert "drop" not in ruleset and len(re.findall(r"table inet socketlab_", ruleset)) == 1  # the lab's own, empty
    assert "tbf" not in in_namespace(sandbox_app, "tc", "qdisc", "show", "dev", "lo")
    wait_until(lambda: api.get("/api/endpoints").json == [], 5)


def test_a_flood_into_a_slow_link_is_bounded_and_the_lab_answers(sandbox_app: Any, api: Any) -> None:
    """1 MiB sent at once into a 64 kbit/s link (131 s of it): the send gives up at the lab's send timeout
    with a sentence, the lab goes on answering, and closing takes the shaping away."""
    server = api.post("/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "manual",
                                              "link": {"rate_kbit": 64}}).json
    client = api.post("/api/endpoints", json={"kind": "tcp-client", "port": server["local"][1]}).json
    sent = api.post(f"/api/endpoints/{client['id']}/send", json={"data": "x" * (1 << 20)})
    assert sent.status_code in (200, 409), sent.json
    if sent.status_code == 409:
        assert sent.json["error"].endswith(".")
    assert api.get("/api/health").status_code == 200 and len(api.get("/api/endpoints").json) == 2
    # the bytes flow (a bucket smaller than a loopback segment would starve it), at the rate: when the
    # first have arrived, the rest (131 s of them at 64 kbit/s) have not
    arrived = wait_until(lambda: api.get(f"/api/endpoints/{server['id']}").json["connections"][0]["bytes_in"], 20)
    assert arrived < 1 << 20
    assert "rate 64Kbit" in in_namespace(sandbox_app, "tc", "qdisc", "show", "dev", "lo")
    for endpoint in (client, server):
        assert api.delete(f"/api/endpoints/{endpoint['id']}").status_code in (200, 204)
    assert "tbf" not in in_namespace(sandbox_app, "tc", "qdisc", "show", "dev", "lo")


def test_small_sends_on_a_slow_link_leave_glued_in_one_segment(api: Any) -> None:
    """Nagle's algorithm, really: once the 64 kbit/s link's bucket is spent and segments wait for their ACKs, the
    client's next small sends are held and leave together. The capture shows one segment carrying
    the bytes of several send() calls (the page labels it "← n sends": tests/js/wire-model.test.mjs)."""
    server = api.post("/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "manual",
                                              "link": {"rate_kbit": 64}}).json
    client = api.post("/api/endpoints", json={"kind": "tcp-client", "port": server["local"][1]}).json
    after = api.get(f"/api/events?after={1 << 53}&limit=1").json["last"]
    sent = api.post(f"/api/endpoints/{client['id']}/send", json={"data": "hi!", "repeat": 300, "interval_ms": 0})
    assert sent.status_code == 200, sent.json
    port = client["local"][1]

    def segments() -> list[int]:
        found = api.get(f"/api/events?after={after}&limit=5000").json["events"]
        return [e["args"]["len"] for e in found if e["kind"] == "packet" and e["args"]["src"][1] == port
                and e["args"]["len"] > 0]

    lengths = wait_until(lambda: (s := segments()) and sum(s) >= 900 and s, 20)
    assert sum(lengths) == 900 and max(lengths) >= 6 and max(lengths) % 3 == 0, lengths  # several sends' bytes in one
    assert len(lengths) < 300, lengths  # fewer segments than sends
    for endpoint in (client, server):
        api.delete(f"/api/endpoints/{endpoint['id']}")
