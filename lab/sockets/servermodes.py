"""The one registry of server modes, after socketserver's handler classes.

A mode is a small class registered by name: which server kinds take it, which framings it allows,
the spec fields it reads and which of them it needs. lab/spec.py checks a spec against this table,
and GET /api/session lists it. What a server in a mode does lives with the connections it handles
(lab/sockets/handlers.py), and what its generated program says with the code generator
(lab/codegen/modes.py); both are keyed by the names in this table, and a test fails when a mode
lacks either. This module imports nothing of the lab, so everything may read it.
"""

from __future__ import annotations

from typing import Any, ClassVar

FRAMINGS = ("raw", "line", "length")
SERVER_KINDS = ("tcp-server", "udp-server")


class Mode:
    """What a mode allows. The classes are the table: nothing is made of them."""

    name: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]] = SERVER_KINDS
    framings: ClassVar[tuple[str, ...]] = FRAMINGS  # a mode with its own byte protocol allows "raw" only
    fields: ClassVar[tuple[str, ...]] = ("rules",)  # the spec fields it reads, beside kind, host, port, framing...
    needs: ClassVar[dict[str, str]] = {}  # a field it cannot run without -> the code of the sentence refusing its absence
    request_seconds: ClassVar[float | None] = None  # a client must finish its request within this, or is closed


REGISTRY: dict[str, type[Mode]] = {}


def register(mode: type[Mode]) -> type[Mode]:
    """Add a mode to the registry (a class decorator); a name is registered once."""
    if mode.name in REGISTRY:
        raise ValueError(f"mode {mode.name!r} is registered already")
    REGISTRY[mode.name] = mode
    return mode


def unregister(name: str) -> None:
    del REGISTRY[name]


def modes_for(kind: str) -> tuple[str, ...]:
    return tuple(name for name, mode in REGISTRY.items() if kind in mode.kinds)


def server_fields() -> tuple[str, ...]:
    """Every mode-specific field any mode reads, in registration order (a spec may carry any of them)."""
    seen: dict[str, None] = {}
    for mode in REGISTRY.values():
        seen.update(dict.fromkeys(mode.fields))
    return tuple(seen)


def session_info() -> dict[str, Any]:
    """What GET /api/session says: the modes of each server kind, and the framings of each mode."""
    return {"modes": {kind: list(modes_for(kind)) for kind in SERVER_KINDS},
            "framings": {name: list(mode.framings) for name, mode in REGISTRY.items()}}


# -- the modes ---------------------------------------------------------------------------------------

@register
class Echo(Mode):
    name = "echo"


@register
class Reply(Mode):
    name = "reply"
    fields = ("reply", "rules")


@register
class Manual(Mode):
    name = "manual"


class ByteMode(Mode):
    """A mode that speaks its own protocol on the stream: no message framing, no rules."""

    kinds = ("tcp-server",)
    framings: ClassVar[tuple[str, ...]] = ("raw",)
    fields: ClassVar[tuple[str, ...]] = ()


@register
class File(ByteMode):
    name = "file"
    fields = ("file", "protocol")
    needs = {"file": "file-mode-needs-file"}


@register
class Files(ByteMode):
    name = "files"
    fields = ("protocol",)


@register
class Relay(Mode):
    name = "relay"
    kinds = ("tcp-server",)


@register
class Http(ByteMode):
    name = "http"
    request_seconds = 10.0  # as real web servers do: a silent client must not hold a slot


# -- the modes of the exercises' own servers (lab/exercises/serving.py) ------------------------------

@register
class Greet(ByteMode):
    name = "greet"


@register
class Lines(ByteMode):
    name = "lines"
