"""The sandbox attacked as a hostile user would: a link on 200 endpoints, a flood the capture must
count, and another user of the machine knocking on the sandbox's Redis socket."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lab.sockets.endpoint import Limits

from ..support import wait_until
from .conftest import in_namespace

ASKED = 200
EVENTS_PER_SECOND = 2000  # the sandbox's agent admits this many events a second: a flood goes past it
SANDBOX_LIMITS = Limits(events_per_second=EVENTS_PER_SECOND)  # this module's sandbox (conftest.sandbox_app)


def rules(app: Any) -> list[str]:
    """The drop rules in the sandbox's namespace, one line each."""
    return [line for line in in_namespace(app, "nft", "list", "ruleset").splitlines() if "drop" in line]


def test_a_link_on_200_endpoints_is_bounded_and_every_rule_goes(sandbox_app: Any, api: Any) -> None:
    """200 impaired servers asked for: the lab's endpoint cap holds (413 with a sentence past it), each
    endpoint made has its two rules (no more), and when they close no rule is left; the lab answers."""
    made, refused = [], []
    for i in range(ASKED):
        kind = "tcp-server" if i % 2 else "udp-server"
        answer = api.post("/api/endpoints", json={"kind": kind, "port": 0, "mode": "echo", "link": {"loss": 0.5}})
        if answer.status_code == 201:
            made.append(answer.json)
        else:
            refused.append(answer)
    limit = Limits().endpoints  # the agent's own cap (SOCKETLAB_MAX_ENDPOINTS, unset here)
    assert len(made) == limit < ASKED and len(refused) == ASKED - limit
    assert all(r.status_code == 413 and r.json["error"].endswith(".") for r in refused), refused[0].json
    found = rules(sandbox_app)
    assert len(found) == 2 * limit  # dport and sport per endpoint: none for the refused ones
    for ep in made:  # (a TCP and a UDP endpoint may have the same port number: the protocol tells them apart)
        proto = ep["kind"].split("-")[0]
        assert sum(f"dport {ep['local'][1]} " in line and proto in line for line in found) == 1, found[:4]
    for ep in made:
        assert api.delete(f"/api/endpoints/{ep['id']}").status_code in (200, 204)
    assert rules(sandbox_app) == []
    assert api.get("/api/health").status_code == 200 and api.get("/api/endpoints").json == []


def test_the_sandbox_redis_socket_is_this_users_alone(sandbox_app: Any) -> None:
    """The folder is 0700 and the socket 0700, both the sandbox's user's (this user, or under root the
    sandbox's own user): another user of the machine cannot even reach it."""
    sandbox = sandbox_app.extensions["socketlab_sandbox"]
    folder = os.stat(sandbox.dir)
    owner = sandbox.user[0] if sandbox.user else os.geteuid()
    assert stat.S_IMODE(folder.st_mode) == 0o700 and folder.st_uid == owner and os.stat(sandbox.socket).st_uid == owner
    assert stat.S_ISSOCK(os.stat(sandbox.socket).st_mode)
    assert stat.S_IMODE(os.stat(sandbox.socket).st_mode) & 0o077 == 0
    with socket.socket(socket.AF_UNIX) as mine:  # its owner can (that is how the dashboard talks to it)
        mine.connect(str(sandbox.socket))
    if os.geteuid() != 0:
        pytest.skip("only root can become another user to try (the modes above are what keeps them out)")
    knock = ("import socket, sys\ns = socket.socket(socket.AF_UNIX)\n"
             "try:\n    s.connect(sys.argv[1])\nexcept OSError as e:\n    print(e.errno)\nelse:\n    print('connected')\n")
    other = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", knock,
                            str(sandbox.socket)], capture_output=True, text=True, timeout=30, check=False)
    assert other.stdout.strip() == "13", (other.stdout, other.stderr)  # EACCES: the folder's mode keeps nobody out


def test_the_agent_is_configured_by_the_dashboards_configuration(sandbox_app: Any) -> None:
    """The limits given to create_app reach the sandbox's agent (its environment is made from them), and
    none of the dashboard's other settings (its tokens) do."""
    agent = sandbox_app.extensions["socketlab_sandbox"].agent
    raw = Path(f"/proc/{agent.pid}/environ").read_bytes().split(b"\0")
    env = dict(entry.decode().partition("=")[::2] for entry in raw if entry)
    assert env["SOCKETLAB_MAX_EVENTS_PER_SECOND"] == str(EVENTS_PER_SECOND)
    assert env["SOCKETLAB_FILES"] == str(Path(sandbox_app.config["FILES"]).resolve())
    assert not {"SOCKETLAB_TOKEN", "SOCKETLAB_VIEW_TOKEN", "SOCKETLAB_SANDBOX", "SOCKETLAB_STATE_DIR"} & set(env)


def test_a_packet_flood_is_rate_limited_and_counted(sandbox_app: Any, api: Any) -> None:
    """Thousands of segments a second through the capture: the capture counts every frame (an event,
    or suppressed by the events-per-second limit, or skipped), /api/stats says so, and the lab answers."""
    if not api.get("/api/session").json["capture"]:
        pytest.skip("this sandbox's lab does not capture")
    server = api.post("/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "echo"}).json
    client = api.post("/api/endpoints", json={"kind": "tcp-client", "port": server["local"][1]}).json
    for _ in range(10):
        assert api.post(f"/api/endpoints/{client['id']}/send",
                        json={"data": "x", "repeat": 1000, "interval_ms": 0}).status_code == 200
    # the agent's bus admits `events_per_second` a second, the rest are counted as suppressed
    def counted() -> dict[str, Any] | None:
        capture = api.get("/api/stats").json["capture"]
        frames = capture["packets"] + capture["suppressed"] + capture["unmatched"] + sum(capture["skipped"].values())
        return capture if capture["suppressed"] and frames == capture["frames"] else None
    capture = wait_until(counted, 30)
    stats = api.get("/api/stats").json
    assert capture["packets"] > 0 and capture["suppressed"] > 0 and stats["suppressed"] > 0
    print(f"flood: {capture['frames']} frames, {capture['packets']} packet events, {capture['suppressed']} "
          f"suppressed; bus suppressed {stats['suppressed']}")
    assert api.get("/api/health").status_code == 200
    for ep in (client, server):
        assert api.delete(f"/api/endpoints/{ep['id']}").status_code in (200, 204)
