"""The REST API of shared/CONTRACT.md: thin routes from JSON to lab methods and back.

Every error a user can cause is a 4xx with {"error": sentence}; nothing here ever answers with
a traceback.
"""

from __future__ import annotations

import io
import json
import logging
import math
import re
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, send_file
from werkzeug.exceptions import HTTPException

from lab import BadInput, Forbidden, LabError, NotFound, Refused, TooLarge
from lab.errors import Problem
from lab.events.bus import JSON_FIELDS, READ_BYTES
from lab.events.kinds import kinds_json
from lab.lessons.registry import LESSONS
from lab.messages import MESSAGES
from lab.sockets import servermodes

from .auth import CONTROL, READ_METHODS, STUDENT, Access, token_from
from lab.client import Labs
from .pcap import pcap_response

log = logging.getLogger(__name__)
api = Blueprint("api", __name__, url_prefix="/api")

# Each error: its HTTP status and the stable "code" of its body (CONTRACT), which pages and scripts
# branch on, never on the sentence.
ERRORS: dict[type[LabError], tuple[int, str]] = {
    BadInput: (400, "bad-input"), Forbidden: (403, "forbidden"), NotFound: (404, "not-found"),
    Refused: (409, "refused"), TooLarge: (413, "too-large"),
}
HTTP_ERRORS = {  # Werkzeug's own refusals, before any route runs: status -> code (sentence: lab/messages.py)
    400: "bad-input", 404: "no-such-route", 405: "method-not-allowed", 413: "too-large",
}


def labs() -> Labs:
    labs_: Labs = current_app.extensions["socketlab_labs"]
    return labs_


def on(item_id: str, op: str, **args: Any) -> Any:
    """Run a command on the lab that holds `item_id` (an endpoint or a download)."""
    return labs().for_id(item_id).call(op, {"id": item_id, **args})


