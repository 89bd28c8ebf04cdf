"""What a traced call keeps, taken cheaply on the program's thread: its thread's name, the first
bytes of its payload, its errno's name, and the bytes a socket leaves unread when it closes."""

from __future__ import annotations

import errno
import fcntl
import termios
import threading
from typing import Any

from lab.events import PREVIEW_BYTES

_here = threading.local()
_current = threading.current_thread
_renames = [0]  # how many times any thread was renamed: a thread's cached name is checked against it


def _watch_renames() -> None:
    """Count renames (`thread.name = ...`, setName(): both go through the property), so a name cached
    per thread is looked up again after any rename, at the cost of one comparison a call."""
    named: Any = threading.Thread.__dict__["name"]  # the property itself (typeshed sees a str)
    if getattr(named.fset, "_socketlab_counts", False):
        return

    def set_name(thread: threading.Thread, value: str) -> None:
        named.fset(thread, value)
        _renames[0] += 1

    set_name._socketlab_counts = True  # type: ignore[attr-defined]
    thread_class: Any = threading.Thread
    thread_class.name = property(named.fget, set_name, None, named.__doc__)


_watch_renames()


def thread_name() -> str:
    """This thread's name, looked up once per thread and again after a rename: current_thread().name
    costs some 300 ns a call, a thread-local attribute and a comparison a sixth of that."""
    here = _here.__dict__
    name: str | None = here.get("name")
    if name is None or here["seen"] != _renames[0]:
        here["seen"] = _renames[0]  # (first: a rename while we read is seen by the next call)
        name = here["name"] = _current().name
    return name


def head(data: Any, n: int) -> bytes:
    """The first bytes of a buffer the program passed (bytes, bytearray, memoryview of any format)."""
    if type(data) is bytes:
        return data[:min(n, PREVIEW_BYTES)]
    return bytes(memoryview(data).cast("B")[:min(n, PREVIEW_BYTES)])


def errno_name(exc: OSError) -> str | None:
    return errno.errorcode.get(exc.errno) if exc.errno else None


def unread_bytes(fd: int) -> int:
    """Bytes that arrived on a TCP socket and were never read (FIONREAD); 0 when the OS will not say."""
    try:
        return int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), "little")
    except OSError:
        return 0
