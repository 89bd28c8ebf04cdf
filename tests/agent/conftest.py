"""Fixtures for the agent tests: an agent's lab, the agent on the test's own redis-server, and a
plain Redis client the test uses to look at the streams and to play the dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
import redis

from agent import Agent
from agent.redisconn import connect
from lab import Lab

from ..redis_server import RedisServer

NAME = "pc1"


@pytest.fixture
def agent_lab(folders: dict[str, Path]) -> Iterator[Lab]:
    the_lab = Lab(folders["files"], folders["downloads"], id_suffix=f"@{NAME}")
    yield the_lab
    the_lab.close()


@pytest.fixture
def r(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = connect(redis_server.url, socket_timeout=5)
    yield client
    client.close()


@pytest.fixture
def agent(redis_server: RedisServer, agent_lab: Lab) -> Iterator[Agent]:
    running = Agent(NAME, redis_server.url, agent_lab)
    running.start()
    yield running
    running.stop()
