"""What a dashboard may ask of a lab, as one table: a name, JSON arguments in, JSON out.

The REST API speaks to a lab only through these commands, so an in-process lab (lab/client.py
LocalClient) and a lab agent on another host (agent/, over Redis Streams) answer the same questions
the same way. A LabError crosses as data (`error_json`) and is raised again, the same class with
the same code and params, on the other side (`raise_error`): a student reads the same sentence
whichever lab said no.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, Callable

from . import errors
from .codegen.programs import program_for, program_for_download
from .sockets.endpoint import stuck_threads
from .sockets.handlers import seen_by
from .errors import BadInput, LabError, NotFound, TooLarge
from .lessons.registry import lesson as lesson_numbered
from .spec import DownloadRequest

if TYPE_CHECKING:
    from .core import Lab

Args = dict[str, Any]
MAX_FILE_BYTES = 32 << 20  # a saved download fetched through a command (Redis holds it whole, once)
ERROR_TYPES: dict[str, type[LabError]] = {cls.__name__: cls for cls in (
    errors.BadInput, errors.Forbidden, errors.NotFound, errors.Refused, errors.TooLarge)}


def _text(args: Args, name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value or len(value) > 200:
        raise BadInput("not-a-string", field=name, type=type(value).__name__)
    return value


def _number(args: Args, name: str) -> int:
    value = args.get(name)
    if type(value) is not int:
        raise BadInput("not-a-number", field=name, value=str(value)[:20])
    return value


def _endpoint_code(lab: Lab, args: Args) -> dict[str, str]:
    endpoint = lab.endpoint(_text(args, "id"))
    address = endpoint.local if endpoint.kind.endswith("server") else endpoint.remote
    assert address is not None  # a server is bound, and a client knows its target, once made
    return {"python": program_for(endpoint.spec, address, endpoint.id)}


def _download_code(lab: Lab, args: Args) -> dict[str, str]:
    download = lab.download(_text(args, "id"))
    asked = DownloadRequest(download.host, download.port, download.file, download.protocol)
    return {"python": program_for_download(asked, download.id)}


def _download_file(lab: Lab, args: Args) -> dict[str, Any]:
    path = lab.download_path(_text(args, "id"))
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise TooLarge("download-too-large-to-fetch", size=size, limit=MAX_FILE_BYTES)
    return {"name": path.name, "data_b64": base64.b64encode(path.read_bytes()).decode()}


def _capture_pcap(lab: Lab, args: Args) -> dict[str, Any]:
    """The pcap as base64, so it crosses Redis like any answer (the ring holds a few MB at most)."""
    endpoint = args.get("endpoint")
    data = lab.capture_pcap(None if endpoint is None else _text(args, "endpoint"))
    return {"name": f"socketlab-{endpoint or 'all'}.pcap", "data_b64": base64.b64encode(data).decode()}


def _lesson_build(lab: Lab, args: Args) -> dict[str, Any]:
    return lesson_numbered(args.get("n")).build(lab)._asdict()


def _lesson_act(lab: Lab, args: Args) -> dict[str, Any]:
    lesson = lesson_numbered(args.get("n"))
    key = _text(args, "key")
    action = next((a for a in lesson.actions if a.key == key), None)
    if action is None:
        raise NotFound("no-such-action", lesson=lesson.n, action=key[:40],
                       actions=", ".join(a.key for a in lesson.actions))
    ids = args.get("ids")
    if not isinstance(ids, dict):
        raise BadInput("not-an-object", example='{"ids": {"server": "e1"}}')
    result = action.run(lab, ids, args.get("body"))  # (actions note what they make in `ids`)
    return {"ids": ids, "result": result}


def _removed(lab: Lab, ep_id: str) -> dict[str, str]:
    lab.remove(ep_id)
    return {"deleted": ep_id}


def _download_removed(lab: Lab, dl_id: str) -> dict[str, str]:
    lab.remove_download(dl_id)
    return {"deleted": dl_id}


def _closed(lab: Lab, args: Args) -> dict[str, str]:
    conn = _text(args, "conn")
    lab.close_connection(_text(args, "id"), conn)
    return {"closed": conn}


COMMANDS: dict[str, Callable[[Lab, Args], Any]] = {
    "endpoints.list": lambda lab, a: [e.to_json() for e in list(lab.endpoints.values())],
    "endpoints.create": lambda lab, a: lab.create(a.get("body")).to_json(),
    "endpoints.get": lambda lab, a: lab.endpoint(_text(a, "id")).to_json(),
    "endpoints.remove": lambda lab, a: _removed(lab, _text(a, "id")),
    "endpoints.code": _endpoint_code,
    "endpoints.stop_listening": lambda lab, a: lab.stop_listening(_text(a, "id")).to_json(),
    "endpoints.close_connection": _closed,
    "endpoints.send": lambda lab, a: lab.send(_text(a, "id"), a.get("body")),
    "downloads.start": lambda lab, a: lab.start_download(a.get("body")).to_json(),
    "downloads.list": lambda lab, a: [d.to_json() for d in list(lab.downloads.values())],
    "downloads.get": lambda lab, a: lab.download(_text(a, "id")).to_json(),
    "downloads.remove": lambda lab, a: _download_removed(lab, _text(a, "id")),
    "downloads.code": _download_code,
    "downloads.file": _download_file,
    "files.list": lambda lab, a: lab.files.listing(),
    # an exercise's own servers (lab/exercises/serving.py): its seeded file, and what a server saw of its clients
    "files.generate": lambda lab, a: lab.files.generate(_text(a, "name"), _number(a, "size"), _number(a, "seed")),
    "exercise.seen": lambda lab, a: seen_by(lab.endpoint(_text(a, "id"))),
    # "last": the newest seq of the lab's events once the clear is over (its closes among them): a
    # dashboard over an agent begins the new stage only after it has relayed them (webapp/agents.py)
    "stage.clear": lambda lab, a: {"closed": lab.clear(), "last": lab.bus.last_seq},
    "lesson.build": _lesson_build,
    "lesson.act": _lesson_act,
    "wire.status": lambda lab, a: lab.wire_status(),
    "capture.pcap": _capture_pcap,
    "stats": lambda lab, a: {"events": lab.bus.last_seq, "suppressed": lab.bus.suppressed,
                             "capture": lab.capture.stats() if lab.capture is not None else None,
                             "endpoints": len(lab.endpoints),
                             "downloads_running": sum(d.state == "running" for d in list(lab.downloads.values())),
                             "stuck_threads": len(stuck_threads())},  # (of the lab's process: endpoint.join)
}


def run(lab: Lab, op: str, args: Args | None = None) -> Any:
    """Run one command; a LabError (a sentence for the user) propagates, anything else is a bug."""
    command = COMMANDS.get(op)
    if command is None:
        raise NotFound("no-such-command", command=str(op)[:60])
    return command(lab, args or {})


def error_json(exc: LabError) -> dict[str, Any]:
    return {"error": str(exc), "code": exc.code, "params": exc.params, "type": type(exc).__name__}


def raise_error(body: Any) -> None:
    """Raise the LabError a command's answer carries (the same class, code and params)."""
    if not isinstance(body, dict):
        raise TypeError("an error answer is an object")
    cls = ERROR_TYPES.get(str(body.get("type")), errors.Refused)
    given = body.get("params")
    params: dict[str, Any] = given if isinstance(given, dict) else {}
    try:
        raise cls(str(body.get("code")), **params)
    except (KeyError, TypeError):  # a code or params this dashboard does not know (another version)
        raise cls("agent-error", reason=str(body.get("error", "?"))[:300]) from None
