"""In the courier, without Redis: a traced program's events straight to a dashboard over HTTP.

`POST <dashboard>/api/traces/<name>/events` with the control token, `{"boot": ms, "events": [...]}`,
every BATCH_SECONDS while there is something to send, an empty batch every KEEPALIVE_SECONDS
while the program is quiet (so GET /api/agents lists it as up), and `"end": true` once at exit.
The courier's bus is the buffer (bounded: what leaves it before the dashboard took it becomes one
`agent` "dropped" event, as the Redis shipper does). `sent` only moves when the dashboard answered 200, so while it restarts nothing is lost:
the same events are posted again, with backoff, until it answers; the dashboard keeps the newest
seq it took per (name, boot), so an answer lost on the way never makes an event arrive twice.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import orjson

from agent.shipper import _first_gap, _ts, dropped_event, now_ms
from lab.errors import BadInput
from lab.events.bus import EventBus, Recorded

from .onefile import pace

BATCH_SECONDS = 0.05
BATCH_EVENTS = 2000  # the dashboard refuses more in one body (webapp/traces.py)
FLUSH_SECONDS = 10.0  # after the program ended: a dashboard restarting meanwhile still gets everything
HTTP_SECONDS = 5.0
KEEPALIVE_SECONDS = 1.0  # the dashboard counts a program silent for 5 s as gone (webapp/traces.py)
FIRST_WAIT, MAX_WAIT = 0.05, 2.0

log = logging.getLogger("agent.trace")


def check_dashboard_url(url: str) -> str:
    """`http://host[:port]` (any path is dropped), or BadInput with a sentence."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput("dashboard-url-invalid", url=url[:200])
    return f"{parts.scheme}://{parts.netloc}"


class Refusal(Exception):
    """The dashboard said no for good (401, 403, 400): posting again would not change its mind."""


class HttpDelivery:
    def __init__(self, bus: EventBus, name: str, dashboard: str, token: str) -> None:
        self.bus, self.name = bus, name
        self.url = f"{check_dashboard_url(dashboard)}/api/traces/{name}/events"
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.boot_ms = now_ms()
        self.sent = 0  # the newest seq the dashboard took
        self.posts = self.dropped = 0
        self.refused = False
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"trace-post-{name}", daemon=True)
        self._deadline = float("inf")
        self._failing_since: float | None = None
        self._posted = 0.0  # (monotonic) the last batch the dashboard took
        self.every = BATCH_SECONDS  # how long a batch gathers: the dashboard paces its programs

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """The program ended: go on until everything is taken, or FLUSH_SECONDS passed."""
        self._deadline = time.monotonic() + FLUSH_SECONDS
        self.stopping.set()
        self.bus.wake()
        self.thread.join(FLUSH_SECONDS + HTTP_SECONDS)

    def _run(self) -> None:
        wait = 0.0
        while not self.refused and time.monotonic() < self._deadline:
            if self.stopping.is_set() and self.bus.last_seq <= self.sent:
                self._say_end()
                return  # everything taken
            if wait:
                time.sleep(min(wait, max(0.0, self._deadline - time.monotonic())))  # backoff, not a guess
            elif not self.bus.wait(self.sent, 0.5, cancelled=self.stopping.is_set):
                if time.monotonic() - self._posted >= KEEPALIVE_SECONDS and not self.stopping.is_set():
                    self._keep_alive()
                continue
            else:
                self.stopping.wait(self.every)
            try:
                while self.post_once() >= BATCH_EVENTS:
                    pass
                wait = 0.0
                if self._failing_since is not None:
                    log.warning("the dashboard answers again after %.1f s", time.monotonic() - self._failing_since)
                    self._failing_since = None
            except Refusal as exc:
                log.warning("the dashboard refused the events: %s", exc)
                self.refused = True
            except (OSError, ValueError) as exc:  # unreachable, restarting, a 5xx: the same events again
                if self._failing_since is None:
                    self._failing_since = time.monotonic()
                    log.warning("the dashboard at %s does not answer (%s); keeping the events and retrying",
                                self.url.split("/api/")[0], exc)
                wait = min(MAX_WAIT, wait * 2 if wait else FIRST_WAIT)

    def post_once(self) -> int:
        """Post what the bus holds after `sent` (one batch); returns how many events went."""
        events, dropped = self.bus.since(self.sent, BATCH_EVENTS - 1)
        if not events:
            return 0
        bodies = [self._body(e) for e in events]
        if dropped:  # (where the gap is: seqs stay ascending, and the dashboard takes them in order)
            gap = _first_gap(self.sent, events)
            at = next((i for i, e in enumerate(events) if e.seq > gap), len(events))
            bodies.insert(at, self._body(dropped_event(gap, _ts(events[at - 1] if at else events[0]), dropped,
                                                       f"{dropped} events left the buffer before the dashboard took them")))
        self._post(orjson.dumps({"boot": self.boot_ms, "events": bodies}))
        self._posted = time.monotonic()
        self.sent = events[-1].seq
        self.dropped += dropped
        self.posts += 1
        return len(events)

    def _keep_alive(self) -> None:
        """"Still running" (not again before KEEPALIVE_SECONDS, answered or not: batches retry on their own)."""
        self._post_empty()
        self._posted = time.monotonic()

    def _say_end(self) -> None:
        """Everything was taken: the program ended (once; a dashboard away counts it gone later)."""
        self._post_empty(end=True)

    def _post_empty(self, **extra: Any) -> None:
        """An empty batch, best effort: a failure here is one the next batch meets again."""
        try:
            self._post(orjson.dumps({"boot": self.boot_ms, "events": [], **extra}))
        except (OSError, ValueError, Refusal):
            pass

    def _body(self, event: Recorded) -> dict[str, Any]:
        body = event.to_json()
        body["agent"] = self.name
        return body

    def _post(self, data: bytes) -> None:
        request = urllib.request.Request(self.url, data=data, headers=self.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=HTTP_SECONDS) as answer:  # noqa: S310  (http(s) only: checked)
                self.every = pace(answer.read(), self.every)
        except urllib.error.HTTPError as exc:
            if exc.code in (400, 401, 403, 404, 413, 415):
                raise Refusal(f"{exc.code} {_sentence(exc)}") from None
            raise OSError(f"HTTP {exc.code}") from None
        except http.client.HTTPException as exc:  # cut off mid-answer (killed, restarting): not an OSError
            raise OSError(f"{type(exc).__name__}: {exc}") from None


def _sentence(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read() or b"{}")
        return str(body.get("error", "")) if isinstance(body, dict) else ""
    except (ValueError, OSError):
        return ""
