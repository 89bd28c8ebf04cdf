"""The Socket.IO side: one module-level SocketIO object and its connect handler.

Nothing here emits: events reach clients only through the relay task (relay.py). A client that
connects late catches up with GET /api/events, then follows the batches.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_socketio import ConnectionRefusedError, SocketIO

from .auth import Access, token_from

socketio = SocketIO(manage_session=False)


@socketio.on("connect")
def on_connect(auth: Any = None) -> bool:
    """Refuse a connection without a valid token where one is needed; viewers may watch."""
    access: Access = current_app.config["ACCESS"]
    if access.role(token_from(request.headers, request.args, auth), request.remote_addr) is None:
        raise ConnectionRefusedError(access.refusal(request.remote_addr))
    return True
