"""A check's state, as data: what the page, the board and the results show for one check of one student."""

from __future__ import annotations

from typing import Any, NamedTuple

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
