"""What the traced program's side takes from the lab: plain values only (numbers, strings, tuples,
dicts of them), so that the one-file tracer (webapp/tracer_file.py) can carry them as literals.

Here they are read from the lab itself; the one-file tracer holds this module's values written out
when the dashboard builds it, and not its source. Nothing else on the program's side imports `lab`
(facts.py, tracer.py, tsocket.py, unpack.py), so both forms run the same code on the same values.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from lab.errors import os_problem
from lab.events.bus import FIELDS, PREVIEW_BYTES, SHOWN_AS

__all__ = ["FIELDS", "OS_PROBLEMS", "PREVIEW_BYTES", "SHOWN_AS"]

TRACED_ACTIONS = ("bind", "listen", "connect", "send", "receive")  # those a traced call's failure names (tsocket.py)
_BASE = {"host", "port", "address"}
_UNKNOWN_ERRNO = 1 << 20  # (no OS uses it: what os_problem says of an errno it has no rule for)


def _probed() -> dict[str, dict[str, tuple[str, tuple[str, ...]]]]:
    """Per action, the lab's code for each kind of OSError (an errno's name, "gaierror", "timeout";
    "*" for the rest) and the params its sentence adds to host, port and address: os_problem's
    rules as data, asked of os_problem itself for every errno this OS names."""
    table: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {}
    for action in TRACED_ACTIONS:
        def asked(exc: OSError) -> tuple[str, tuple[str, ...]]:
            problem = os_problem(exc, action, "h", 1)  # noqa: B023  (called at once, in this iteration)
            return problem.code, tuple(sorted(set(problem.params) - _BASE))

        rules = {"*": asked(OSError(_UNKNOWN_ERRNO, "x")), "gaierror": asked(socket.gaierror(-2, "x")),
                 "timeout": asked(socket.timeout("x"))}
        for number, name in errno.errorcode.items():
            rule = asked(OSError(number, "x"))
            if rule[0] != rules["*"][0]:
                rules[name] = rule
        table[action] = rules
    return table


OS_PROBLEMS: dict[str, Any] = _probed()
