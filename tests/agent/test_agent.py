"""A lab agent against a real redis-server: its events in ev:{name}, its heartbeat, its commands."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import orjson
import redis

from agent import Agent
from agent.inbox import GROUP
from lab import Lab

from ..redis_server import RedisServer
from ..support import Resources, wait_until
from .conftest import NAME
from .helpers import call, send_command, stream, wait_reply

ECHO = {"kind": "tcp-server", "host": "127.0.0.1", "port": 0, "mode": "echo"}


def echo_round_trips(port: int, count: int) -> None:
    """A real client: `count` messages to the lab's echo server, each read back, then a close."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as peer:
        for i in range(count):
            message = f"hello {i}\n".encode()
            peer.sendall(message)
            got = b""
            while len(got) < len(message):
                got += peer.recv(100)


def test_events_arrive_once_each_in_order_with_explicit_ids(agent: Agent, agent_lab: Lab, r: redis.Redis) -> None:
    server = agent_lab.create(ECHO)
    echo_round_trips(server.local[1], 20)
    wait_until(lambda: any(e.kind == "close" for e in agent_lab.bus.since(0, 10_000)[0]))
    last = agent_lab.bus.last_seq
    wait_until(lambda: r.xlen(f"ev:{NAME}") >= last)
    entries = stream(r, NAME)
    assert [entry_id for entry_id, _ in entries] == [f"{agent.boot_ms}-{seq}" for seq in range(1, last + 1)]
    assert [e["seq"] for _, e in entries] == list(range(1, last + 1))
    assert all(e["agent"] == NAME for _, e in entries)
    assert [e["endpoint"] for _, e in entries if e["kind"] == "listen"] == [f"e1@{NAME}"]
    held, _ = agent_lab.bus.since(0, 10_000)
    assert [e["kind"] for _, e in entries] == [e.kind for e in held]  # the same events, as recorded
    assert sum(e["kind"] == "recv" for _, e in entries) >= 20
    wait_until(lambda: agent.shipper.shipped == last)  # (counted once the pipeline's answer is read)


def test_heartbeat_key_lives_2500_ms_and_is_deleted_at_stop(redis_server: RedisServer, agent_lab: Lab,
                                                            r: redis.Redis) -> None:
    running = Agent(NAME, redis_server.url, agent_lab)
    with running:
        raw = wait_until(lambda: r.get(f"hb:{NAME}"))
        beat = orjson.loads(raw)
        assert beat["name"] == NAME and beat["boot_ms"] == running.boot_ms and beat["pid"] > 0
        assert beat["host"] == socket.gethostname() and abs(beat["since"] - time.time()) < 60
        assert 0 < r.pttl(f"hb:{NAME}") <= 2500
        wait_until(lambda: running.beats >= 3)  # renewed every 0.5 s, not set once
        assert 0 < r.pttl(f"hb:{NAME}") <= 2500
    assert r.exists(f"hb:{NAME}") == 0


def test_commands_are_run_and_answered_on_the_reply_stream(agent: Agent, r: redis.Redis) -> None:
    ok, server = call(r, NAME, "endpoints.create", {"body": ECHO})
    assert ok and server["id"] == f"e1@{NAME}" and server["kind"] == "tcp-server" and server["local"][1] > 0
    with socket.create_connection(("127.0.0.1", server["local"][1]), timeout=5) as peer:
        ok, listed = call(r, NAME, "endpoints.get", {"id": server["id"]})
        wait_until(lambda: call(r, NAME, "endpoints.get", {"id": server["id"]})[1]["connections"])
        ok, sent = call(r, NAME, "endpoints.send", {"id": server["id"], "body": {"data": "hi from redis"}})
        assert ok and sent == {"sent": 13}
        peer.settimeout(5)
        assert peer.recv(100) == b"hi from redis"
    ok, error = call(r, NAME, "endpoints.get", {"id": "e99@pc1"})
    assert not ok and error["type"] == "NotFound" and error["code"] and "e99@pc1" in error["error"]
    assert set(error) == {"error", "code", "params", "type"}
    ok, error = call(r, NAME, "endpoints.create", {"body": {**ECHO, "port": 70000}})
    assert not ok and error["type"] == "BadInput" and error["code"] == "port-out-of-range-zero"


def test_an_expired_command_is_answered_expired_and_not_run(agent: Agent, agent_lab: Lab, r: redis.Redis) -> None:
    late = send_command(r, NAME, "endpoints.create", {"body": ECHO}, deadline_in=-1)
    ok, error = wait_reply(r, late)
    assert not ok and error["code"] == "agent-command-expired" and error["type"] == "Refused"
    assert agent_lab.endpoints == {} and agent.inbox.expired == 1


def test_commands_sent_before_the_agent_started_are_answered(redis_server: RedisServer, agent_lab: Lab,
                                                             r: redis.Redis) -> None:
    early = send_command(r, NAME, "endpoints.create", {"body": ECHO}, deadline_in=30)  # (the stream did not exist)
    with Agent(NAME, redis_server.url, agent_lab):
        ok, server = wait_reply(r, early)
    assert ok and server["id"] == f"e1@{NAME}"


def test_a_restarted_agent_answers_its_own_pending_commands_first(redis_server: RedisServer, agent_lab: Lab,
                                                                  r: redis.Redis) -> None:
    # An agent that read a command and died before answering: the entry is pending for consumer NAME.
    r.xgroup_create(f"cmd:{NAME}", GROUP, id="0", mkstream=True)
    taken = send_command(r, NAME, "files.list", deadline_in=30)
    read: Any = r.xreadgroup(GROUP, NAME, {f"cmd:{NAME}": ">"}, count=1)
    assert read and r.xpending(f"cmd:{NAME}", GROUP)["pending"] == 1
    with Agent(NAME, redis_server.url, agent_lab):
        ok, files = wait_reply(r, taken)
        assert ok and isinstance(files, list)
        wait_until(lambda: r.xpending(f"cmd:{NAME}", GROUP)["pending"] == 0)


def test_a_slow_command_does_not_hold_up_the_others(agent: Agent, r: redis.Redis) -> None:
    # A connect that gets no answer takes up to the lab's connect timeout (5 s); meanwhile a quick
    # command is answered. The slow one is real and local: a listener that never accepts, its backlog
    # filled first, so the kernel drops the lab's SYN and the connect waits.
    with socket.socket() as full:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(full.getsockname())
        try:
            slow = send_command(r, NAME, "endpoints.create",
                                {"body": {"kind": "tcp-client", "host": "127.0.0.1", "port": full.getsockname()[1]}})
            quick = send_command(r, NAME, "files.list")
            ok, _ = wait_reply(r, quick)
            assert ok
            answered_first = r.xrange("reply:test")[0][1][b"id"].decode()
            assert answered_first == quick, "the quick command waited for the slow one"
            wait_reply(r, slow, timeout=15)
        finally:
            for filler in fillers:
                filler.close()


def test_no_thread_or_fd_is_left_after_stop(redis_server: RedisServer, folders: dict[str, Path], r: redis.Redis) -> None:
    r.ping()  # (the test's own client connects now, not inside the window measured)
    before = Resources.now()
    lab = Lab(folders["files"], folders["downloads"], id_suffix="@leak")
    running = Agent("leak", redis_server.url, lab)
    running.start()
    ok, server = call(r, "leak", "endpoints.create", {"body": ECHO})
    echo_round_trips(server["local"][1], 3)
    wait_until(lambda: r.xlen("ev:leak") >= lab.bus.last_seq > 0)
    running.stop()
    lab.close()
    before.settled(timeout=5)
