"""A stand-in for the exercises' web routes, for a dashboard that does not have them yet.

The page's tests speak the real API (CONTRACT "Exercises"): GET /api/exercises, POST /api/stage
{"exercise": key}, GET /api/exercise/results, the stage's "exercise", and `exercise` events on the
dashboard's bus, one student's row each. Where the dashboard serves those routes itself, install()
does nothing and the tests run against it. Where it does not, install() adds them from the registry
(lab/exercises/registry.py) so the page can be tested before the backend lands: the stage object
gains "exercise" (every snapshot: GET, `stage` and `classroom` events) and POST /api/stage takes
{"exercise"}. Rows come only from events, as the checker records them; the results list is empty.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from lab.exercises.registry import EXERCISES, REASONS


def has_routes(app: Any) -> bool:
    return any(rule.rule == "/api/exercises" for rule in app.url_map.iter_rules())


def summaries() -> list[dict[str, Any]]:
    """GET /api/exercises as the registry makes it: each summary with the REASONS its checks can give."""
    return [{**e.summary(), "reasons": REASONS} for e in EXERCISES.values()]


# What the lab serves for each exercise it serves (the stage's "exercise": servers, file), as the lab's
# side would say it; the ports are made up (nothing listens there: only the page reads them).
SERVES = {"client": ("tcp", "greet"), "downloader": ("tcp", "file"), "file-request": ("tcp", "files"),
          "line-reader": ("tcp", "lines"), "udp-retry": ("udp", "questions")}


def where(key: str, host: str) -> dict[str, Any]:
    exercise = EXERCISES[key]
    served = SERVES.get(exercise.key)
    servers = [{"proto": served[0], "host": host, "port": 9100 + exercise.n, "role": served[1]}] if served else []
    file = {"name": "lab-file.bin", "size": 65536, "sha256": "5e" * 32} if key == "downloader" else None
    return {"key": exercise.key, "servers": servers, "file": file}


def install(app: Any) -> None:
    """The routes, on an app that has not handled a request yet and lacks them; else nothing."""
    if has_routes(app):
        return
    stage = app.extensions["socketlab_stage"]
    running: dict[str, Any] = {"exercise": None}
    snapshot, begin = stage._snapshot, stage.begin

    def snapshot_with_exercise() -> dict[str, Any]:
        return {**snapshot(), "exercise": running["exercise"]}

    def begin_with_exercise(body: Any) -> dict[str, Any]:
        rest = dict(body) if isinstance(body, dict) else body
        key = rest.pop("exercise", None) if isinstance(rest, dict) else None
        running["exercise"] = None if key is None else where(key, str(app.config.get("DASHBOARD_BIND") or "127.0.0.1"))
        return begin(rest)  # type: ignore[no-any-return]

    stage._snapshot = snapshot_with_exercise
    stage.begin = begin_with_exercise
    routes = Blueprint("exercise_shim", __name__, url_prefix="/api")

    @routes.get("/exercises")
    def exercises() -> Any:
        return jsonify(summaries())

    @routes.get("/exercise/results")
    def results() -> Any:
        about = running["exercise"]
        return jsonify({"exercise": about["key"] if about else None, "students": []})

    app.register_blueprint(routes)
