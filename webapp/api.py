"""The REST API of shared/CONTRACT.md: thin routes from JSON to lab methods and back.

Every error a user can cause is a 4xx with {"error": sentence}; nothing here ever answers with
a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, send_file
from werkzeug.exceptions import HTTPException

from lab import BadInput, Forbidden, Lab, LabError, NotFound, Refused, TooLarge
from lab.codegen import program_for, program_for_download
from lab.errors import Problem
from lab.kinds import kinds_json
from lab.lessons import LESSONS
from lab.stage import Stage
from lab.messages import MESSAGES
from lab import servermodes
from lab.spec import DownloadRequest

from .auth import READ_METHODS, VIEW, Access, token_from
from .join import join_info, qr_svg

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


def lab() -> Lab:
    lab_: Lab = current_app.extensions["socketlab"]
    return lab_


def body() -> Any:
    """The JSON body; a BadInput sentence when it is missing or not JSON."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise BadInput("no-body")
    try:
        data = request.get_json(force=True, silent=True)
    except RecursionError:  # (the json module recurses once per nesting level)
        raise BadInput("json-too-deep") from None
    if data is None:
        raise BadInput("invalid-json")
    return data


# Who may skip a rule: anyone may read health and trade the short code for the view link; a viewer
# may name itself (a name is not an action on the lab).
OPEN_ROUTES = {("GET", "/api/health"), ("POST", "/api/join")}
VIEWER_WRITES = {"/api/names/me"}


@api.before_request
def check_access() -> Any:
    if (request.method, request.path) in OPEN_ROUTES:
        g.role = None
        return None
    access: Access = current_app.config["ACCESS"]
    role = access.role(token_from(request.headers, request.args), request.remote_addr)
    if role is None:
        code = access.refusal_code(request.remote_addr)
        return jsonify(error=MESSAGES[code], code=code, params={}), 401
    if role == VIEW and request.method not in READ_METHODS and request.path not in VIEWER_WRITES:
        return jsonify(error=MESSAGES["view-only"], code="view-only", params={}), 403
    g.role = role
    return None


@api.errorhandler(LabError)
def lab_error(exc: LabError) -> tuple[Response, int]:
    # `code` names exactly what went wrong (lab/messages.py; the page words it from code and params);
    # `category` keeps the coarse code this body carried before issue 11, for scripts that branch on it.
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
    # us, never shown to the user, and answered 409 (not 500) because the lab itself goes on.
    if isinstance(exc, HTTPException):  # Flask asks the blueprint's Exception handler first
        return http_error(exc)
    if current_app.testing:
        raise exc
    log.exception("unexpected error in %s %s", request.method, request.path)
    params = {"error": type(exc).__name__}
    return jsonify(error=Problem("unexpected", params).sentence, code="unexpected", params=params), 409


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
    registries (the event kinds: the page lists none by hand)."""
    the_lab = lab()
    return jsonify(role=g.role, limits=vars(the_lab.ctx.limits), allow=the_lab.ctx.targets.described,
                   bind=the_lab.ctx.binds.described,
                   kinds=kinds_json(), lessons=[lesson.summary() for lesson in LESSONS.values()],
                   **servermodes.session_info())  # + "modes" and "framings"


def stage() -> Stage:
    stage_: Stage = current_app.extensions["socketlab_stage"]
    return stage_


@api.get("/stage")
def get_stage() -> Response:
    return jsonify(stage().to_json())


@api.post("/stage")
def new_stage() -> tuple[Response, int]:
    """Close every endpoint, begin the next stage for every page, build its lesson (lab/stage.py)."""
    return jsonify(stage().begin(body())), 201


@api.post("/stage/actions/<key>")
def stage_action(key: str) -> Response:
    raw = request.get_data(cache=True)
    the_stage, result = stage().act(key, body() if raw.strip() else None)
    return jsonify(stage=the_stage, result=result)


@api.put("/stage/teacher")
def stage_teacher() -> Response:
    return jsonify(stage().set_teacher(body()))


# -- joining the class: names, the short code, the QR code (webapp/join.py) ----------------------

def _name_body() -> Any:
    data = body()
    if not isinstance(data, dict) or set(data) != {"name"}:
        raise BadInput("not-an-object", example='{"name": "Ann"}')
    return data["name"]


@api.get("/names")
def list_names() -> Response:
    return jsonify(stage().to_json()["names"])


@api.put("/names/me")
def name_me() -> Response:
    """A student names the address its requests (and its socket programs) come from."""
    return jsonify(stage().set_name(request.remote_addr, _name_body()))


@api.delete("/names/me")
def unname_me() -> Response:
    return jsonify(stage().set_name(request.remote_addr, None))


@api.put("/names/<address>")
def rename(address: str) -> Response:
    return jsonify(stage().set_name(address, _name_body(), limited=False))


@api.delete("/names/<address>")
def unname(address: str) -> Response:
    return jsonify(stage().set_name(address, None, limited=False))


def _join_info() -> dict[str, Any]:
    port = current_app.config.get("DASHBOARD_PORT") or request.host.rpartition(":")[2]
    return join_info(current_app.config["ACCESS"], current_app.config["DASHBOARD_BIND"],
                     int(port) if str(port).isdigit() else 80, current_app.extensions["socketlab_join"].code)


@api.get("/join")
def join() -> Response:
    """What the Join panel shows: the dashboard's addresses, the view link, the short link and code."""
    return jsonify(_join_info())


