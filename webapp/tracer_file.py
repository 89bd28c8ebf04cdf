"""`GET /trace.py`: the one-file tracer for a student who joined, nothing to install.

A student's page offers socketlab_trace.py and one command, `python3 socketlab_trace.py my_server.py`
(`py socketlab_trace.py my_server.py` in Windows' PowerShell). The file is made here, from the
program-side modules of agent/trace (the very code `python -m agent.trace` runs; agent/trace/onefile.py
says how it posts), each carried as its source and loaded as a module of a private package, with
labfacts' values written out as literals (the file has no `lab` to read them from) and, for the
student who asks, the dashboard's address as the student reached it, the student's name and token.

Only a student's own token gets a file, and the file holds that token and no other: a view or
control token is refused (it would put a link that cannot be revoked, or the teacher's, on a
laptop), a missing or revoked one gets the API's 401. The token comes as the API takes it
(`Authorization: Bearer`, or `?token=`); the name is the token's, never a parameter.
"""

from __future__ import annotations

import ast
import functools
from importlib import import_module
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from agent.trace import labfacts
from lab.errors import Problem
from lab.messages import MESSAGES

from .auth import STUDENT, Access, token_from

tracer_file = Blueprint("tracer_file", __name__)

FILE_NAME = "socketlab_trace.py"
PACKAGE = "_socketlab_trace"  # the modules' package inside the file (no student's module is called so)
MODULES = ("facts", "tracer", "unpack", "tsocket", "running", "onefile")  # after labfacts, each after those it imports

_HEAD = '''#!/usr/bin/env python3
"""Socket Lab's tracer, for {name}: run your program with it and the class's dashboard shows its socket calls.

    python3 {file} my_server.py        (Windows PowerShell: py {file} my_server.py)

Your program runs as `python3 my_server.py` would run it; its calls go to {dashboard} under your name.
This file holds your own token: keep it to yourself. Python 3.8 or later, nothing to install.
"""
import linecache
import os
import sys
import types

DASHBOARD = {dashboard!r}
NAME = {name!r}
TOKEN = {token!r}
PACKAGE = {package!r}
SOURCES = {{
'''

_TAIL = '''}


def _load():
    """The modules above, as the package PACKAGE (their frames named after this file, so the tracer
    leaves them out of your program's tracebacks)."""
    package = types.ModuleType(PACKAGE)
    package.__path__ = []
    sys.modules[PACKAGE] = package
    base = os.path.abspath(__file__) + os.sep
    for name, source in SOURCES.items():
        module = types.ModuleType(PACKAGE + "." + name)
        module.__file__ = base + name + ".py"
        module.__package__ = PACKAGE
        sys.modules[module.__name__] = module
        linecache.cache[module.__file__] = (len(source), None, source.splitlines(True), module.__file__)
        exec(compile(source, module.__file__, "exec", dont_inherit=True), module.__dict__)
        setattr(package, name, module)
    return sys.modules[PACKAGE + ".onefile"]


if __name__ == "__main__":
    sys.exit(_load().main(sys.argv[1:], DASHBOARD, NAME, TOKEN))
'''


def labfacts_source() -> str:
    """labfacts.py's values, as literals (each checked to read back as itself)."""
    lines = ['"""The lab\'s values the tracer uses, as the dashboard that made this file has them."""', ""]
    for name in labfacts.__all__:
        value = getattr(labfacts, name)
        text = repr(value)
        if ast.literal_eval(text) != value:
            raise ValueError(f"labfacts.{name} is not a plain value: the one-file tracer cannot carry it")
        lines.append(f"{name} = {text}")
    return "\n".join(lines) + "\n"


@functools.lru_cache(maxsize=1)
def sources() -> tuple[tuple[str, str], ...]:
    """(module, source) of each module the file carries, in the order they are loaded."""
    found = [("labfacts", labfacts_source())]
    for name in MODULES:
        module = import_module(f"agent.trace.{name}")
        found.append((name, Path(str(module.__file__)).read_text(encoding="utf-8")))
    return tuple(found)


def bundle(dashboard: str, name: str, token: str) -> str:
    """socketlab_trace.py for the student `name`, posting to `dashboard` with `token`."""
    parts = [_HEAD.format(name=name, file=FILE_NAME, dashboard=dashboard, token=token, package=PACKAGE)]
    parts += [f"    {module!r}: {_literal(source)},\n" for module, source in sources()]
    parts.append(_TAIL)
    return "".join(parts)


RAW_QUOTES = "'" * 3


def _literal(source: str) -> str:
    """`source` as a string literal a reader reads as code: a raw triple-quoted string where it can be
    one (no three single quotes in it, no backslash at its end, no carriage return), else repr()."""
    if RAW_QUOTES not in source and not source.endswith("\\") and "\r" not in source:
        return f"r{RAW_QUOTES}{source}{RAW_QUOTES}"
    return repr(source)


def _refused(status: int, code: str) -> tuple[Response, int]:
    return jsonify(error=MESSAGES[code] if status == 401 else Problem(code, {}).sentence, code=code, params={}), status


@tracer_file.get("/trace.py")
def trace_file() -> Any:
    access: Access = current_app.config["ACCESS"]
    token = token_from(request.headers, request.args)
    role = access.role(token, request.remote_addr)
    if role is None:
        return _refused(401, access.refusal_code(request.remote_addr))
    name = access.student(token) if role == STUDENT else None
    if name is None or token is None:
        return _refused(403, "trace-file-for-students")
    text = bundle(request.host_url.rstrip("/"), name, token)
    answer = Response(text, mimetype="text/x-python")
    answer.headers["Content-Disposition"] = f'attachment; filename="{FILE_NAME}"'
    answer.headers["Cache-Control"] = "no-store"  # (it holds a token: no cache keeps a copy)
    return answer
