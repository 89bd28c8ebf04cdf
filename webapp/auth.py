"""Who may do what: control tokens, read-only view tokens, and the loopback default.

- No tokens configured: requests from this machine (loopback) control the lab; anyone else gets
  401 with a sentence saying how to set a token. So the loopback demo needs nothing.
- SOCKETLAB_TOKEN set: every request but GET /api/health needs a token. The control token may
  do anything; the view token (SOCKETLAB_VIEW_TOKEN) may read and watch, and gets 403 on actions.
Tokens come as `Authorization: Bearer <t>`, Socket.IO `auth: {"token": t}`, or `?token=<t>`, and
are compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
import socket
from dataclasses import dataclass
from typing import Any

from lab.messages import MESSAGES

log = logging.getLogger(__name__)

CONTROL, VIEW = "control", "view"
READ_METHODS = ("GET", "HEAD", "OPTIONS")


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0]).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Access:
    control: str | None = None
    view: str | None = None

    @property
    def required(self) -> bool:
        return self.control is not None

    def role(self, token: str | None, remote_addr: str | None) -> str | None:
        """The caller's role, or None when it may not even watch."""
        if not self.required:
            return CONTROL if is_loopback(remote_addr) else None
        if token:
            given = token.encode("utf-8", "replace")
            if self.control and hmac.compare_digest(given, self.control.encode()):
                return CONTROL
            if self.view and hmac.compare_digest(given, self.view.encode()):
                return VIEW
        return None

    def refusal_code(self, remote_addr: str | None) -> str:
        """The code (lab/messages.py) of the refusal a request without a valid token gets."""
        return "unauthorized" if self.required else "local-only"

    def refusal(self, remote_addr: str | None) -> str:
        return MESSAGES[self.refusal_code(remote_addr)]


def token_from(headers: Any, args: Any, auth: Any = None) -> str | None:
    """The token from Socket.IO auth, an Authorization header, or ?token= (headers and args: any .get())."""
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return str(auth["token"])
    header = headers.get("Authorization", "")
    if isinstance(header, str) and header.startswith("Bearer "):
        return header[len("Bearer "):].strip()
    token = args.get("token")
    return token if isinstance(token, str) and token else None


def prepare_tokens(env: dict[str, str], hosts: list[str]) -> Access:
    """Tokens from the environment; generated (and written back to `env`) when any of `hosts`
    is not loopback and no control token is set, or when only a view token is set."""
    control, view = env.get("SOCKETLAB_TOKEN") or None, env.get("SOCKETLAB_VIEW_TOKEN") or None
    exposed = any(not is_loopback(h) for h in hosts)
    if control is None and (exposed or view is not None):
        control = env["SOCKETLAB_TOKEN"] = secrets.token_urlsafe(18)
    if control is not None and view is None:
        view = env["SOCKETLAB_VIEW_TOKEN"] = secrets.token_urlsafe(18)
    return Access(control, view)


def announce(access: Access, host: str, port: int) -> list[str]:
    """The control and viewer URLs to print at start (like Jupyter's), or nothing without tokens."""
    if not access.required:
        return []
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    base = f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}/"
    return [f"Control the lab (keep this secret): {base}?token={access.control}",
            f"Watch only (share with the class):  {base}?token={access.view}"]
