"""`python -m agent.acl add <name> [--out FILE]`, `dashboard [--out FILE]`, `remove <name>`: Redis users
(Redis 6+ ACLs) so that a host holding one agent's password cannot write another's keys nor the stage.

SOCKETLAB_REDIS is the administrator's URL (never argv: `ps` shows argv to every local user). `add`
makes (or gives a new password to) the user `agent-<name>`, and prints that agent's URL, or writes it
to FILE, readable by its owner only: `SOCKETLAB_REDIS=$(cat FILE) python -m agent --name <name>`.

An agent's user may touch only its own keys, with only the commands an agent and a traced program
send: its events `ev:<name>` and heartbeat `hb:<name>` (read and write: the shipper reads its
stream's top), its commands `cmd:<name>` (a consumer group), and its answers `reply:<name>:*`
(write only: a dashboard reads its answers from `reply:<agent>:<dashboard id>` and believes an answer
only from the agent it asked, webapp/agents.py). The dashboards' user reads every `ev:*` and `hb:*`,
writes `cmd:*`, and owns `reply:*` and the shared `stage`. Nothing else is allowed to either: no
other key, no pub/sub, no admin command.

Users live in Redis's memory; when redis-server has an aclfile, they are saved to it (ACL SAVE),
otherwise this says they last until Redis restarts.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import redis

from lab.errors import BadInput, LabError, Problem

from .config import checked_name, environment, redis_url
from .redisconn import connect

# What a lab agent (agent/agent.py, shipper.py, inbox.py) and a traced program (agent/trace/delivery.py)
# send; redis-py's CLIENT SETINFO at connect is refused harmlessly (it ignores the answer)
AGENT_COMMANDS = ("xadd", "xrevrange", "xgroup|create", "xreadgroup", "xack", "set", "get", "del", "ping")
DASHBOARD_COMMANDS = ("xread", "xadd", "xrevrange", "scan", "mget", "del", "ping")
DASHBOARD_USER = "socketlab-dashboard"


def agent_rules(name: str) -> list[str]:
    """ACL SETUSER rules of `name`'s user (after its password): its own keys, an agent's commands."""
    checked_name(name)
    return ["resetkeys", f"~ev:{name}", f"~hb:{name}", f"~cmd:{name}", f"%W~reply:{name}:*", "resetchannels",
            "-@all", *(f"+{c}" for c in AGENT_COMMANDS)]


def dashboard_rules() -> list[str]:
    return ["resetkeys", "%R~ev:*", "%R~hb:*", "%W~cmd:*", "~reply:*", "~stage", "resetchannels",
            "-@all", *(f"+{c}" for c in DASHBOARD_COMMANDS)]


def set_user(admin: redis.Redis, user: str, rules: list[str]) -> str:
    """Create `user` (or reset it) with a new password and `rules`; the password."""
    password = secrets.token_urlsafe(24)
    try:
        admin.execute_command("ACL", "SETUSER", user, "reset", "on", f">{password}", *rules)  # type: ignore[no-untyped-call]
    except redis.ResponseError as exc:
        raise BadInput("redis-acl-refused", reason=str(exc)[:200]) from None
    return password


def user_url(admin_url: str, user: str, password: str) -> str:
    """`admin_url` with `user` and `password` in place of the administrator's."""
    parts = urlsplit(admin_url)
    if parts.scheme == "unix":  # (redis-py reads a unix socket's credentials from the query)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("username", "password")]
        query += [("username", user), ("password", password)]
        return f"unix://{parts.path}?{urlencode(query)}"
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{host}{parts.path}" + (
        f"?{parts.query}" if parts.query else "")


def saved(admin: redis.Redis) -> bool:
    """ACL SAVE when redis-server has an aclfile; False when it has none (the users live in memory)."""
    try:
        admin.acl_save()
        return True
    except redis.ResponseError:
        return False


def write_private(path: Path, text: str) -> None:
    """`text` into `path`, readable and writable by its owner only (0600), whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(text + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent.acl", description=__doc__.split("\n\n")[0].strip("`"),
                                     epilog="The administrator's Redis URL is read from SOCKETLAB_REDIS.")
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="make (or renew) the Redis user of one agent and print its URL")
    add.add_argument("name", help="the agent's name (python -m agent --name)")
    add.add_argument("--out", type=Path, help="write the URL to this file (mode 0600) instead of printing it")
    dashboard = actions.add_parser("dashboard", help="make (or renew) the dashboards' Redis user and print its URL")
    dashboard.add_argument("--out", type=Path, help="write the URL to this file (mode 0600) instead of printing it")
    remove = actions.add_parser("remove", help="delete the Redis user of one agent")
    remove.add_argument("name")
    options = parser.parse_args(argv)
    admin_url = redis_url(environment())
    if not admin_url:
        parser.error("set SOCKETLAB_REDIS to the administrator's Redis URL (not on the command line: ps shows it).")
    try:
        admin = connect(admin_url, socket_timeout=5)
        try:
            if options.action == "remove":
                user = f"agent-{checked_name(options.name)}"
                admin.acl_deluser(user)
                print(f"removed the Redis user {user}", file=sys.stderr)
                url = ""
            elif options.action == "add":
                user = f"agent-{checked_name(options.name)}"
                url = user_url(admin_url, user, set_user(admin, user, agent_rules(options.name)))
            else:
                user = DASHBOARD_USER
                url = user_url(admin_url, user, set_user(admin, user, dashboard_rules()))
            if not saved(admin):
                print("the Redis users last until redis-server restarts (give it an aclfile to keep them)", file=sys.stderr)
        finally:
            admin.close()
    except LabError as exc:
        print(f"python -m agent.acl: {exc}", file=sys.stderr)
        return 2
    except (redis.RedisError, OSError) as exc:
        print(f"python -m agent.acl: {Problem('redis-acl-refused', {'reason': str(exc)[:200]}).sentence}", file=sys.stderr)
        return 2
    if url and options.out:
        write_private(options.out, url)
        print(f"the URL of {user} is in {options.out} (mode 0600): SOCKETLAB_REDIS=$(cat {options.out})", file=sys.stderr)
    elif url:
        print(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
