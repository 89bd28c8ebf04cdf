"""Errors a user can cause: each a stable code and the values of its sentence.

The web layer maps each class to an HTTP status; the lab itself knows nothing of HTTP. The code
and params cross every boundary as data (API bodies, events); the English sentence comes from the
one table, lab/messages.py, and the page words the same code in the reader's language through
static/i18n/errors-<lang>.js (`err.<code>`).
"""

from __future__ import annotations

import errno
import re
import socket
from typing import Any, NamedTuple, Self

from .messages import ACTIONS, MESSAGES

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def render(template: str, params: dict[str, Any]) -> str:
    """Fill `{name}` placeholders the way static/js/i18n.js does (and str.format would: templates
    hold no other braces, a test checks it). A missing param is a programmer's mistake: KeyError."""
    def fill(match: re.Match[str]) -> str:
        value = params[match.group(1)]
        return f"{value:g}" if isinstance(value, float) else str(value)
    return _PLACEHOLDER.sub(fill, template)


class Problem(NamedTuple):
    """What went wrong, as data: a code from MESSAGES and the values its sentence needs."""

    code: str
    params: dict[str, Any]

    @property
    def sentence(self) -> str:
        return render(MESSAGES[self.code], self.params)


class LabError(Exception):
    """Base class: `code` and `params` are the data, str(exc) the English sentence.

    `BadInput("port-out-of-range", port=70000, low=0)`: an unknown code is a KeyError right here,
    so a raise site with a typo fails in its first test, not in front of a student.
    """

    def __init__(self, code: str, /, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(Problem(code, params).sentence)

    @classmethod
    def of(cls, problem: Problem) -> Self:
        return cls(problem.code, **problem.params)

    @property
    def problem(self) -> Problem:
        return Problem(self.code, self.params)

    def __reduce__(self) -> Any:  # pickle by code and params: the default would pass the sentence as the code
        return (_rebuild, (type(self), self.code, self.params))


def _rebuild(cls: type[LabError], code: str, params: dict[str, Any]) -> LabError:
    return cls(code, **params)


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


# The English phrases callers have always passed as `action`, mapped to the stable token that
# names the per-action codes in lab/messages.py ("listen on" -> "listen" -> "listen-timed-out").
_ACTION_TOKENS = {phrase: token for token, phrase in ACTIONS.items()}


def os_problem(exc: OSError, action: str, host: str, port: int) -> Problem:
    """Turn an OSError from bind/connect/send/recv into a code and params.

    `action` is what was being tried: a token of ACTIONS ("connect") or its English phrase
    ("connect to"). Every problem carries host, port and address ("host:port", "[v6]:port").
    """
    token = _ACTION_TOKENS.get(action, action)
    if token not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; add it to ACTIONS in lab/messages.py")
    base: dict[str, Any] = {"host": host, "port": port, "address": where(host, port)}
    if isinstance(exc, socket.gaierror):
        return Problem("host-not-found", base)
    if isinstance(exc, TimeoutError | socket.timeout):
        return Problem(f"{token}-timed-out", base)
    number = exc.errno
    name = errno.errorcode.get(number, str(number)) if number is not None else "?"
    if number == errno.EADDRINUSE:
        return Problem("port-in-use", base)
    if number == errno.EACCES:
        if token == "send":
            return Problem("broadcast-not-allowed", base)
        return Problem(f"{token}-port-needs-root", base)
    if number == errno.EADDRNOTAVAIL:
        return Problem(f"{token}-address-not-local", base)
    if number == errno.ECONNREFUSED:
        return Problem("connection-refused", base)
    if number in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return Problem("host-unreachable", {**base, "errno": name})
    if number == errno.ECONNRESET:
        return Problem("connection-reset", base)
    if number == errno.EPIPE:
        return Problem("peer-closed", base)
    if number == errno.EMSGSIZE:
        return Problem(f"{token}-datagram-too-large", base)
    return Problem(f"{token}-failed", {**base, "errno": name, "reason": exc.strerror or str(exc)})


def explain_os_error(exc: OSError, action: str, host: str, port: int) -> str:
    """os_problem(...).sentence: one plain English sentence (kept for existing callers)."""
    return os_problem(exc, action, host, port).sentence
