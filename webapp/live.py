"""The Socket.IO side: one module-level SocketIO object and its connect handler.

Nothing here emits: events reach clients only through the relay task (relay.py). A client that
connects late catches up with GET /api/events, then follows the batches.
"""

from __future__ import annotations

import threading
from typing import Any

import orjson
from flask import current_app, request
from flask_socketio import ConnectionRefusedError, SocketIO
from socketio.packet import Packet

from .auth import STUDENT, Access, token_from

socketio = SocketIO(manage_session=False)


class FastJSON:
    """The json module's dumps/loads, done by orjson: about 15x faster on a batch of events (0.8
    against 12 us an event here), and the relay encodes every event of the lab."""

    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:  # (the separators asked for are orjson's own)
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(text: str | bytes, **_: Any) -> Any:
        return orjson.loads(text)


class EventPacket(Packet):  # type: ignore[misc]
    """A Socket.IO packet encoded with orjson that skips the recursive scan for binary data on the
    relay's batches. Events are JSON of strings and numbers, never bytes; profiling the echo
    benchmark showed python-socketio's per-value scan costing more than the JSON encoding itself.
    """

    json = FastJSON

    @classmethod
    def data_is_binary(cls, data: Any) -> bool:
        if isinstance(data, list) and data and data[0] == "events":
            return False
        return bool(super().data_is_binary(data))


# Students' Socket.IO connections (sid -> name), so that revoking a student's token also ends the
# connection it opened before: a connection's token is checked once, at connect.
_students: dict[str, tuple[Any, str]] = {}  # sid -> (the app's student book, the student's name)
_students_lock = threading.Lock()


@socketio.on("connect")
def on_connect(auth: Any = None) -> bool:
    """Refuse a connection without a valid token where one is needed; viewers and students may watch."""
    access: Access = current_app.config["ACCESS"]
    token = token_from(request.headers, request.args, auth)
    role = access.role(token, request.remote_addr)
    if role is None:
        raise ConnectionRefusedError(access.refusal(request.remote_addr))
    if role == STUDENT:
        name = access.student(token)
        if name is not None:
            with _students_lock:
                _students[request.sid] = (access.students, name)  # type: ignore[attr-defined]
    return True


@socketio.on("disconnect")
def on_disconnect(*_: Any) -> None:
    with _students_lock:
        _students.pop(request.sid, None)  # type: ignore[attr-defined]


def disconnect_revoked(students: Any) -> None:
    """End the connections of students whose token was revoked (`students.revoked(name)`). Called
    about once a second from the relay task, the one thread that talks to clients."""
    with _students_lock:
        gone = [sid for sid, (book, name) in _students.items() if book is students and students.revoked(name)]
    for sid in gone:
        socketio.server.disconnect(sid)
