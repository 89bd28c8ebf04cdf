"""Running a program as `python program.py args...` would, for both tracers (`python -m agent.trace`
and the one-file socketlab_trace.py): sys.argv, sys.path[0] (its folder), `__name__ == "__main__"`,
its output untouched, its exit status, and an uncaught exception's traceback as Python prints it
(the tracer's own frames taken off). Standard library only, Python 3.8 and later.
"""

from __future__ import annotations

import atexit
import os
import runpy
import signal
import sys
from types import TracebackType
from typing import Any, Callable, List, Optional

_kept: List[Any] = []  # the program's globals, alive until exit as under `python program.py`
TRACER = os.path.dirname(os.path.abspath(__file__)) + os.sep  # this package's frames are not the program's


def run(program: str, args: List[str], finish: Callable[[], None]) -> int:
    """Run `program`; `finish` runs at exit (atexit: after the interpreter joined the program's own
    threads, and after the program's own exit functions, being registered first)."""
    interrupted: List[bool] = []

    def at_exit() -> None:
        finish()
        if interrupted:
            die_of_sigint()

    atexit.register(at_exit)
    sys.argv = [program, *args]
    sys.path[0] = os.path.dirname(os.path.abspath(program))
    try:
        _kept.append(runpy.run_path(program, run_name="__main__"))
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001  (the program's: printed as Python would, then status 1)
        tb = program_frames(exc.__traceback__, program)
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        if isinstance(exc, KeyboardInterrupt):
            interrupted.append(True)  # Python then ends by SIGINT, after its exit functions: so does this
        return 1
    return 0


def missing(program: str) -> Optional[str]:
    """Python's own words for a program file that is not there, else None."""
    if os.path.isfile(program):
        return None
    return f"{sys.executable}: can't open file {os.path.abspath(program)!r}: [Errno 2] No such file or directory"


def die_of_sigint() -> None:
    """End as CPython ends on an uncaught KeyboardInterrupt: output flushed, then killed by SIGINT
    (status -2, or 130 in a shell), so that a shell or a make sees an interrupted program."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)


def program_frames(tb: Optional[TracebackType], program: str) -> Optional[TracebackType]:
    """The traceback from the program's first frame on, without the tracer's frames: runpy's and the
    tracer's before the program, and a traced call's wrapper (tsocket.py) between the program's line
    and the error the real call raised."""
    first = tb
    while first is not None and first.tb_frame.f_code.co_filename != program:
        first = first.tb_next
    kept = []
    frame = first
    while frame is not None:
        if not frame.tb_frame.f_code.co_filename.startswith(TRACER):
            kept.append(frame)
        frame = frame.tb_next
    if not kept:
        return tb
    chain: Optional[TracebackType] = None
    for frame in reversed(kept):
        chain = TracebackType(chain, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    return chain
