"""A check's state, as data: what the page, the board and the results show for one check of one student."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from .registry import Exercise

PASS, FAIL, PENDING = "pass", "fail", "pending"  # (CONTRACT: GET /api/exercise/results)


class Result(NamedTuple):
    """One check's state: `code` the check's (registry.py), `state` pass | fail | pending; a failure names
    what was seen as a `reason` (registry.py REASONS) with the values of its sentence."""

    code: str
    state: str
    reason: str | None = None
    params: dict[str, Any] = {}

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "state": self.state, "reason": self.reason, "params": self.params}


def passed(code: str) -> Result:
    return Result(code, PASS)


def failed(code: str, reason: str, /, **params: Any) -> Result:
    return Result(code, FAIL, reason, params)


def pending(code: str) -> Result:
    return Result(code, PENDING)


def every_check(exercise: Exercise, *found: Mapping[str, Result]) -> dict[str, Result]:
    """Each of `exercise`'s checks in the registry's order: its result from the first of `found` that has one
    (the trace's, the peer's, a lab server's), else pending. What a student's row shows, whatever side said it."""
    return {c.code: next((part[c.code] for part in found if c.code in part), pending(c.code)) for c in exercise.checks}


def row(results: Mapping[str, Result]) -> dict[str, Any]:
    """A student's checks as GET /api/exercise/results lists them: each check's state, and the codes of the
    failed ones, whose hints the page shows in the reader's language."""
    return {"checks": {code: r.state for code, r in results.items()},
            "hints": [code for code, r in results.items() if r.state == FAIL]}
