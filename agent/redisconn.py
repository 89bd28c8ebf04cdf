"""One way to open Redis, for the agent and the dashboard alike: short timeouts, no hidden retries.

redis-py 8's defaults (RESP3, a 5 s socket timeout, 10 retries with back-off) turned a 7 s blocking
read into a 59 s hang in the prototype, and its retry of an XADD with an automatic id wrote the entry
twice. So the library never retries here: every loop that talks to Redis has its own retry, which
knows what is safe to repeat (an XADD with an explicit id is; see agent/shipper.py).
"""

from __future__ import annotations

import sys
from urllib.parse import parse_qs, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from lab.errors import BadInput, Problem

CONNECT_TIMEOUT = 1.0  # seconds: a Redis on the LAN answers a connect in well under that
REDIS_HELP = ("better set SOCKETLAB_REDIS: a URL given here, with its password, is visible to every user of "
              "this machine (ps). redis://[user:password@]host:port/db or unix:///path/to.sock[?db=n]")


def warn_password_in_argv(program: str, url: str, argv: list[str] | None) -> None:
    """Say on stderr when `url`, holding a password, came from the command line (`argv`, or sys.argv)."""
    given = sys.argv[1:] if argv is None else argv
    if url and any(url in arg for arg in given) and _has_password(url):
        print(f"{program}: {Problem('redis-password-in-argv', {}).sentence}", file=sys.stderr)


def _has_password(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.password is not None or "password=" in parts.query
    except ValueError:
        return False


def check_url(url: str) -> None:
    """Raise BadInput ("redis-url-invalid") unless `url` is redis://[:password@]host:port/db or
    unix:///path[?db=n]: a typo is said at start-up, not found by a connect that keeps failing."""
    try:
        parts = urlsplit(url)
        port = parts.port  # (raises ValueError for a port that is not a number or out of range)
        query = parse_qs(parts.query, strict_parsing=False)
        db = query.get("db", [parts.path.strip("/") if parts.scheme == "redis" else "0"])[0] or "0"
        good = db.isdigit() and (
            (parts.scheme == "redis" and bool(parts.hostname) and (port is None or port > 0))
            or (parts.scheme == "unix" and not parts.netloc.strip("@:") and len(parts.path) > 1))
    except ValueError:
        good = False
    if not good:
        raise BadInput("redis-url-invalid", url=redacted(url)[:200])


def connect(url: str, socket_timeout: float) -> redis.Redis:
    """A client for `url` (checked first). Blocking reads must block for less than `socket_timeout`,
    or they fail as a timeout; nothing is retried by the library (protocol 2, bytes in and out)."""
    check_url(url)
    try:
        return redis.Redis.from_url(url, socket_timeout=socket_timeout, socket_connect_timeout=CONNECT_TIMEOUT,
                                    retry=Retry(NoBackoff(), 0), health_check_interval=0, protocol=2,
                                    decode_responses=False)
    except ValueError:  # (what redis-py's own parser refuses beyond check_url: a bad query value)
        raise BadInput("redis-url-invalid", url=redacted(url)[:200]) from None


def redacted(url: str) -> str:
    """`url` without its password, for logs and sentences."""
    try:
        parts = urlsplit(url)
        if "password=" in parts.query:  # (unix:///path?password=...)
            parts = parts._replace(query="&".join("password=***" if q.startswith("password=") else q
                                                  for q in parts.query.split("&")))
        if parts.password is not None:
            parts = parts._replace(netloc=f"{parts.username or ''}:***@{parts.netloc.rpartition('@')[2]}")
        # (not urlunsplit: it writes unix:///path as unix:/path)
        return f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    except ValueError:
        return "<a URL that cannot be read>"
