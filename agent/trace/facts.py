"""What a traced call keeps, taken cheaply on the program's thread: its thread's name, the first
bytes of its payload, its errno's name and the lab's code for it, and the bytes a socket leaves
unread when it closes.

Standard library only, Python 3.8 and later, and no module some OS lacks at import (the one-file
tracer runs this on students' Linux, macOS and Windows laptops): a fact the OS cannot give is left out.
"""

from __future__ import annotations

import errno
import socket
import threading
from typing import Any, Dict, Tuple

from .labfacts import OS_PROBLEMS, PREVIEW_BYTES

try:  # (POSIX: FIONREAD on a socket; Windows has neither module, and no unread count)
    import fcntl
    import termios
except ImportError:
    fcntl = termios = None  # type: ignore[assignment]

names = threading.local()  # .name: this thread's name, cached (replaced whole at any rename)
_current = threading.current_thread


def _watch_renames() -> None:
    """Watch renames (`thread.name = ...`, setName(): both go through the property): a rename drops
    every thread's cached name, so each is looked up again at its next call, at no cost per call."""
    named: Any = threading.Thread.__dict__["name"]  # the property itself (typeshed sees a str)
    if getattr(named.fset, "_socketlab_counts", False):
        return

    def set_name(thread: threading.Thread, value: str) -> None:
        global names  # noqa: PLW0603  (rebinding the module attribute is the point: tsocket reads facts.names)
        named.fset(thread, value)
        names = threading.local()  # every thread's cached name is looked up again at its next call

    set_name._socketlab_counts = True  # type: ignore[attr-defined]
    thread_class: Any = threading.Thread
    thread_class.name = property(named.fget, set_name, None, named.__doc__)


_watch_renames()


def thread_name() -> str:
    """This thread's name, looked up once per thread and again after a rename: current_thread().name
    costs some 300 ns a call, a thread-local attribute a tenth of that. A rename anywhere replaces
    `names` (every thread's cache at once), so the hot path is one attribute: `names.name`, with this
    function when it raises AttributeError (tsocket.py inlines it so)."""
    here = names  # (first: a rename while we read replaces it, and the next call looks again)
    name: str = _current().name
    here.name = name
    return name


def head(data: Any, n: int) -> bytes:
    """The first bytes of a buffer the program passed (bytes, bytearray, memoryview of any format)."""
    if type(data) is bytes:
        return data[:min(n, PREVIEW_BYTES)]
    return bytes(memoryview(data).cast("B")[:min(n, PREVIEW_BYTES)])


def errno_name(exc: OSError) -> str | None:
    return errno.errorcode.get(exc.errno) if exc.errno else None


def os_problem(exc: OSError, action: str, host: str, port: int) -> Tuple[str, Dict[str, Any]]:
    """The lab's code and params for an OSError of a traced call (lab/errors.py `os_problem`, whose
    rules labfacts.py holds as data): `action` one of labfacts.TRACED_ACTIONS."""
    rules = OS_PROBLEMS[action]
    if isinstance(exc, socket.gaierror):
        kind = "gaierror"
    elif isinstance(exc, (TimeoutError, socket.timeout)):
        kind = "timeout"
    else:
        kind = errno.errorcode.get(exc.errno, str(exc.errno)) if exc.errno is not None else "?"
    rule = rules.get(kind) or rules.get(kind[3:] if kind.startswith("WSA") else "") or rules["*"]  # (Windows' names)
    code, extra = rule
    params: Dict[str, Any] = {"host": host, "port": port, "address": f"[{host}]:{port}" if ":" in host else f"{host}:{port}"}
    if "errno" in extra:
        params["errno"] = kind
    if "reason" in extra:
        params["reason"] = exc.strerror or str(exc)
    return code, params


def unread_bytes(fd: int) -> int:
    """Bytes that arrived on a TCP socket and were never read (FIONREAD); 0 when the OS will not say."""
    if fcntl is None:
        return 0
    try:
        return int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), "little")
    except OSError:
        return 0