@api.get("/join/qr.svg")
def join_qr() -> Response:
    return Response(qr_svg(_join_info()["view_url"]), mimetype="image/svg+xml",
                    headers={"Cache-Control": "no-store"})


@api.post("/join")
def join_with_code() -> Response:
    """Trade the short code for the view token (no token needed; wrong codes are rate-limited)."""
    data = body()
    if not isinstance(data, dict) or "code" not in data:
        raise BadInput("not-an-object", example='{"code": "K7Q2XM"}')
    token = current_app.extensions["socketlab_join"].trade(request.remote_addr or "", data["code"],
                                                           current_app.config["ACCESS"])
    return jsonify(token=token, url="/" + (f"?token={token}" if token else ""))


@api.get("/stats")
def stats() -> Response:
    the_lab = lab()
    relay = current_app.extensions["socketlab_relay"]
    return jsonify(events=the_lab.bus.last_seq, suppressed=the_lab.bus.suppressed, relay_batches=relay.batches,
                   relay_skipped=relay.skipped, endpoints=len(the_lab.endpoints),
                   downloads_running=sum(d.state == "running" for d in list(the_lab.downloads.values())),
                   connections=current_app.extensions["socketlab_conns"].snapshot())  # refused/closed, conns.py


@api.get("/endpoints")
def list_endpoints() -> Response:
    return jsonify([e.to_json() for e in list(lab().endpoints.values())])


@api.post("/endpoints")
def create_endpoint() -> tuple[Response, int]:
    return jsonify(lab().create(body()).to_json()), 201


@api.get("/endpoints/<ep_id>")
def get_endpoint(ep_id: str) -> Response:
    return jsonify(lab().endpoint(ep_id).to_json())


@api.delete("/endpoints/<ep_id>")
def delete_endpoint(ep_id: str) -> Response:
    lab().remove(ep_id)
    return jsonify(deleted=ep_id)


@api.get("/endpoints/<ep_id>/code")
def endpoint_code(ep_id: str) -> Response:
    """The plain-Python socket program that does what this endpoint does."""
    endpoint = lab().endpoint(ep_id)
    address = endpoint.local if endpoint.kind.endswith("server") else endpoint.remote
    assert address is not None  # a server is bound, and a client knows its target, once made
    return jsonify(python=program_for(endpoint.spec, address, endpoint.id))


@api.post("/endpoints/<ep_id>/stop-listening")
def stop_listening(ep_id: str) -> Response:
    return jsonify(lab().stop_listening(ep_id).to_json())


@api.delete("/endpoints/<ep_id>/connections/<conn_id>")
def close_connection(ep_id: str, conn_id: str) -> Response:
    lab().close_connection(ep_id, conn_id)
    return jsonify(closed=conn_id)


@api.post("/endpoints/<ep_id>/send")
def send(ep_id: str) -> Response:
    return jsonify(lab().send(ep_id, body()))


@api.post("/downloads")
def start_download() -> tuple[Response, int]:
    return jsonify(lab().start_download(body()).to_json()), 202


@api.get("/downloads")
def list_downloads() -> Response:
    return jsonify([d.to_json() for d in list(lab().downloads.values())])


@api.get("/downloads/<dl_id>")
def get_download(dl_id: str) -> Response:
    return jsonify(lab().download(dl_id).to_json())


@api.delete("/downloads/<dl_id>")
def delete_download(dl_id: str) -> Response:
    lab().remove_download(dl_id)
    return jsonify(deleted=dl_id)


@api.get("/downloads/<dl_id>/code")
def download_code(dl_id: str) -> Response:
    download = lab().download(dl_id)
    asked = DownloadRequest(download.host, download.port, download.file, download.protocol)
    return jsonify(python=program_for_download(asked, download.id))


@api.get("/downloads/<dl_id>/file")
def download_file(dl_id: str) -> Response:
    path = lab().download_path(dl_id)
    return send_file(path, as_attachment=True, download_name=path.name)


@api.get("/files")
def list_files() -> Response:
    return jsonify(lab().files.listing())


@api.get("/events")
def events() -> Response:
    bus = lab().bus
    after = _int_arg("after", 0, 0, 2**62)
    limit = _int_arg("limit", 1000, 1, 10_000)
    found, dropped = bus.since(after, limit)
    last = found[-1].seq if found else bus.last_seq
    return jsonify(events=[e.to_json() for e in found], last=last, dropped=dropped)
