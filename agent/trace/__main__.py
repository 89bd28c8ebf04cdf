"""`SOCKETLAB_REDIS=<url> python -m agent.trace [--name <name>] program.py [args...]` (or `--dashboard <url>`
[--token-file <path>]): run a program, traced. The Redis URL is read from the environment: given with
`--redis`, its password would be visible to every local user (`ps`), and the tracer says so.

Over HTTP the token comes from SOCKETLAB_TOKEN or a file (--token-file, SOCKETLAB_TOKEN_FILE), never
from the command line, which `ps` shows to every user of the machine: a student's own token (from
joining with the code) posts that student's programs, under the student's name (--name).

The program runs as `python program.py args...` would run it (running.py). The tracer only adds events.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

try:
    from agent.config import NAME_LIMIT, checked_name
    from agent.redisconn import REDIS_HELP, connect, warn_password_in_argv
    from lab.errors import LabError

    from .config import TraceConfig, environment
    from .outbox import Outbox
    from .posting import check_dashboard_url
    from .running import missing, run
    from .tracer import Tracer
    from .tsocket import install
except ModuleNotFoundError as absent:  # a Python without the project's packages (outside its venv)
    print(f"python -m agent.trace: this Python lacks the project's package '{absent.name}': run the tracer with "
          f"the project's own Python (.venv/bin/python -m agent.trace ...), or install requirements.txt.", file=sys.stderr)
    sys.exit(2)

FLUSH_SECONDS = 10.0  # at the program's end, its last events get this long to arrive (the courier's own bound)


def default_name(program: str) -> str:
    """The file's stem, cleaned as agent names are ("echo server.py" -> "echo-server")."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "-", Path(program).stem)[:NAME_LIMIT].strip("-")
    return cleaned or "program"


def _parser(config: TraceConfig) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m agent.trace",
                                     description="Run a Python program with its socket calls shown on the dashboards.")
    parser.add_argument("--redis", default=config.redis, help=REDIS_HELP)
    parser.add_argument("--dashboard", default=config.dashboard,
                        help="without Redis: the dashboard's URL, e.g. http://10.0.0.5:5000 (SOCKETLAB_DASHBOARD)")
    parser.add_argument("--token-file", default=config.token_file,
                        help="a file holding your token (SOCKETLAB_TOKEN_FILE); else SOCKETLAB_TOKEN is read. "
                             "A student's own token (from joining) posts only under the student's name (--name)")
    parser.add_argument("--token", default="", help=argparse.SUPPRESS)  # (argv: seen by every user; warned)
    parser.add_argument("--name", default="", help="the name the class sees (default: the program's file name)")
    parser.add_argument("program", help="the Python file to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    return parser


def main(argv: list[str] | None = None) -> int:
    config = TraceConfig.from_env(environment())
    parser = _parser(config)
    options = parser.parse_args(argv)
    if bool(options.redis) == bool(options.dashboard):
        parser.error("where to? Give --redis <url> (a Redis the dashboards read) or --dashboard <url> "
                     "(with your token in SOCKETLAB_TOKEN or --token-file <path>).")
    program: str = options.program
    not_there = missing(program)
    if not_there:  # (python's own words and status for a missing file)
        print(not_there, file=sys.stderr)
        return 2
    try:
        token = _token(options, config)
        tracer = Tracer(checked_name(options.name or default_name(program)))
        if options.redis:
            connect(options.redis, 1.0).close()  # (checks the URL: a sentence now, not in the courier)
            warn_password_in_argv("python -m agent.trace", options.redis, argv)
            where = ["--over-redis"]  # (the courier reads the URL from its environment, never from argv)
        else:
            where = ["--dashboard", check_dashboard_url(options.dashboard)]
    except (LabError, _NoToken) as exc:
        print(f"python -m agent.trace: {exc}", file=sys.stderr)
        return 2
    outbox = Outbox(tracer, ["--name", tracer.name, "--program", program, "--pid", str(os.getpid()), *where],
                    token, redis_url=options.redis)

    def finish() -> None:
        if tracer.on:
            tracer.finish()
        outbox.close(FLUSH_SECONDS + 1)

    def in_child() -> None:  # a fork's child: untraced (its records would be taken for its parent's)
        tracer.on = False
        outbox.forget()

    outbox.start()
    install(tracer)
    os.register_at_fork(after_in_child=in_child)
    return run(program, options.args, finish)


class _NoToken(Exception):
    """The token file named cannot be read (the sentence says which and why)."""


def _token(options: argparse.Namespace, config: TraceConfig) -> str:
    """The token to post with: --token-file's first line, else SOCKETLAB_TOKEN; --token still works
    but is warned about, because every user of the machine sees a command line (ps)."""
    if options.token:
        print("python -m agent.trace: warning: a token on the command line is visible to every user of this "
              "machine (ps); put it in SOCKETLAB_TOKEN or a file (--token-file <path>) instead.", file=sys.stderr)
        return str(options.token)
    if options.token_file:
        try:
            with open(options.token_file, encoding="utf-8") as file:
                return file.readline(4096).strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise _NoToken(f"cannot read the token file {options.token_file}: "
                           f"{getattr(exc, 'strerror', None) or exc}") from None
    return config.token


if __name__ == "__main__":
    sys.exit(main())
