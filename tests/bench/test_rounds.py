"""The benchmarks' pure parts: paired rounds, their median, and the decision against a goal. Nothing is timed
here: the figures are tables, as the rounds would give them."""

from __future__ import annotations

import math

import pytest

from bench.b16_viewers import decide as hall_decision
from bench.b2_echo import fast_enough
from bench.b3_delivery import decide as delivery_decision
from bench.b8_agents import delivery
from bench.rounds import Goal, Rounds, at_least, at_most, in_turns, ratios, turn_order


@pytest.mark.parametrize(("figures", "median", "best"), [
    ((0.5, 0.9, 0.7), 0.7, 0.9),
    ((0.9, 0.5, 0.7, 0.6), 0.65, 0.9),  # an even count: the mean of the two middle rounds
    ((1.2,), 1.2, 1.2),
])
def test_the_pass_figure_is_the_median_and_the_best_round_stays_beside_it(
        figures: tuple[float, ...], median: float, best: float) -> None:
    rounds = Rounds(figures, at_least(0.6))
    assert rounds.median == pytest.approx(median)
    assert rounds.best == best


def test_the_best_round_of_a_limit_is_its_lowest() -> None:
    rounds = Rounds((120.0, 80.0, 300.0), at_most(250, "ms"))
    assert rounds.best == 80.0 and rounds.median == 120.0 and rounds.met


@pytest.mark.parametrize(("goal", "figure", "met"), [
    (at_least(0.6), 0.6, True), (at_least(0.6), 0.59, False), (at_least(0.87), 0.9, True),
    (at_most(100, "ms"), 100.0, True), (at_most(100, "ms"), 100.5, False), (at_most(250, "ms"), 12.0, True),
    (at_least(0.6), math.nan, False), (at_most(100, "ms"), math.nan, False),  # never measured: never met
    (at_most(100, "ms"), math.inf, False),  # a probe that failed
])
def test_a_goal_decides_met_or_missed(goal: Goal, figure: float, met: bool) -> None:
    assert goal.met(figure) is met


def test_one_lucky_round_does_not_meet_a_goal_the_median_misses() -> None:
    rounds = Rounds((0.41, 0.99, 0.52, 0.48, 0.55), at_least(0.6))
    assert rounds.best == 0.99 and not rounds.met
    assert rounds.text() == "0.52x (median of 5 paired rounds, 0.41-0.99; best 0.99x)"


def test_the_goals_say_themselves() -> None:
    assert at_least(0.6).text == ">= 0.6x"
    assert at_most(100, "ms").text == "<= 100 ms"
    assert Rounds((80.0, 95.0, 120.0), at_most(100, "ms")).text(0) == "95 ms (median of 3 paired rounds, 80-120; best 80 ms)"
    assert Rounds((), at_least(0.6)).text() == "not measured" and not Rounds((), at_least(0.6)).met
    assert Rounds((1.62,), at_least(0.9)).text() == "1.62x (one paired round)"


def test_the_rounds_are_kept_for_the_page() -> None:
    kept = Rounds((0.7, 0.5, 0.9), at_least(0.6)).figures_json()
    assert kept == {"median": 0.7, "best": 0.9, "rounds": [0.7, 0.5, 0.9], "unit": "x", "goal": ">= 0.6x", "met": True}


def test_ratios_pair_round_by_round() -> None:
    assert ratios([50.0, 90.0], [100.0, 100.0]) == (0.5, 0.9)
    with pytest.raises(ValueError, match="3 rounds of the lab against 2"):
        ratios([1.0, 2.0, 3.0], [1.0, 2.0])


def test_the_sides_take_turns_and_neither_always_goes_first() -> None:
    assert turn_order(2, 4) == [[0, 1], [1, 0], [0, 1], [1, 0]]
    assert turn_order(3, 3) == [[0, 1, 2], [1, 2, 0], [2, 0, 1]]
    ran: list[str] = []

    def side(name: str) -> object:
        def measure() -> str:
            ran.append(name)
            return f"{name}{sum(1 for r in ran if r == name)}"
        return measure

    baseline, lab = in_turns([side("plain"), side("lab")], 3)
    assert ran == ["plain", "lab", "lab", "plain", "plain", "lab"]
    assert baseline == ["plain1", "plain2", "plain3"] and lab == ["lab1", "lab2", "lab3"]


def _viewer(p99: float, events: int = 100, gaps: int = 0) -> dict[str, object]:
    return {"events": events, "gaps": gaps, "latency_ms": {"n": events, "p50": p99 / 2, "p99": p99, "max": p99 * 2}}


