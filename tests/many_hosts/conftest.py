"""The room fixture: a four-host LAN (tests/conftest.py `lan`), Redis on h1, no agent or dashboard yet."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from ..netns import Lan
from .cluster import Room


@pytest.fixture
def room(lan: Lan) -> Iterator[Room]:
    # a short folder of its own: the unix socket path must fit in 108 bytes (pytest's tmp_path may not)
    with tempfile.TemporaryDirectory(prefix="room-") as folder:
        the_room = Room(lan, Path(folder))
        try:
            yield the_room
        finally:
            the_room.close()
