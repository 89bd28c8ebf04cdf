"""The agent's commands: read from cmd:{agent} through the consumer group "agent", run, answered.

Order of reading: first this agent's own pending entries (delivered before a crash, never acked), then
new ones. The group is created at id 0, never $: a command sent before the agent first started is
still in the stream, and is answered (or found expired). A command is answered at most once per
delivery; it may run again only if the agent died between running it and acking it, which its
deadline (a few seconds) makes harmless in practice.

Commands run in a small pool: a TCP connect may take 5 s, and must not hold up a send. A slot is taken
before an entry is read from Redis, so at most `workers` commands are running and the rest wait in
Redis, where a restarted agent still finds them. Anyone who can write to Redis controls the agent (the
docs/security.md says so), but a malformed entry never stops the loop: it is answered when it names where to
answer, counted in any case, and acked.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import redis

from lab import Lab, commands
from lab.errors import BadInput, LabError, Refused, TooLarge

from .retry import UNREACHABLE, Outage

GROUP = "agent"
BLOCK_MS = 1000  # a blocking read returns at least this often, so stop() is heard within about a second
READ_COUNT = 4
REPLY_MAXLEN = 10_000
MAX_COMMAND_BYTES = 16 << 20  # a send of 1 MiB as hex text is about 3 MB: this leaves room, and a limit
REPLY_GRACE = 5.0  # after its deadline a dashboard no longer waits for an answer: stop retrying it then

log = logging.getLogger("agent.inbox")


class Unanswerable(Exception):
    """An entry without a usable reply key or command id: nobody could read an answer."""


WORKERS = 4  # commands run at once (the pool starts its threads as commands overlap, and keeps them)


class Inbox:
    def __init__(self, client: redis.Redis, lab: Lab, name: str, stopping: threading.Event, workers: int = WORKERS) -> None:
        self.client, self.lab, self.name, self.stopping = client, lab, name, stopping
        self.key = f"cmd:{name}"
        self.consumer = name  # stable across restarts: its pending entries are found again
        self.outage = Outage(log, f"agent {name}: reading commands")
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"agent-run-{name}")
        self._slots = threading.BoundedSemaphore(workers)
        self._lock = threading.Lock()
        self.answered = 0
        self.expired = 0
        self.unexpected = 0
        self.malformed = 0  # entries that could not be read (answered when possible), counted here
        self.groups_created = 0

    def run(self) -> None:
        pending, after = True, b"0"  # own pending entries first, from the start of the stream
        need_group = True
        while not self.stopping.is_set():
            try:
                if need_group:
                    self._create_group()
                    need_group = False
                if pending:
                    entries = self._read(after, block=None)
                    if not entries:
                        pending = False
                        continue
                    after = entries[-1][0]
                else:
                    entries = self._read(b">", block=BLOCK_MS)
                self.outage.ok()
            except redis.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    self.stopping.wait(self.outage.failed(exc))
                    continue
                # Redis restarted empty (or someone deleted the stream): make the group again, at 0
                need_group, pending, after = True, False, b"0"
                continue
            except UNREACHABLE as exc:
                self.stopping.wait(self.outage.failed(exc))
                continue
            for entry_id, fields in entries:
                self.pool.submit(self._handle, entry_id, fields)

    def close(self) -> None:
        """After run() returned: let running commands finish and answer; unstarted ones stay pending."""
        self.pool.shutdown(wait=True, cancel_futures=True)

    def _create_group(self) -> None:
        try:
            self.client.xgroup_create(self.key, GROUP, id="0", mkstream=True)
            self.groups_created += 1
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _read(self, after: bytes, block: int | None) -> list[tuple[bytes, dict[bytes, bytes] | None]]:
        """Up to as many entries as there are free slots (waiting for one first): each read entry runs now."""
        while not self._slots.acquire(timeout=0.2):
            if self.stopping.is_set():
                return []
        free = 1
        while free < READ_COUNT and self._slots.acquire(blocking=False):
            free += 1
        entries: list[tuple[bytes, dict[bytes, bytes] | None]] = []
        try:
            answer: Any = self.client.xreadgroup(GROUP, self.consumer, {self.key: after}, count=free, block=block)
            entries = list(answer[0][1]) if answer else []  # (protocol 2: [[stream, [(id, fields), ...]]])
        finally:
            for _ in range(free - len(entries)):
                self._slots.release()
        return entries

    def _handle(self, entry_id: bytes, fields: dict[bytes, bytes] | None) -> None:
        """Run one entry and answer it (a pool thread); the slot it holds is freed at the end."""
        try:
            try:
                reply_key, command_id, deadline = _address(fields)
            except Unanswerable as exc:
                self._count("malformed")
                log.warning("agent %s: command entry %s has no %s; acked without an answer", self.name,
                            entry_id.decode(), exc)
                self._deliver(entry_id, None, time.time())
                return
            ok, body = self._answer(fields or {}, deadline)
            reply = {b"id": command_id, b"ok": b"1" if ok else b"0", b"body": body}
            self._deliver(entry_id, (reply_key, reply), deadline if deadline is not None else time.time())
        finally:
            self._slots.release()

    def _answer(self, fields: dict[bytes, bytes], deadline: float | None) -> tuple[bool, bytes]:
        op = fields.get(b"op", b"")[:100].decode("utf-8", "replace")
        try:
            if sum(len(v) for v in fields.values()) > MAX_COMMAND_BYTES:
                raise TooLarge("agent-command-too-large", size=sum(len(v) for v in fields.values()), limit=MAX_COMMAND_BYTES)
            if deadline is None:
                raise BadInput("agent-bad-command", field="deadline")
            if time.time() > deadline:
                self._count("expired")
                raise Refused("agent-command-expired", op=op, late_s=round(time.time() - deadline, 3))
            args = _args(fields.get(b"args"))
            if not op:
                raise BadInput("agent-bad-command", field="op")
            body = orjson.dumps(commands.run(self.lab, op, args))
        except LabError as exc:
            if exc.code in ("agent-bad-command", "agent-command-too-large"):
                self._count("malformed")
            body, ok = orjson.dumps(commands.error_json(exc)), False
        except Exception:  # a bug in the lab: answered, logged, and the agent goes on
            log.exception("agent %s: command %s failed unexpectedly", self.name, op)
            self._count("unexpected")
            problem = Refused("unexpected")  # (what it was is in this agent's log, not in the answer)
            body, ok = orjson.dumps(commands.error_json(problem)), False
        else:
            ok = True
        self._count("answered")
        return ok, body

    def _deliver(self, entry_id: bytes, reply: tuple[bytes, dict[bytes, bytes]] | None, deadline: float) -> None:
        """The answer and the ack in one round trip; retried through an outage while someone may wait."""
        outage = Outage(log, f"agent {self.name}: answering {entry_id.decode()}", every=REPLY_GRACE)
        while True:
            try:
                pipe = self.client.pipeline(transaction=False)
                if reply is not None:
                    pipe.xadd(reply[0], reply[1], maxlen=REPLY_MAXLEN, approximate=True)  # type: ignore[arg-type]
                pipe.xack(self.key, GROUP, entry_id)
                for result in pipe.execute(raise_on_error=False):
                    if isinstance(result, Exception):  # e.g. a reply key that is not a stream: nothing to retry
                        log.warning("agent %s: answering %s: %s", self.name, entry_id.decode(), result)
                return
            except UNREACHABLE as exc:
                if self.stopping.is_set() or time.time() > deadline + REPLY_GRACE:
                    log.warning("agent %s: gave up answering %s: Redis unreachable", self.name, entry_id.decode())
                    return
                time.sleep(outage.failed(exc))  # (a pool thread: stop() waits for it, at most the grace)

    def _count(self, what: str) -> None:
        with self._lock:
            setattr(self, what, getattr(self, what) + 1)


def _address(fields: dict[bytes, bytes] | None) -> tuple[bytes, bytes, float | None]:
    """Where to answer (a reply:... stream), the command's id, and its deadline (None when unreadable)."""
    if not fields:
        raise Unanswerable("fields")  # (an entry deleted while pending comes back without any)
    reply, command_id = fields.get(b"reply", b""), fields.get(b"id", b"")
    # Only a reply stream: an answer must not be written into ev:*, cmd:* or another program's keys
    if not reply.startswith(b"reply:") or not 6 < len(reply) <= 200:
        raise Unanswerable("reply stream")
    if not command_id or len(command_id) > 100:
        raise Unanswerable("command id")
    try:
        deadline: float | None = float(fields.get(b"deadline", b""))
    except ValueError:
        deadline = None
    return reply, command_id, deadline if deadline is not None and math.isfinite(deadline) else None


def _args(raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        return {}
    try:
        args = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadInput("agent-bad-command", field="args") from None
    if not isinstance(args, dict):
        raise BadInput("agent-bad-command", field="args")
    return args
