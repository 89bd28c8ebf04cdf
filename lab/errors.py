"""Errors a user can cause, each carrying a sentence a student understands.

The web layer maps each class to an HTTP status; the lab itself knows nothing of HTTP.
"""

from __future__ import annotations

import errno
import socket


class LabError(Exception):
    """Base class: the message is shown to the user as it is."""


class BadInput(LabError):
    """The request itself is wrong (400)."""


class NotFound(LabError):
    """An unknown endpoint, connection, download or file (404)."""


class Refused(LabError):
    """The OS or the state of things says no: port in use, connection refused, peer gone (409)."""


class TooLarge(LabError):
    """Over a size or count limit (413)."""


class Forbidden(LabError):
    """Outside what the lab's policy allows (403)."""


def where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def explain_os_error(exc: OSError, action: str, host: str, port: int) -> str:
    """Turn an OSError from bind/connect/send into one plain sentence.

    `action` is what was being tried, e.g. "listen on" or "connect to".
    """
    at = where(host, port)
    if isinstance(exc, socket.gaierror):
        return f"The host name '{host}' could not be found; check the spelling, or use an IP address like 127.0.0.1."
    if isinstance(exc, TimeoutError) or isinstance(exc, socket.timeout):
        return f"Could not {action} {at}: no answer before the time limit (the host may be down or a firewall drops packets)."
    code = exc.errno
    if code == errno.EADDRINUSE:
        return (f"Port {port} is already in use on {host}: another program or another lab server is listening there. "
                "Choose another port, or 0 to let the system pick a free one.")
    if code == errno.EACCES:
        if action == "send to":
            return (f"Not allowed to send to {at}: it is a broadcast address, and the kernel lets a socket send there "
                    "only with SO_BROADCAST on. Turn on 'broadcast' for this UDP client, or send to one host's address.")
        return f"Not allowed to {action} {at}: ports below 1024 need administrator rights; use a port above 1024 or 0."
    if code == errno.EADDRNOTAVAIL:
        return f"Cannot {action} {at}: {host} is not an address of this machine."
    if code == errno.ECONNREFUSED:
        return f"Connection refused by {at}: nothing is listening on that port. Start a server there first, or check the port."
    if code in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return f"Cannot reach {at}: the host or its network is unreachable from this machine (no route to it)."
    if code == errno.ECONNRESET:
        return f"The connection to {at} was reset by the peer (it closed abruptly, without a normal goodbye)."
    if code == errno.EPIPE:
        return f"Cannot send to {at}: the peer has already closed the connection."
    if code == errno.EMSGSIZE:
        return f"The datagram is too large to {action} {at} in one piece."
    return f"Could not {action} {at}: {exc.strerror or exc}."
