"""The Socket.IO side: one module-level SocketIO object and its connect handler.

Nothing here emits: events reach clients only through the relay task (relay.py). A client that
connects late catches up with GET /api/events, then follows the batches.
"""

from __future__ import annotations

from typing import Any

from flask_socketio import SocketIO

socketio = SocketIO(manage_session=False)


@socketio.on("connect")
def on_connect(auth: Any = None) -> bool:
    return True
