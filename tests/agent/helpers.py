"""Playing the dashboard's side of the protocol (/tmp/prompts schema: cmd:, reply:, ev:) by hand, with
plain Redis calls: these tests check the agent against the protocol, not against our own client."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
import redis

REPLY = "reply:test"


def send_command(r: redis.Redis, agent: str, op: str, args: Any = None, deadline_in: float = 5.0,
                 reply: str = REPLY) -> str:
    """XADD a command as a dashboard does; returns its id."""
    command_id = uuid.uuid4().hex
    r.xadd(f"cmd:{agent}", {"id": command_id, "op": op, "args": orjson.dumps(args or {}), "reply": reply,
                            "deadline": repr(time.time() + deadline_in)})
    return command_id


def wait_reply(r: redis.Redis, command_id: str, timeout: float = 10.0, reply: str = REPLY) -> tuple[bool, Any]:
    """(ok, body) of the answer to `command_id` on the reply stream; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries: Any = r.xrange(reply)
        for _, fields in entries:
            if fields[b"id"].decode() == command_id:
                return fields[b"ok"] == b"1", orjson.loads(fields[b"body"])
        r.xread({reply: entries[-1][0] if entries else "0"}, block=200)
    raise AssertionError(f"no answer to {command_id} within {timeout} s")


def call(r: redis.Redis, agent: str, op: str, args: Any = None) -> tuple[bool, Any]:
    return wait_reply(r, send_command(r, agent, op, args))


def answers(r: redis.Redis, reply: str = REPLY) -> list[dict[bytes, bytes]]:
    entries: Any = r.xrange(reply)
    return [fields for _, fields in entries]


def stream(r: redis.Redis, agent: str) -> list[tuple[str, dict[str, Any]]]:
    """Every entry of ev:{agent}: (id, decoded event)."""
    entries: Any = r.xrange(f"ev:{agent}")
    return [(entry_id.decode(), orjson.loads(fields[b"e"])) for entry_id, fields in entries]
