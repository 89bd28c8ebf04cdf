"""The classroom stage, one for every dashboard on the same Redis (lab/stage.py holds it in each).

Each change this dashboard makes is also added to the `stage` stream (its snapshot, and which
dashboard made it). The agents' bridge (webapp/agents.py) reads that stream first in each XREAD, so
within one answer a new stage comes before the events of the lesson it builds, and hands each entry
here: another dashboard's change is adopted (Stage.adopt), our own is skipped. A dashboard that
starts takes the last entry, as a stage that begins, so a restart keeps the class where it was.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

import orjson
import redis
from redis.exceptions import RedisError

from lab.errors import LabError

log = logging.getLogger(__name__)

STAGE_KEY = b"stage"
STAGE_MAXLEN = 1000
# an entry holds the whole stage (its names, its lesson): larger than an agent's events, but still
# bounded; only dashboards write this stream (agent/acl.py gives agents no access to it)
MAX_STAGE_ENTRY_BYTES = 64 << 10

Adopt = Callable[[str, str, Any], None]


class SharedStage:
    def __init__(self, client: redis.Redis, dashboard: str, max_entry_bytes: int = MAX_STAGE_ENTRY_BYTES) -> None:
        self.redis, self.dashboard, self.max_entry_bytes = client, dashboard, max_entry_bytes
        self.skipped = 0  # hostile or broken entries
        self._adopt: Adopt | None = None  # the stage's, once it follows others
        self._position: bytes | None = None  # the last entry read
        self._catching_up = threading.Lock()  # (follow and the bridge: the catch-up is taken once)

    def follow(self, adopt: Adopt) -> None:
        """From now on, other dashboards' stage changes are given to `adopt(kind, detail, snapshot)`."""
        self._adopt = adopt
        try:
            self._catch_up_once()
        except (RedisError, OSError):
            pass  # the bridge takes the class's stage once Redis answers

    def share(self, kind: str, detail: str, snapshot: dict[str, Any]) -> None:
        """This dashboard changed the stage: tell the others (and a restart of this one)."""
        entry = orjson.dumps({"kind": kind, "detail": detail, "params": snapshot})
        try:
            self.redis.xadd(STAGE_KEY, {"from": self.dashboard, "e": entry}, maxlen=STAGE_MAXLEN, approximate=True)
        except (RedisError, OSError) as exc:  # this dashboard's pages have it; the others will not
            log.warning("the stage could not be shared through Redis (%s)", exc)

    def streams(self) -> dict[bytes, bytes]:
        """What the bridge's XREAD adds for the stage: nothing until it follows, then the stream at
        the last entry read (taking the class's stage first if Redis did not answer when it began)."""
        if self._adopt is None:
            return {}
        if self._position is None:
            self._catch_up_once()
        return {STAGE_KEY: self._position or b"0-0"}  # (set by the catch-up above)

    def take(self, entry_id: bytes, fields: Any) -> None:
        """One entry the bridge read."""
        self._position = entry_id
        self._take(fields)

    def _catch_up_once(self) -> None:
        """Take the class's stage when this dashboard begins to follow, before it can change the stage
        itself: taken later (when the bridge first runs), the last entry could be a change made after
        this dashboard's own, whose snapshot is older in the parts it did not change."""
        with self._catching_up:
            if self._position is None:
                self._position = self._catch_up()

    def _catch_up(self) -> bytes:
        """A dashboard that starts takes the class's stage: the last entry, as a stage that begins."""
        last: Any = self.redis.xrevrange(STAGE_KEY, count=1)
        if not last:
            return b"0-0"
        entry_id, fields = last[0]
        self._take(fields, as_new=True)
        return bytes(entry_id)

    def _take(self, fields: Any, as_new: bool = False) -> None:
        if fields.get(b"from") == self.dashboard.encode() or self._adopt is None:
            return  # our own change: this dashboard's pages had it at once
        raw = fields.get(b"e")
        try:
            if not isinstance(raw, bytes) or len(raw) > self.max_entry_bytes:
                raise ValueError("too big")
            body = orjson.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("not an object")
            self._adopt("stage" if as_new else str(body.get("kind")), str(body.get("detail", "")), body.get("params"))
        except (ValueError, LabError):  # (orjson.JSONDecodeError is a ValueError)
            self.skipped += 1
