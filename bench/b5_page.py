"""5: 5,000 events/s for 20 s into the page in Chromium: no main-thread task over 200 ms (the Long
Tasks API), and the newest event on screen within 500 ms of its socket call.

Each datagram carries its send time in milliseconds (`t=<ms>`) and its number (`n=`); ten times a
second the page reads the newest row of the log and notes how old the event in it is. Samples are
counted while the flood lasts; after it, the age of the last datagram when its row first appeared.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from .common import PACED_SENDER as SENDER, Result, dashboard, percentile

RATE, SECONDS = 5000, 20
LONG_TASK_LIMIT_MS, LAG_LIMIT_MS = 200, 500
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PROBE = """() => {
  window.__bench = {longTasks: [], lags: [], since: performance.now()};  // (the page's loading is not counted)
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) if (e.startTime >= window.__bench.since) window.__bench.longTasks.push(e.duration);
  })
    .observe({type: "longtask", buffered: true});
  window.__bench.timer = setInterval(() => {
    const rows = document.querySelectorAll("#log-body tr[data-seq]");
    let newest = null;
    for (const row of rows) if (!newest || +row.dataset.seq > +newest.dataset.seq) newest = row;
    const match = newest && newest.querySelector(".col-text").textContent.match(/t=(\\d{13}) n=(\\d+)/);
    const now = Date.now();
    if (match) window.__bench.lags.push([now, now - Number(match[1]), Number(match[2])]);
  }, 100);
}"""


def run() -> Result:
    from playwright.sync_api import sync_playwright

    with dashboard() as lab, sync_playwright() as pw:
        server = lab.api("POST", "/api/endpoints", json={"kind": "udp-server", "port": 0, "mode": "manual"})
        browser = pw.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(lab.url + "/")
            page.wait_for_selector("#log-body tr[data-seq]", timeout=15_000)  # the listen event arrived
            page.evaluate(PROBE)
            subprocess.run([sys.executable, "-c", SENDER, str(server["local"][1]), str(RATE), str(SECONDS)], check=True)
            flood_end_ms = time.time() * 1000
            page.wait_for_timeout(1500)
            figures: dict[str, Any] = page.evaluate("() => ({longTasks: window.__bench.longTasks, lags: window.__bench.lags})")
            rows = page.locator("#log-body tr[data-seq]").count()
        finally:
            browser.close()
    long_tasks, samples = figures["longTasks"], figures["lags"]
    lags = [lag for at, lag, _ in samples if at <= flood_end_ms]
    last = RATE * SECONDS - 1
    # the last datagram: how old it was when its row was first seen (inf: never shown)
    lags.append(next((lag for _, lag, n in samples if n == last), float("inf")))
    worst_task = max(long_tasks, default=0.0)
    lag_p99, lag_max = percentile(lags, 99), max(lags, default=float("inf"))
    met = worst_task <= LONG_TASK_LIMIT_MS and lag_max <= LAG_LIMIT_MS
    return Result(5, f"page: {RATE} events/s for {SECONDS} s in Chromium",
                  f"longest main-thread task {worst_task:.0f} ms ({len(long_tasks)} over 50 ms); newest event on screen "
                  f"after p99 {lag_p99:.0f} ms, max {lag_max:.0f} ms; {rows} rows kept",
                  f"no task > {LONG_TASK_LIMIT_MS} ms, newest on screen <= {LAG_LIMIT_MS} ms", met,
                  {"long_tasks_ms": long_tasks, "lag_p99_ms": lag_p99, "lag_max_ms": lag_max, "lag_samples": len(lags),
                   "dom_rows": rows})
