"""bench/report.py: the performance page made from a results.json (a fixture here, as `python -m bench`
writes one), never by hand: the machine's state, the pass figure of each row, and met or missed."""

from __future__ import annotations

import json
from pathlib import Path

from bench import report
from bench.rounds import Rounds, at_least, at_most

RUN = {
    "date": "2026-12-07 03:00 UTC", "machine": "Linux-6.1-x86_64", "cores": 2, "seconds": 840.0, "quick": False,
    "load": {"before": [0.25, 0.5, 0.75], "after": [1.0, 0.5, 0.25]},
    "results": [
        {"number": 2, "what": "echo", "measured": "0.65x ...", "target": ">= 0.6x, median of paired rounds", "met": True,
         "figures": {"ratio": 0.65, "plain_rps": [120000.0, 100000.0, 110000.0], "plain_rps_median": 110000.0,
                     "paired": Rounds((0.65, 0.6, 0.7), at_least(0.6)).figures_json()}},
        {"number": 17, "what": "busy echo", "measured": "0.80x ...", "target": ">= 0.87x", "met": False,
         "figures": {"ratio": 0.8, "busy": True, "plain_rps": [40000.0, 42000.0, 41000.0], "plain_rps_median": 41000.0,
                     "paired": Rounds((0.8, 0.9, 0.7), at_least(0.87)).figures_json()}},
        {"number": 18, "what": "health", "measured": "p99 12 ms", "target": "p99 and max <= 100 ms", "met": True,
         "figures": {"baseline": "nothing running: p99 3 ms, max 5 ms",
                     "paired": Rounds((40.0, 35.0, 60.0), at_most(100, "ms")).figures_json()}},
        {"number": 6, "what": "startup", "measured": "0.44 s", "target": "<= 1.5 s", "met": True, "figures": {}},
    ],
}


def page(tmp_path: Path, run: dict[str, object]) -> str:
    results = tmp_path / "results.json"
    results.write_text(json.dumps(run))
    return report.write(results, tmp_path / "performance.md").read_text(encoding="utf-8")


def test_each_row_shows_its_pass_figure_its_goal_and_whether_it_met_it(tmp_path: Path) -> None:
    made = page(tmp_path, RUN)
    assert ("| 2 | echo | 0.65x ... | plain threaded echo server, 110,000 round trips/s | 0.65x | "
            "0.65x (median of 3; best 0.70x) | >= 0.6x, median of paired rounds | met |") in made
    assert ("| 17 | busy echo | 0.80x ... | plain threaded echo server beside the same spinning process, "
            "41,000 round trips/s | 0.80x | 0.80x (median of 3; best 0.90x) | >= 0.87x | MISSED |") in made
    assert ("| 18 | health | p99 12 ms | nothing running: p99 3 ms, max 5 ms | - | 40 ms (median of 3; best 35 ms) | "
            "p99 and max <= 100 ms | met |") in made
    assert "| 6 | startup | 0.44 s | - | - | - | <= 1.5 s | met |" in made


def test_the_page_says_the_machine_s_state_with_the_plain_server_s_pulse(tmp_path: Path) -> None:
    made = page(tmp_path, RUN)
    assert "2 cores" in made and "the whole run took 840.0 s" in made
    assert "before 0.25 / 0.50 / 0.75; after 1.00 / 0.50 / 0.25" in made
    # the busy row's plain server runs beside a spinning process on purpose: it is not the machine's pulse
    assert "The plain echo server (a baseline, and the machine's pulse): 110,000 round trips/s (row 2)." in made
    assert "Goals met: 3 of 4 rows" in made
    assert "A quick run" not in made


def test_a_quick_run_says_so_and_a_run_without_the_echo_rows_says_the_pulse_was_not_taken(tmp_path: Path) -> None:
    run = {**RUN, "quick": True, "results": [r for r in RUN["results"] if r["number"] != 2]}  # type: ignore[attr-defined]
    made = page(tmp_path, run)
    assert "A quick run (`make bench-quick`)" in made
    assert "The plain echo server (the machine's pulse): not run" in made
    assert "Goals met: 2 of 3 rows" in made


def test_a_run_recorded_before_the_rounds_still_renders(tmp_path: Path) -> None:
    old = {"date": None, "results": [{"number": 3, "what": "delivery", "measured": "p99 20 ms", "target": "p99 <= 250 ms",
                                      "met": True, "figures": {"p99_ms": 20}}]}
    made = page(tmp_path, old)
    assert "| 3 | delivery | p99 20 ms | - | - | - | p99 <= 250 ms | met |" in made
    assert "Load average: not recorded." in made
