"""The classroom's routes under /api: the stage (lab/stage.py), the students' names, and joining the
class (the short code, the QR code and the students' own tokens, webapp/join.py). A blueprint of its
own, registered by create_app; the access rules and error answers of webapp/api.py apply."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from lab import BadInput
from lab.names import clean_address
from lab.stage import Stage

from .api import body, guarded
from .auth import CONTROL, STUDENT
from .join import JoinDesk, Students, join_info, qr_svg


routes = guarded(Blueprint("classroom", __name__, url_prefix="/api"))


def stage() -> Stage:
    stage_: Stage = current_app.extensions["socketlab_stage"]
    return stage_


@routes.get("/stage")
def get_stage() -> Response:
    return jsonify(stage().to_json())


@routes.post("/stage")
def new_stage() -> tuple[Response, int]:
    """Close every endpoint, begin the next stage for every page, build its lesson or run its exercise
    (lab/stage.py); an exercise's servers listen where the lessons' do (every address, for a class)."""
    return jsonify(stage().begin(body(), host=current_app.config["LESSON_HOST"])), 201


@routes.post("/stage/actions/<key>")
def stage_action(key: str) -> Response:
    raw = request.get_data(cache=True)
    the_stage, result = stage().act(key, body() if raw.strip() else None)
    return jsonify(stage=the_stage, result=result)


@routes.put("/stage/teacher")
def stage_teacher() -> Response:
    return jsonify(stage().set_teacher(body()))


# -- joining the class: names, the short code, the QR code (webapp/join.py) ----------------------

def _name_body() -> Any:
    data = body()
    if not isinstance(data, dict) or set(data) != {"name"}:
        raise BadInput("not-an-object", example='{"name": "Ann"}')
    return data["name"]


@routes.get("/names")
def list_names() -> Response:
    return jsonify(stage().to_json()["names"])


@routes.put("/names/me")
def name_me() -> Response:
    """A student names the address its requests (and its socket programs) come from."""
    return jsonify(stage().set_name(request.remote_addr, _name_body()))


@routes.delete("/names/me")
def unname_me() -> Response:
    return jsonify(stage().set_name(request.remote_addr, None))


@routes.put("/names/<address>")
def rename(address: str) -> Response:
    return jsonify(stage().set_name(address, _name_body(), limited=False))


@routes.delete("/names/<address>")
def unname(address: str) -> Response:
    return jsonify(stage().set_name(address, None, limited=False))


def desk() -> JoinDesk:
    desk_: JoinDesk = current_app.extensions["socketlab_join"]
    return desk_


def students() -> Students:
    students_: Students = current_app.extensions["socketlab_students"]
    return students_


def _join_info() -> dict[str, Any]:
    port = current_app.config.get("DASHBOARD_PORT") or request.host.rpartition(":")[2]
    info = join_info(current_app.config["ACCESS"], current_app.config["DASHBOARD_BIND"],
                     int(port) if str(port).isdigit() else 80, desk().code, with_view=g.get("role") != STUDENT)
    if g.get("role") == CONTROL:
        info.update(desk().to_json())  # when and why the code last changed, the wrong codes counted
    return info


@routes.get("/join")
def join() -> Response:
    """What the Join panel shows: the dashboard's addresses, the short link and code, the view link
    (not to a student). The panel asks again every few seconds, so a new code shows at once."""
    return jsonify(_join_info())


@routes.get("/join/qr.svg")
def join_qr() -> Response:
    return Response(qr_svg(_join_info()["join_url"]), mimetype="image/svg+xml",
                    headers={"Cache-Control": "no-store"})


@routes.post("/join/code")
def new_join_code() -> Response:
    """The teacher's "New code": the old code stops working at once."""
    desk().rotate()
    return jsonify(_join_info())


@routes.post("/join")
def join_with_code() -> Response:
    """Trade the short code for a token of this student's own (no token needed; guessing is bounded:
    webapp/join.py). With a name, the student's address is named too; the name also gives the
    student's own name (its traced programs' name), in letters a URL takes."""
    data = body()
    if not isinstance(data, dict) or "code" not in data or not set(data) <= {"code", "name"}:
        raise BadInput("not-an-object", example='{"code": "K7Q2XM", "name": "Ann"}')
    address = request.remote_addr or ""
    desk().check(address, data["code"])
    given = data.get("name")
    if given is not None and not (isinstance(given, str) and not given.strip()):
        students().has_room(address)  # (before the name is given: a full class names nobody)
        names = stage().set_name(address, given, limited=False)  # its sentences (BadInput, Refused) are the answer
        shown = names.get(clean_address(address), given.strip() if isinstance(given, str) else None)
    else:
        shown = None
    if not current_app.config["ACCESS"].required:  # loopback only: this machine needs no token at all
        return jsonify(token=None, url="/", **({"shown": shown} if shown else {}))
    student, token = students().add(address, shown)
    return jsonify(token=token, url=f"/?token={token}", name=student.name, **({"shown": shown} if shown else {}))


@routes.get("/students")
def list_students() -> Response:
    """Every student who joined (control only: webapp/api.py): name, address, when joined, revoked."""
    return jsonify(students().listed())


@routes.delete("/students/<name>")
def revoke_student(name: str) -> Response:
    """Refuse this student's token from now on: 401 at its next request; its live connection is
    closed within a second (webapp/live.py)."""
    return jsonify(students().revoke(name).to_json())