def body() -> Any:
    """The JSON body; a BadInput sentence when it is missing or not JSON."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise BadInput("no-body")
    try:
        # NaN, Infinity and 1e999 are not JSON numbers: refused here, because a lab agent's transport
        # (orjson) would turn them into null, and null means "the default" (a loss of Infinity became 0)
        # and a whole number past 64 bits is refused for the same transport: orjson cannot write it
        data = json.loads(raw, parse_constant=_not_a_number, parse_float=_finite, parse_int=_whole)
    except RecursionError:  # (the json module recurses once per nesting level)
        raise BadInput("json-too-deep") from None
    except ValueError:
        data = None
    if data is None:
        raise BadInput("invalid-json")
    return data


def _not_a_number(text: str) -> float:
    raise ValueError(f"{text} is not a JSON number")


WHOLE_RANGE = (-2**63, 2**63 - 1)  # what orjson (Redis entries, agents' commands) and every lab field can hold


def _whole(text: str) -> int:
    """A JSON integer within 64 bits, else BadInput with a sentence (never int() of 5,000 digits)."""
    low, high = WHOLE_RANGE
    if len(text.lstrip("-")) <= 19:
        value = int(text)
        if low <= value <= high:
            return value
    shown = text if len(text) <= 24 else text[:20] + "..."
    raise BadInput("number-too-large", value=shown, low=low, high=high)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


# Who may do what beyond reading (webapp/auth.py): anyone may read health and join with the code; a
# student's own token may also name its address and post its own traced program's events; only the
# controller may read the students' list or act on it, and only a student or the controller may name
# an address (names are then bounded by joins, which are bounded: webapp/join.py). The exercise results as
# a CSV (every student's address, a file to keep) are the controller's too: webapp/exercises.py.
OPEN_ROUTES = {("GET", "/api/health"), ("POST", "/api/join")}
NAMING_ONESELF = "/api/names/me"
CONTROL_ONLY = re.compile(r"/api/students(/.*)?|/api/exercise/results\.csv")
TRACE_POST = re.compile(r"/api/traces/([^/]+)/events")


@api.before_request
def check_access() -> Any:
    if (request.method, request.path) in OPEN_ROUTES:
        g.role = None
        return None
    access: Access = current_app.config["ACCESS"]
    token = token_from(request.headers, request.args)
    role = access.role(token, request.remote_addr)
    if role is None:
        code = access.refusal_code(request.remote_addr)
        return jsonify(error=MESSAGES[code], code=code, params={}), 401
    g.role, g.student = role, access.student(token) if role == STUDENT else None
    if role == CONTROL:
        return None
    if CONTROL_ONLY.fullmatch(request.path):
        return _refuse("control-only")
    if request.method in READ_METHODS:
        return None
    if role == STUDENT:
        if request.path == NAMING_ONESELF:
            return None
        trace = TRACE_POST.fullmatch(request.path)
        if trace and request.method == "POST":
            if trace.group(1) == g.student:
                return None
            return _refuse("student-other-trace", name=g.student)
        return _refuse("student-only")
    return _refuse("view-only")


def _refuse(code: str, **params: Any) -> tuple[Response, int]:
    return jsonify(error=Problem(code, params).sentence, code=code, params=params), 403


@api.errorhandler(LabError)
def lab_error(exc: LabError) -> tuple[Response, int]:
    # `code` names exactly what went wrong (lab/messages.py; the page words it from code and params);
    # `category` is the coarse code of the status (bad-input, not-found, refused, ...), for scripts that branch on it.
    if exc.code == "unexpected":  # a bug in an agent's lab, answered by the agent (agent/inbox.py)
        return _unexpected_answer()
    status, category = ERRORS.get(type(exc), (400, "bad-input"))
    return jsonify(error=str(exc), code=exc.code, params=exc.params, category=category), status


@api.app_errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Any:
    if not request.path.startswith("/api"):
        return exc  # the page and static files keep Flask's own answers
    code = exc.code or 400
    name = HTTP_ERRORS.get(code, "bad-input")
    return jsonify(error=MESSAGES[name], code=name, params={}, category=name), code


@api.errorhandler(Exception)
def unexpected(exc: Exception) -> Any:
    # A programmer's error: it crashes loudly in tests; in use it is logged with its traceback for
    # us, and answered 500 with a sentence that tells the user nothing of the code (the lab goes on).
    if isinstance(exc, HTTPException):  # Flask asks the blueprint's Exception handler first
        return http_error(exc)
    if current_app.testing:
        raise exc
    log.exception("unexpected error in %s %s", request.method, request.path)
    return _unexpected_answer()


def _unexpected_answer() -> tuple[Response, int]:
    return jsonify(error=MESSAGES["unexpected"], code="unexpected", params={}, category="unexpected"), 500


def guarded(blueprint: Blueprint) -> Blueprint:
    """`blueprint` (another module's routes under /api) with this one's access rules and error answers."""
    blueprint.before_request(check_access)
    blueprint.register_error_handler(LabError, lab_error)
    blueprint.register_error_handler(Exception, unexpected)
    return blueprint


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadInput("query-not-a-whole-number", field=name, value=raw[:40]) from None
    if not low <= value <= high:
        raise BadInput("number-out-of-range", field=name, low=low, high=high)
    return value


@api.get("/health")
def health() -> Response:
    return jsonify(status="ok")


@api.get("/session")
def session() -> Response:
    """Who the caller is, so the page can hide controls from viewers, plus the lab's limits and
    registries (the event kinds, an event's fields: the page lists none by hand)."""
    return jsonify(role=g.role, **({"student": g.student} if g.get("student") else {}),
                   boot=current_app.config["BOOT"], sandbox=bool(current_app.config.get("SANDBOX")),
                   **labs().session(),  # limits, allow, bind, agents
                   **wire_session(),  # "capture", "impair_tcp", "why_not" (CONTRACT "The wire")
                   kinds=kinds_json(), event_fields=JSON_FIELDS, lessons=[lesson.summary() for lesson in LESSONS.values()],
                   **servermodes.session_info())  # + "modes" and "framings"


def wire_session() -> dict[str, Any]:
    """What the labs can do on the wire: the first lab that captures, else the first lab's reasons
    (a dashboard over agents asks each one up; with none up, nothing is possible yet)."""
    statuses = []
    for client in labs().all():
        try:
            statuses.append(client.call("wire.status"))
        except LabError:
            continue  # an agent that went down meanwhile: the others answer
    if not statuses:
        return {"capture": False, "impair_tcp": False, "why_not": {"capture": "no-agent-up", "impair_tcp": "no-agent-up"}}
    status: dict[str, Any] = next((s for s in statuses if s.get("capture")), statuses[0])
    return status


@api.get("/capture.pcap")
def capture_pcap() -> Response:
    """The captured packets as a pcap file (of one endpoint with ?endpoint=<id>), for Wireshark and tshark."""
    endpoint = request.args.get("endpoint")
    if endpoint:
        return pcap_response(lambda: on(endpoint, "capture.pcap", endpoint=endpoint))
    client, _ = labs().for_new({"agent": request.args["agent"]} if "agent" in request.args else {})
    return pcap_response(lambda: client.call("capture.pcap"))


@api.get("/stats")
def stats() -> Response:
    relay = current_app.extensions["socketlab_relay"]
    labs_ = [client.call("stats") for client in labs().all()]
    return jsonify(events=labs().bus.last_seq, suppressed=sum(x["suppressed"] for x in labs_),
                   relay_batches=relay.batches, relay_skipped=relay.skipped,
                   endpoints=sum(x["endpoints"] for x in labs_),
                   downloads_running=sum(x["downloads_running"] for x in labs_),
                   stuck_threads=sum(x.get("stuck_threads", 0) for x in labs_),  # threads a close gave up on
                   connections=current_app.extensions["socketlab_conns"].snapshot(),  # refused/closed, conns.py
                   skipped_entries=getattr(getattr(labs(), "hub", None), "skipped", 0),  # hostile stream entries
                   capture=next((x["capture"] for x in labs_ if x.get("capture")), None))  # lab/wire/ counts


@api.get("/agents")
def agents() -> Response:
    """The lab agents, and the programs traced straight to this dashboard (webapp/traces.py)."""
    listed = labs().agents()
    desk = current_app.extensions.get("socketlab_traces")
    if desk is not None:
        taken = {a["name"] for a in listed}
        listed += [p for p in desk.listed() if p["name"] not in taken]
    return jsonify(sorted(listed, key=lambda a: a["name"]))


@api.get("/endpoints")
def list_endpoints() -> Response:
    return jsonify([ep for client in labs().all() for ep in client.call("endpoints.list")])


@api.post("/endpoints")
def create_endpoint() -> tuple[Response, int]:
    client, spec = labs().for_new(body())
    return jsonify(client.call("endpoints.create", {"body": spec})), 201


@api.get("/endpoints/<ep_id>")
def get_endpoint(ep_id: str) -> Response:
    return jsonify(on(ep_id, "endpoints.get"))


@api.delete("/endpoints/<ep_id>")
def delete_endpoint(ep_id: str) -> Response:
    return jsonify(on(ep_id, "endpoints.remove"))


@api.get("/endpoints/<ep_id>/code")
def endpoint_code(ep_id: str) -> Response:
    """The plain-Python socket program that does what this endpoint does."""
    return jsonify(on(ep_id, "endpoints.code"))


@api.post("/endpoints/<ep_id>/stop-listening")
def stop_listening(ep_id: str) -> Response:
    return jsonify(on(ep_id, "endpoints.stop_listening"))


@api.delete("/endpoints/<ep_id>/connections/<conn_id>")
def close_connection(ep_id: str, conn_id: str) -> Response:
    return jsonify(on(ep_id, "endpoints.close_connection", conn=conn_id))


@api.post("/endpoints/<ep_id>/send")
def send(ep_id: str) -> Response:
    return jsonify(on(ep_id, "endpoints.send", body=body()))


@api.post("/downloads")
def start_download() -> tuple[Response, int]:
    client, asked = labs().for_new(body())
    return jsonify(client.call("downloads.start", {"body": asked})), 202


@api.get("/downloads")
def list_downloads() -> Response:
    return jsonify([d for client in labs().all() for d in client.call("downloads.list")])


@api.get("/downloads/<dl_id>")
def get_download(dl_id: str) -> Response:
    return jsonify(on(dl_id, "downloads.get"))


@api.delete("/downloads/<dl_id>")
def delete_download(dl_id: str) -> Response:
    return jsonify(on(dl_id, "downloads.remove"))


@api.get("/downloads/<dl_id>/code")
def download_code(dl_id: str) -> Response:
    return jsonify(on(dl_id, "downloads.code"))


@api.get("/downloads/<dl_id>/file")
def download_file(dl_id: str) -> Response:
    name, saved = labs().for_id(dl_id).file(dl_id)
    return send_file(saved if isinstance(saved, Path) else io.BytesIO(saved), as_attachment=True, download_name=name)


@api.get("/files")
def list_files() -> Response:
    client, _ = labs().for_new({"agent": request.args["agent"]} if "agent" in request.args else {})
    return jsonify(client.call("files.list"))


@api.get("/events")
def events() -> Response:
    """Events after `after`, oldest first. `boot` names this dashboard's run: a page that saw another
    (the dashboard restarted; with agents, their streams still hold what happened) sends `resume`, the
    last agent_seq it has of each agent and that event's ts, and gets the events past those, each
    exactly once. An agent that restarted meanwhile numbers from 1 again, later in time: an event is
    old only when its number AND its time are not past the page's (as the page's own cursor judges)."""
    bus = labs().bus
    after = _int_arg("after", 0, 0, 2**62)
    limit = _int_arg("limit", 1000, 1, 10_000)
    resume = _resume_arg()
    found, dropped = bus.since(after, limit, READ_BYTES)
    last = found[-1].seq if found else bus.last_seq
    # cut short by its bytes (READ_BYTES) rather than by `limit`: the reader asks again after `last`
    more = 0 < len(found) < limit and last < bus.last_seq
    shown = [e.to_json() for e in found]
    if resume:
        shown = [e for e in shown if not _shown_before(e, resume)]
    return jsonify(events=shown, last=last, dropped=dropped, more=more, boot=current_app.config["BOOT"])


def _shown_before(event: dict[str, Any], resume: dict[str, tuple[int, float]]) -> bool:
    seen = resume.get(event.get("agent"))  # type: ignore[arg-type]
    if seen is None or event.get("agent_seq") is None:
        return False
    return bool(event["agent_seq"] <= seen[0] and not event.get("ts", 0) > seen[1])


def _resume_arg() -> dict[str, tuple[int, float]]:
    """{agent: [agent_seq, ts]} (or {agent: agent_seq}, as older pages send: any time)."""
    raw = request.args.get("resume")
    if not raw:
        return {}
    try:
        given = json.loads(raw[:20_000])
    except ValueError:
        raise BadInput("invalid-json") from None
    example = '{"pc1": [1234, 1764553200.5]}'
    if not isinstance(given, dict):
        raise BadInput("not-an-object", example=example)
    resume: dict[str, tuple[int, float]] = {}
    for name, seen in given.items():
        if isinstance(seen, int) and not isinstance(seen, bool):
            resume[name] = (seen, float("inf"))
        elif (isinstance(seen, list) and len(seen) == 2 and isinstance(seen[0], int)
              and isinstance(seen[1], (int, float)) and not any(isinstance(x, bool) for x in seen)):
            resume[name] = (seen[0], float(seen[1]))
        else:
            raise BadInput("not-an-object", example=example)
    return resume
