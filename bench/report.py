"""`python -m bench.report`: write docs/performance.md from bench/results.json (no benchmark is run).

`python -m bench` calls `write()` after every run, so the page always shows the last run's figures;
nobody edits the page by hand (tests/test_docs.py compares it with what `render()` makes). What the
figures mean, and why the misses miss, is prose that changes with the code, not with a run: it lives
in bench/notes.md and is copied in below the table.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
NOTES = ROOT / "bench" / "notes.md"
PAGE = ROOT / "docs" / "performance.md"


def cell(text: str) -> str:
    """A table cell: one line, with the column separator escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def ratio(figures: dict[str, Any]) -> str:
    """The row's headline ratio against its baseline, when it has one (the raw download's for row 1)."""
    value = figures.get("raw_ratio", figures.get("ratio"))
    return f"{value:.2f}x" if isinstance(value, (int, float)) else "-"


def baseline(figures: dict[str, Any]) -> str:
    """What the row was measured against, in the same run: the benchmarks keep it under these figures."""
    given = figures.get("baseline")
    if isinstance(given, str):
        return given
    if (rate := plain_echo_rate(figures)) is not None:
        return f"plain threaded echo server, {rate:,.0f} round trips/s"
    if figures.get("busy") and figures.get("plain_rps"):
        return (f"plain threaded echo server beside the same spinning process, "
                f"{statistics.median(figures['plain_rps']):,.0f} round trips/s")
    if figures.get("plain_MiBps"):
        return f"plain sendfile->recv_into copy, best {max(figures['plain_MiBps']):.0f} MiB/s"
    if figures.get("off_MiBps"):
        return f"capture off, best {max(figures['off_MiBps']):.0f} MiB/s"
    if figures.get("plain_s"):
        return f"the same program untraced, {min(figures['plain_s']) * 1e6:.1f} us a round trip"
    if isinstance(given, dict) and "p50_ms" in given:
        return f"no attack: p50 {given['p50_ms']} / max {given.get('max_ms', '?')} ms"
    if isinstance(figures.get("baseline_ms"), dict):
        return f"no idle clients: p50 {figures['baseline_ms']['p50']:.1f} ms"
    return "-"


def pass_figure(figures: dict[str, Any]) -> str:
    """The figure the row's goal is decided on: the median of its paired rounds, the best round beside it."""
    paired = figures.get("paired")
    if not isinstance(paired, dict) or not isinstance(paired.get("median"), (int, float)):
        return "-"
    unit = paired.get("unit", "x")
    digits, unit = (2, "x") if unit == "x" else (0, f" {unit}")
    rounds = paired.get("rounds") or []
    return (f"{paired['median']:.{digits}f}{unit} (median of {len(rounds)}; best "
            f"{paired['best']:.{digits}f}{unit})")


def plain_echo_rate(figures: dict[str, Any]) -> float | None:
    """The plain echo server's round trips a second in this row (rows 2 and 12), if it ran one on an
    otherwise unloaded machine (row 17 runs it beside a spinning process on purpose: no pulse there)."""
    if figures.get("busy"):
        return None
    if isinstance(figures.get("plain_rps_median"), (int, float)):
        return float(figures["plain_rps_median"])
    if figures.get("plain_rps"):
        return float(statistics.median(figures["plain_rps"]))
    return None


def machine(run: dict[str, Any]) -> list[str]:
    """The state of the machine during the run, as far as results.json recorded it."""
    lines = [f"- When: {run.get('date') or 'not recorded'}; the whole run took {run.get('seconds', '?')} s."]
    lines.append(f"- Machine: {run.get('machine') or 'not recorded'}; {run.get('cores') or '?'} cores.")
    load = run.get("load")
    if isinstance(load, dict):
        said = "; ".join(f"{when} {' / '.join(f'{x:.2f}' for x in values)}" for when, values in load.items())
        lines.append(f"- Load average (1 / 5 / 15 min): {said}.")
    else:
        lines.append("- Load average: not recorded.")
    rates = [(r["number"], rate) for r in run["results"] if (rate := plain_echo_rate(r.get("figures", {}))) is not None]
    if rates:
        said = ", ".join(f"{rate:,.0f} round trips/s (row {n})" for n, rate in rates)
        lines.append(f"- The plain echo server (a baseline, and the machine's pulse): {said}.")
    else:
        lines.append("- The plain echo server (the machine's pulse): not run (rows 2 and 12 measure it).")
    if run.get("quick"):
        lines.append("- A quick run (`make bench-quick`): fewer, shorter rounds; its figures only show that every row runs.")
    met = sum(1 for r in run["results"] if r["met"])
    lines.append(f"- Goals met: {met} of {len(run['results'])} rows; each row decides against its goal in its "
                 "own code, on the median of its paired, interleaved rounds where it has rounds.")
    return lines


def render(run: dict[str, Any], notes: str) -> str:
    """The whole page, from one results.json and the notes."""
    out = [
        "# Performance",
        "",
        "<!-- Generated by `python -m bench.report` from bench/results.json and bench/notes.md: do not edit by hand. -->",
        "",
        "`make bench` (`python -m bench`, or `python -m bench 2 12` for some rows) runs the benchmarks against",
        "the dashboard started with the production gunicorn command, writes `bench/results.json` and then this",
        "page. `python -m bench.report` rewrites the page from an existing `bench/results.json` without running",
        "anything. Ratios are against a baseline measured in the same run, because shared machines are noisy:",
        "the lab and its baseline take turns, round after round, and the pass figure is the median of the",
        "rounds (the best round beside it). `make bench-quick` runs fewer, shorter rounds.",
        "The tests never time anything: these figures live only in `bench/`.",
        "",
        "## The run",
        "",
        *machine(run),
    ]
    if run.get("note"):
        out += ["", cell(run["note"])]
    out += ["", "| # | what | measured | baseline | ratio | pass figure | goal | met |", "|---|---|---|---|---|---|---|---|"]
    for r in run["results"]:
        figures = r.get("figures", {})
        out.append(f"| {r['number']} | {cell(r['what'])} | {cell(r['measured'])} | {cell(baseline(figures))} | "
                   f"{ratio(figures)} | {cell(pass_figure(figures))} | {cell(r['target'])} | {'met' if r['met'] else 'MISSED'} |")
    out += ["", notes.strip(), ""]
    return "\n".join(out)


def write(results: Path = RESULTS, page: Path = PAGE) -> Path:
    run = json.loads(results.read_text(encoding="utf-8"))
    page.write_text(render(run, NOTES.read_text(encoding="utf-8")), encoding="utf-8")
    return page


def main() -> int:
    if not RESULTS.exists():
        print(f"{RESULTS.relative_to(ROOT)} does not exist: run `make bench` first.", file=sys.stderr)
        return 2
    print(f"written {write().relative_to(ROOT)} from {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
