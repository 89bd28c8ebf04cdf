"""Who may do what: control tokens, read-only view tokens, and the loopback default.

- No tokens configured: requests from this machine (loopback) control the lab; anyone else gets
  401 with a sentence saying how to set a token. So the loopback demo needs nothing.
- SOCKETLAB_TOKEN set: every request but GET /api/health needs a token. The control token may
  do anything; the view token (SOCKETLAB_VIEW_TOKEN) may read and watch, and gets 403 on actions.
- A student's token (one each, from joining with the code: webapp/join.py) reads what the view token
  reads, names its own address and posts its own traced program's events; webapp/api.py says which.
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
from typing import Any, Protocol

from lab.interfaces import machine_addresses
from lab.messages import MESSAGES

from .startup import StartupProblem
from .state import StateDir

log = logging.getLogger(__name__)

CONTROL, VIEW, STUDENT = "control", "view", "student"
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


class StudentTokens(Protocol):
    def find(self, token: str) -> str | None:
        """The name of the student whose token (not revoked) this is, else None."""


@dataclass(frozen=True)
class Access:
    control: str | None = None
    view: str | None = None
    students: StudentTokens | None = None  # (the app's, webapp/join.py; None: no student tokens)

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
            if self.students is not None and self.students.find(token) is not None:
                return STUDENT
        return None

    def student(self, token: str | None) -> str | None:
        """The name of the student `token` belongs to (None for any other token, or a revoked one)."""
        if not token or not self.required or self.students is None:
            return None
        return self.students.find(token)

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


def prepare_tokens(control: str | None, view: str | None, hosts: list[str], state: StateDir | None = None) -> Access:
    """The tokens given (SOCKETLAB_TOKEN, SOCKETLAB_VIEW_TOKEN: webapp/config.py), with those missing
    generated when any of `hosts` is not loopback and no control token is given, or when only a view
    token is.

    With a `state` folder, a generated token is kept there (tokens.json) and the same one is used at
    the next start, so the links a teacher printed or shared keep working across a restart. A token
    given always wins and is never written down. The Access returned is handed down (gunicorn's
    master to its workers: webapp/config.py), never through the environment.
    """
    control, view = control or None, view or None
    exposed = any(not is_loopback(h) for h in hosts)
    if control is not None and view is not None or control is None and not (exposed or view is not None):
        return Access(control, view)
    kept = (state.read(TOKENS_FILE) if state is not None else None) or {}
    made = {}
    if control is None:
        control = made["control"] = _kept_token(kept, "control")
    if view is None:
        view = made["view"] = _kept_token(kept, "view")
    if state is not None and any(kept.get(role) != token for role, token in made.items()):
        try:
            state.write(TOKENS_FILE, {**kept, **made})
        except OSError as exc:
            raise StartupProblem(f"the generated tokens cannot be kept in {state.path} ({exc.strerror or exc}); "
                                 f"make that folder writable, or choose another with SOCKETLAB_STATE_DIR.") from None
    return Access(control, view)


TOKENS_FILE = "tokens.json"


def _kept_token(kept: dict[str, Any], role: str) -> str:
    token = kept.get(role)
    return token if isinstance(token, str) and len(token) >= 16 else new_token(18)


def new_token(nbytes: int) -> str:
    """A URL-safe random token that never starts with "-": a command line (`--token -x...`) reads such a
    token as an option, so one token in 64 would fail for the student or teacher who pastes it."""
    while (token := secrets.token_urlsafe(nbytes)).startswith("-"):
        pass
    return token


def announce(access: Access, host: str, port: int) -> list[str]:
    """The control and viewer URLs to print at start (like Jupyter's), or nothing without tokens."""
    if not access.required:
        return []
    if host in ("0.0.0.0", "::", ""):
        # on every address: the one the class can type, the LAN's, as the Join panel shows it (a host
        # name may resolve to 127.0.0.1 on the teacher's machine, or to nothing on the students')
        lan = [a.address for a in machine_addresses((4,) if host == "0.0.0.0" else (4, 6)) if a.kind == "lan"]
        shown = lan[0] if lan else socket.gethostname()
    else:
        shown = host
    base = f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}/"
    return [f"Control the lab (keep this secret): {base}?token={access.control}",
            f"Watch only (share with the class):  {base}?token={access.view}"]
