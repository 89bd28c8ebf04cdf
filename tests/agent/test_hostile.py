"""Whoever can write to Redis can drive the agent (docs/security.md says so), but a malformed or hostile
command entry must never stop it: answered when it names a reply stream, counted, acked."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
import redis

from agent import Agent
from agent.inbox import GROUP, MAX_COMMAND_BYTES
from lab import Lab

from ..support import wait_until
from .conftest import NAME
from .helpers import REPLY, call, send_command, stream, wait_reply


def raw_command(r: redis.Redis, fields: dict[str, Any]) -> str:
    command_id = uuid.uuid4().hex
    r.xadd(f"cmd:{NAME}", {"id": command_id, "reply": REPLY, "deadline": repr(time.time() + 10), **fields})
    return command_id


def test_hostile_entries_are_answered_or_skipped_and_the_agent_goes_on(agent: Agent, agent_lab: Lab,
                                                                      r: redis.Redis) -> None:
    cmd = f"cmd:{NAME}"
    r.xadd(cmd, {"nothing": "useful"})  # no id, no reply: nobody to answer
    r.xadd(cmd, {"id": "x", "op": "files.list", "reply": "ev:victim", "deadline": repr(time.time() + 10)})
    r.xadd(cmd, {"id": "y" * 1000, "op": "files.list", "reply": REPLY, "deadline": "1e99"})
    bad_json = raw_command(r, {"op": "endpoints.create", "args": b"{not json"})
    not_object = raw_command(r, {"op": "endpoints.create", "args": b"[1, 2]"})
    no_op = raw_command(r, {"args": b"{}"})
    unknown = raw_command(r, {"op": "os.system", "args": b"{}"})
    no_deadline = send_command(r, NAME, "files.list")
    r.xadd(cmd, {"id": no_deadline, "op": "files.list", "reply": REPLY, "deadline": "nan"})
    huge = raw_command(r, {"op": "endpoints.create", "args": orjson.dumps(
        {"body": {"kind": "tcp-server", "host": "127.0.0.1", "port": 0, "mode": "x" * (1 << 20)}})})
    too_big = raw_command(r, {"op": "files.list", "args": b" " * (MAX_COMMAND_BYTES + 1)})
    binary = raw_command(r, {"op": b"\xff\xfe\x00", "args": b"\xff"})

    for command_id, code in ((bad_json, "agent-bad-command"), (not_object, "agent-bad-command"),
                             (no_op, "agent-bad-command"), (unknown, "no-such-command"),
                             (huge, "not-a-choice"), (too_big, "agent-command-too-large"),
                             (binary, "agent-bad-command")):
        ok, body = wait_reply(r, command_id)
        assert not ok and body["code"] == code, (command_id, body)
        assert len(orjson.dumps(body)) < 2000  # a 1 MB argument is not echoed back
        assert body["error"] and "Traceback" not in body["error"]
    assert r.exists("ev:victim") == 0  # an answer is only ever written to a reply:... stream

    ok, server = call(r, NAME, "endpoints.create", {"body": {"kind": "udp-server", "host": "127.0.0.1", "port": 0}})
    assert ok and server["id"] == f"e1@{NAME}"  # the hostile "create"s made nothing; this one works
    assert list(agent_lab.endpoints) == [f"e1@{NAME}"]
    wait_until(lambda: r.xpending(f"cmd:{NAME}", GROUP)["pending"] == 0)  # every entry acked
    assert agent.inbox.malformed >= 8 and agent.inbox.unexpected == 0


def test_a_flood_of_commands_is_answered_every_one(agent: Agent, r: redis.Redis) -> None:
    ids = [send_command(r, NAME, "stats", deadline_in=30) for _ in range(500)]
    wait_until(lambda: r.xlen(REPLY) >= 500, timeout=30)
    answered = {fields[b"id"].decode(): fields[b"ok"] for _, fields in r.xrange(REPLY)}  # type: ignore[union-attr]
    assert set(answered) == set(ids) and set(answered.values()) == {b"1"}


def group_exists(r: redis.Redis) -> bool:
    """The agent's inbox made its consumer group (a moment after the agent started)."""
    try:
        return any(g["name"] == GROUP.encode() for g in r.xinfo_groups(f"cmd:{NAME}"))  # type: ignore[union-attr]
    except redis.ResponseError:  # no stream yet
        return False


def test_a_reply_key_of_the_wrong_type_does_not_stop_the_agent(agent: Agent, r: redis.Redis) -> None:
    r.set("reply:trap", "a string, not a stream")
    send_command(r, NAME, "files.list", reply="reply:trap")  # its XADD fails (WRONGTYPE); the ack still goes
    wait_until(lambda: group_exists(r) and r.xpending(f"cmd:{NAME}", GROUP)["pending"] == 0
               and r.xlen(f"cmd:{NAME}") == 1)
    ok, _ = call(r, NAME, "files.list")
    assert ok


def test_an_entry_written_by_hand_in_the_agents_own_millisecond_costs_no_event(agent: Agent, agent_lab: Lab,
                                                                                r: redis.Redis) -> None:
    """A foreign entry whose id shares the agent's millisecond, with a sequence above its own: by id
    alone it looks like the agent's, and taking it for "already there" would drop every event up to
    that sequence. The agent reads the entry, sees it is not its own, and numbers above it."""
    agent_lab.create({"kind": "udp-server", "port": 0})
    wait_until(lambda: stream(r, NAME), 10)
    last = agent_lab.bus.last_seq
    r.xadd(f"ev:{NAME}", {"e": orjson.dumps({"kind": "junk"})}, id=f"{agent.shipper.boot_ms}-{last + 50}")
    for _ in range(3):
        agent_lab.create({"kind": "udp-server", "port": 0})
    expected = agent_lab.bus.last_seq
    shipped = lambda: sorted(body["seq"] for _, body in stream(r, NAME) if isinstance(body, dict) and "seq" in body)  # noqa: E731
    wait_until(lambda: shipped()[-1:] == [expected], 10)
    assert shipped() == list(range(1, expected + 1))  # every event once: none taken as already there