def test_delivery_to_viewers_is_decided_on_the_median_round_against_the_bare_app() -> None:
    lab = [[_viewer(40), _viewer(300)], [_viewer(90)], [_viewer(120)]]  # worst client per round: 300, 90, 120
    bare = [[_viewer(100)], [_viewer(60)], [_viewer(60)]]
    made = [100, 100, 100]
    row = delivery_decision(lab, made, bare, rss_before=50.0, rss_after=60.0, endpoint={"kernel_drops": 0})
    assert row.met and row.figures["paired"]["median"] == 120 and row.figures["paired"]["best"] == 90
    assert row.figures["ratio"] == 2.0  # rounds: 3.0, 1.5, 2.0
    assert "120 ms (median of 3 paired rounds" in row.measured and "2.00x (median of 3" in row.measured
    slow = [[_viewer(300)], [_viewer(260)], [_viewer(90)]]
    assert not delivery_decision(slow, made, bare, 50.0, 60.0, {"kernel_drops": 0}).met
    leaky = [[_viewer(40)], [_viewer(40, events=50)], [_viewer(40)]]  # half of a round, untold
    assert not delivery_decision(leaky, made, bare, 50.0, 60.0, {"kernel_drops": 0}).met
    told = [[_viewer(40, events=50, gaps=50)]] * 3  # the same half, each drop counted for the viewer
    assert delivery_decision(told, made, bare, 50.0, 60.0, {"kernel_drops": 0}).met
    assert not delivery_decision(lab, made, bare, 50.0, 200.0, {"kernel_drops": 0}).met  # memory grew by 150 MB


def _load(p99s: list[float], embedded: list[float], missing: int = 0) -> dict[str, object]:
    return {"agents": 20, "rate": 200, "seconds": 20, "viewers": 10, "missing": missing, "duplicated": 0,
            "backwards": 0, "recorded": 1000, "p50_ms": 10.0, "max_ms": max(p99s) * 2,
            "p99_ms_rounds": p99s, "embedded_p99_ms_rounds": embedded}


def test_the_agents_delivery_is_decided_on_the_median_round_and_set_against_the_embedded_lab() -> None:
    row = delivery(8, _load([40.0, 172.0, 45.0], [20.0, 40.0, 30.0]))
    assert row.met and row.figures["paired"]["median"] == 45.0
    assert row.figures["ratio"] == 2.0  # rounds: 2.0, 4.3, 1.5
    assert not delivery(8, _load([40.0, 45.0, 46.0], [20.0, 20.0, 20.0], missing=1)).met
    assert not delivery(8, _load([60.0, 45.0, 51.0], [20.0, 20.0, 20.0])).met
    assert delivery(9, _load([200.0, 240.0, 900.0], [50.0, 60.0, 70.0]), at_most(250, "ms")).met


def test_the_echo_goal_counts_only_against_a_fast_plain_server() -> None:
    assert fast_enough(120_000.0) == (True, "")
    fast, why = fast_enough(17_000.0)
    assert not fast and "17,000 round trips/s, under the 100,000" in why


def _phase(p99: float, viewers: int = 200, missing: int = 0, dropped: int = 0) -> dict[str, object]:
    return {"viewers": viewers, "recorded": 1000, "missing": missing, "duplicated": 0, "dropped": dropped,
            "p50_ms": p99 / 3, "p99_ms": p99, "max_ms": p99 * 2, "command_p99_ms": 20.0, "commands": 100,
            "commands_failed": 0, "cpu_seconds": {}, "rss_before_mb": [60.0], "rss_after_mb": [70.0],
            "load_average": [1.0, 2.0], "per_viewer": []}


def test_the_lecture_hall_is_decided_on_its_median_round_against_one_dashboard_alone() -> None:
    single = {"admitted": 80, "refusal": {"status": 503, "code": "too-many-websockets"}, "health_with_viewers": 200,
              "per_viewer_kib": 125.0}
    alone = [_phase(50.0, 67), _phase(100.0, 67), _phase(40.0, 67)]
    row = hall_decision(single, [67, 67, 66], alone, [_phase(100.0), _phase(400.0), _phase(200.0)])
    assert row.met and row.figures["paired"]["median"] == 200.0 and row.figures["ratio"] == 4.0  # 2, 4, 5
    assert not hall_decision(single, [67, 67, 66], alone, [_phase(300.0), _phase(260.0), _phase(200.0)]).met
    lost = [_phase(100.0), _phase(100.0, missing=5, dropped=2), _phase(100.0)]  # 3 events lost untold
    assert not hall_decision(single, [67, 67, 66], alone, lost).met
    assert hall_decision(single, [67, 67, 66], alone, [_phase(100.0), _phase(100.0, missing=5, dropped=5), _phase(100.0)]).met
