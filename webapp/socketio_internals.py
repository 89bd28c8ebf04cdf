"""The one module that reads what python-socketio and python-engineio keep to themselves.

The relay skips a client whose outgoing queue is long (webapp/relay.py), and the live gate closes
sessions that never joined a namespace (webapp/conns.py): both need facts these libraries hold in
attributes of their own rather than in their API. Every such read is here, and nowhere else, and
tests/webapp/test_socketio_internals.py exercises each against the installed versions, so an
upgrade that moves one fails that test, by name, instead of a class.

From the API: the client manager's get_namespaces() and get_participants() (emit itself uses them).
From the inside: engine.io's `sockets` (an Engine.IO sid -> its session, with the `queue` of packets
waiting to be written, `closed`, and close(wait, abort)) and socket.io's `environ` (an Engine.IO
sid -> the WSGI environ of the request that opened it).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)
_warned: set[str] = set()


def clients(server: Any, namespace: str) -> dict[str, str]:
    """Socket.IO sid -> Engine.IO sid of every client connected to `namespace` (a snapshot)."""
    return dict(server.manager.get_participants(namespace, None))


def joined(server: Any) -> set[str]:
    """The Engine.IO sids of the sessions that joined some namespace."""
    manager = server.manager
    return {eio_sid for namespace in list(manager.get_namespaces())
            for _sid, eio_sid in manager.get_participants(namespace, None)}


def queued(server: Any, eio_sid: str) -> int:
    """Packets waiting to be written to one client; 0 for a session engine.io no longer holds.

    Should an upgrade move the queue, this says so once in the log and answers 0: no client is then
    skipped for being slow, and the relay goes on emitting to everyone."""
    try:
        session = server.eio.sockets.get(eio_sid)
        return 0 if session is None else int(session.queue.qsize())
    except AttributeError as exc:
        _warn("queued", exc)
        return 0


def sessions(server: Any) -> dict[str, Any]:
    """Engine.IO sid -> its session, open or closing (a snapshot)."""
    return dict(server.eio.sockets)


def environs(server: Any) -> dict[str, dict[str, Any]]:
    """Engine.IO sid -> the WSGI environ of the request that opened the session (a snapshot)."""
    return dict(server.environ)


def is_closed(session: Any) -> bool:
    return bool(session.closed)


def abort(session: Any) -> None:
    """Close a session at once: nothing is flushed, nothing waits on the client."""
    session.close(wait=False, abort=True)


def _warn(what: str, exc: Exception) -> None:
    if what not in _warned:
        _warned.add(what)
        log.warning("python-socketio/engineio no longer holds what %s() reads (%s): see webapp/socketio_internals.py",
                    what, exc)
