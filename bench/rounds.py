"""What every benchmark decides the same way: paired, interleaved rounds, their median, and a goal.

A shared machine's load moves from one second to the next (a plain echo server alone measured 17,000 to
120,000 round trips a second within an hour), so a benchmark never compares one run of the lab with one
run of its baseline. Both take turns, round after round, each pair in turn order (baseline first, then
the lab first: neither side always meets the machine warmer), and the row's pass figure is the median
of the rounds' figures. The best round stays printed beside it: it says what the code can do when the
machine lets it, the median what a user can count on. Nothing here measures: these are pure functions
over the figures the rounds gave, so tests can check them with tables.
"""

from __future__ import annotations

import math
import os
import statistics
from dataclasses import dataclass
from typing import Any, Callable, Sequence, TypeVar

T = TypeVar("T")

#: `make bench-quick` (SOCKETLAB_BENCH_QUICK=1): fewer, shorter rounds, to see every row run in minutes.
#: Its figures are not the row's: the page says a run was quick.
QUICK = os.environ.get("SOCKETLAB_BENCH_QUICK", "") not in ("", "0")


def span(full: T, quick: T) -> T:
    """A duration or a count of rounds: `full` in a real run, `quick` under `make bench-quick`."""
    return quick if QUICK else full


@dataclass(frozen=True)
class Goal:
    """A row's goal: its figure at least (or at most) `limit`, in `unit` ("x" for a ratio, "ms", ...)."""

    limit: float
    at_least: bool
    unit: str = "x"

    def met(self, figure: float) -> bool:
        """Whether `figure` meets the goal; a figure that was never measured (NaN) meets nothing."""
        if math.isnan(figure):
            return False
        return figure >= self.limit if self.at_least else figure <= self.limit

    @property
    def text(self) -> str:
        sign = ">=" if self.at_least else "<="
        unit = self.unit if self.unit == "x" else f" {self.unit}"
        return f"{sign} {self.limit:g}{unit}"


def at_least(limit: float, unit: str = "x") -> Goal:
    return Goal(limit, True, unit)


def at_most(limit: float, unit: str = "ms") -> Goal:
    return Goal(limit, False, unit)


@dataclass(frozen=True)
class Rounds:
    """The figures of a row's rounds (one per pair: a ratio, or a latency), and the goal they are for."""

    figures: tuple[float, ...]
    goal: Goal

    @property
    def median(self) -> float:
        """The pass figure. With an even count, the mean of the two middle rounds (statistics.median)."""
        return statistics.median(self.figures) if self.figures else float("nan")

    @property
    def best(self) -> float:
        """The round the machine disturbed least: the highest of a goal to reach, the lowest of a limit."""
        if not self.figures:
            return float("nan")
        return max(self.figures) if self.goal.at_least else min(self.figures)

    @property
    def met(self) -> bool:
        return self.goal.met(self.median)

    def text(self, digits: int = 2) -> str:
        """'0.81x (median of 5 paired rounds, 0.62-0.95; best 0.95x)': the pass figure first."""
        if not self.figures:
            return "not measured"
        unit = self.goal.unit if self.goal.unit == "x" else f" {self.goal.unit}"
        low, high = min(self.figures), max(self.figures)
        if len(self.figures) == 1:
            return f"{self.median:.{digits}f}{unit} (one paired round)"
        return (f"{self.median:.{digits}f}{unit} (median of {len(self.figures)} paired rounds, "
                f"{low:.{digits}f}-{high:.{digits}f}; best {self.best:.{digits}f}{unit})")

    def figures_json(self) -> dict[str, Any]:
        """What results.json keeps of the rounds (bench/report.py shows it as the pass figure)."""
        return {"median": self.median, "best": self.best, "rounds": list(self.figures), "unit": self.goal.unit,
                "goal": self.goal.text, "met": self.met}


def ratios(lab: Sequence[float], baseline: Sequence[float]) -> tuple[float, ...]:
    """Each round's ratio of the lab to its baseline, pair by pair (a round without a pair is an error)."""
    if len(lab) != len(baseline):
        raise ValueError(f"{len(lab)} rounds of the lab against {len(baseline)} of its baseline")
    return tuple(a / b for a, b in zip(lab, baseline, strict=True))


def in_turns(sides: Sequence[Callable[[], T]], pairs: int) -> list[list[T]]:
    """Run the sides (the baseline first) `pairs` times, interleaved, the order rotated one place each
    round (two sides: the baseline first, then the lab first, and so on); each side's figures in round order."""
    figures: list[list[T]] = [[] for _ in sides]
    for i in range(pairs):
        for k in range(len(sides)):
            side = (i + k) % len(sides)
            figures[side].append(sides[side]())
    return figures


def turn_order(sides: int, pairs: int) -> list[list[int]]:
    """The order in_turns runs the sides in, round by round (what a test or a reader checks)."""
    return [[(i + k) % sides for k in range(sides)] for i in range(pairs)]
