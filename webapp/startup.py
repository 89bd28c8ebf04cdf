"""Start-up problems, each said in one sentence before anything else is printed.

A dashboard that prints "on http://..." and then fails leaves a teacher with a link that does not
work. So the token variables are checked and the listening socket is bound first; only then is
the address announced. These sentences go to the terminal, never to a page (English only).
"""

from __future__ import annotations

import errno
import socket
from typing import Mapping

TOKEN_VARIABLES = ("SOCKETLAB_TOKEN", "SOCKETLAB_VIEW_TOKEN")


class StartupProblem(SystemExit):
    """Exit with status 2 and a sentence (SystemExit prints a string code to stderr)."""

    def __init__(self, sentence: str) -> None:
        super().__init__(f"Socket Lab cannot start: {sentence}")


def check_token_variables(env: Mapping[str, str]) -> None:
    """A token variable that is set but empty (or blank) is a mistake, not "no token": a shell's
    `SOCKETLAB_TOKEN=$TOKEN` with TOKEN unset would otherwise silently open the lab."""
    for name in TOKEN_VARIABLES:
        if name in env and not env[name].strip():
            raise StartupProblem(f"{name} is set but empty. Give it a secret value "
                                 f"(e.g. {name}=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')), "
                                 f"or unset it (unset {name}) to let the dashboard choose one.")


def bind_problem(exc: OSError, host: str, port: int) -> StartupProblem:
    """The sentence for an OSError from binding the dashboard's own socket."""
    where = f"{'[' + host + ']' if ':' in host else host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return StartupProblem(f"port {port} is already in use on {host}: another program (or another dashboard) "
                              f"is listening there. Stop it, or choose another port: make run PORT=5001 "
                              f"(python -m webapp --port 5001).")
    if exc.errno == errno.EACCES:
        return StartupProblem(f"not allowed to listen on {where}: ports below 1024 need administrator rights. "
                              f"Use a port above 1024, e.g. --port 5000.")
    if exc.errno == errno.EADDRNOTAVAIL:
        return StartupProblem(f"{host} is not an address of this machine, so the dashboard cannot listen there. "
                              f"Use 127.0.0.1 (this machine only) or 0.0.0.0 (every network, for a class).")
    if isinstance(exc, socket.gaierror):
        return StartupProblem(f"the host name '{host}' could not be found; use an address like 127.0.0.1 or 0.0.0.0.")
    return StartupProblem(f"could not listen on {where}: {exc.strerror or exc} "
                          f"({errno.errorcode.get(exc.errno or 0, 'error')}).")


def listening_socket(host: str, port: int) -> socket.socket:
    """The dashboard's listening socket, bound now (werkzeug would print its own words and exit)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
        return socket.create_server((host, port), family=family, backlog=128)
    except OSError as exc:
        raise bind_problem(exc, host, port) from None


def check_port(port: int) -> None:
    if not 0 <= port <= 65535:
        raise StartupProblem(f"{port} is not a port: ports go from 1 to 65535 (0 lets the system choose).")


__all__ = ["StartupProblem", "bind_problem", "check_port", "check_token_variables", "listening_socket"]
