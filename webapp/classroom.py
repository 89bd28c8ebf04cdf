"""The classroom's routes on the API blueprint: the stage (lab/stage.py), the students' names, and
joining the class (the short code and the QR code, webapp/join.py). Registered by importing this
module before the blueprint is (webapp/__init__.py); the access rules of webapp/api.py apply."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request

from lab import BadInput
from lab.stage import Stage

from .api import api, body
from .join import join_info, qr_svg


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
