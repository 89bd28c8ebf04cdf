"""The exercises' routes under /api: the registry (GET /api/exercises) and the class's results, computed by
the checker (lab/exercises/checker.py) and never posted. Starting and ending an exercise is the stage's
(POST /api/stage {"exercise": key}: webapp/classroom.py).

Who reads what: anyone who may read the API reads the exercises and the results as JSON (a student's page
shows their own row, the class board is projected to the room anyway); the CSV, the class's results with
their addresses as a file to keep, is the teacher's (control only: webapp/api.py)."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from lab.exercises.checker import Checker
from lab.exercises.registry import EXERCISES, REASONS

from .api import guarded

routes = guarded(Blueprint("exercises", __name__, url_prefix="/api"))

CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet runs as a formula (as the page's CSV: recording.js)


def checker() -> Checker:
    checker_: Checker = current_app.extensions["socketlab_checker"]
    return checker_


@routes.get("/exercises")
def list_exercises() -> Response:
    """Each exercise as the registry says it, with the sentences a failed check's `reason` may give, in both
    languages (the page fills their {placeholders} from a row's params)."""
    return jsonify([{**e.summary(), "reasons": REASONS} for e in EXERCISES.values()])


@routes.get("/exercise/results")
def results() -> Response:
    return jsonify(checker().results())


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(CSV_FORMULA) else text


def _when(ts: Any) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if isinstance(ts, (int, float)) else ""


@routes.get("/exercise/results.csv")
def results_csv() -> Response:
    """name, address, exercise, then each check's state and when it first passed (UTC), one row a student."""
    found = checker().results()
    key = found["exercise"]
    codes = [c.code for c in EXERCISES[key].checks] if key in EXERCISES else []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["name", "address", "exercise", *(f"{code}{part}" for code in codes for part in ("", " first passed"))])
    for row in found["students"]:
        checks, passed_at = row.get("checks") or {}, row.get("passed_at") or {}
        writer.writerow([_cell(row.get("name")), _cell(row.get("address")), _cell(key),
                         *(cell for code in codes for cell in (_cell(checks.get(code, "pending")),
                                                                _when(passed_at.get(code))))])
    name = f"socketlab-{key or 'exercise'}-results.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
