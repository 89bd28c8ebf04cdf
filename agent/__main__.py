"""`SOCKETLAB_REDIS=<url> python -m agent --name <name>`: run a lab agent until SIGTERM or Ctrl-C.

The Redis URL is read from the environment (or a file: `SOCKETLAB_REDIS=$(cat pc1.url)`); `--redis`
still works, but its password is then visible to every local user (`ps`), and the agent says so.
With Redis ACL users (agent/acl.py), the URL is this agent's own: it may touch its own keys only.

A setting that cannot work (a malformed URL or name, a limit that is not a number) is said in a
sentence and the agent exits with status 2: retrying cannot fix a typo. Redis being unreachable is
not such a problem: in a lab room the agents often boot before the machine that runs Redis, and the
lab records events meanwhile (its buffer is the outage buffer), so the agent starts anyway and its
loops keep trying, saying so in the log every 5 s until Redis answers.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from lab.errors import LabError

from .agent import Agent
from .config import AgentConfig, environment, redis_url
from .redisconn import REDIS_HELP, redacted, warn_password_in_argv

log = logging.getLogger("agent")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent", description="Run a Socket Lab agent on this host.")
    parser.add_argument("--redis", default=None, help=REDIS_HELP)
    parser.add_argument("--name", default=None,
                        help="this agent's name, 1-40 of [A-Za-z0-9_.-] (SOCKETLAB_AGENT_NAME; default: the host name)")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    env = environment()
    url = options.redis if options.redis is not None else redis_url(env)
    if not url:
        parser.error("which Redis? Set SOCKETLAB_REDIS=<url> (python -m agent.acl add <name> makes one).")
    warn_password_in_argv("python -m agent", url, argv)
    try:
        config = AgentConfig.from_env(env, name=options.name, redis=url)
    except LabError as exc:
        print(f"python -m agent: {exc}", file=sys.stderr)
        return 2
    name = config.name
    try:
        lab = config.lab()
    except LabError as exc:
        print(f"python -m agent: {exc}", file=sys.stderr)
        return 2
    try:
        agent = Agent(name, config.redis, lab)
    except LabError as exc:
        lab.close()
        print(f"python -m agent: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()

    def finish(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    agent.start()
    log.info("agent %s up on %s", name, redacted(config.redis))
    try:
        while not done.wait(3600):  # (a timed wait: signal handlers run in the main thread between waits)
            pass
    finally:
        log.info("agent %s stopping", name)
        agent.stop()
        lab.close()
        log.info("agent %s stopped", name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
