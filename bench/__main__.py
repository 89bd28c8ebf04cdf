"""`python -m bench [1 2 ...]`: run the benchmarks, print the table, write bench/results.json and, from it,
docs/performance.md (bench/report.py). With SOCKETLAB_BENCH_QUICK=1 (`make bench-quick`) every row runs
fewer, shorter rounds (bench/rounds.py): a check that all run, not the figures to publish."""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from dataclasses import asdict

from . import report, rounds
from .common import ROOT, Result

BENCHES = {1: "b1_download", 2: "b2_echo", 3: "b3_delivery", 4: "b4_flood", 5: "b5_page", 6: "b6_startup",
           7: "b7_idle", 8: "b8_agents", 9: "b9_agents_wide", 10: "b10_agent_commands", 11: "b11_agent_death",
           12: "b12_agent_echo", 13: "b13_trace", 14: "b14_capture", 15: "b15_idle_conns",
           16: "b16_viewers", 17: "b17_busy_echo", 18: "b18_busy_health",
           19: "b19_class"}


def main() -> int:
    chosen = [int(a) for a in sys.argv[1:]] or list(BENCHES)
    results: list[Result] = []
    load_before = os.getloadavg()
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    started = time.monotonic()
    for number in chosen:
        module = importlib.import_module(f"bench.{BENCHES[number]}")
        t0 = time.monotonic()
        result: Result = module.run()
        result.figures["seconds"] = round(time.monotonic() - t0, 1)
        results.append(result)
        print(f"{result.number}  {'met ' if result.met else 'MISS'}  {result.what}: {result.measured} (target {result.target})", flush=True)
    print()
    print("| # | what | measured | target | met |")
    print("|---|---|---|---|---|")
    for r in results:
        print(f"| {r.number} | {r.what} | {r.measured} | {r.target} | {'yes' if r.met else 'NO'} |")
    out = ROOT / "bench" / "results.json"
    # the machine's state beside the figures: a shared machine's load explains a run better than the code
    out.write_text(json.dumps({"date": date, "machine": platform.platform(), "cores": os.cpu_count(),
                               "load": {"before": load_before, "after": os.getloadavg()},
                               "seconds": round(time.monotonic() - started, 1), "quick": rounds.QUICK,
                               "results": [asdict(r) for r in results]}, indent=2) + "\n")
    page = report.write(out)
    print(f"\nwritten to {out.relative_to(ROOT)} and {page.relative_to(ROOT)} in {time.monotonic() - started:.0f} s")
    return 0 if all(r.met for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
