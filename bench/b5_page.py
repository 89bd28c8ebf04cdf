"""5: 5,000 events/s for 20 s into the page in Chromium (the log view, then diagram + log): no main-thread task over 200 ms (the Long
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


VIEWS = {"log": "log view", "split": "diagram + log"}


def flood(browser: Any, view: str) -> dict[str, Any]:
    """One flood into a fresh page of a fresh dashboard, shown in `view`; the figures of that view."""
    with dashboard() as lab:
        server = lab.api("POST", "/api/endpoints", json={"kind": "udp-server", "port": 0, "mode": "manual"})
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        try:
            page.goto(lab.url + "/")
            page.wait_for_selector("#log-body tr[data-seq]", timeout=15_000)  # the listen event arrived
            page.get_by_test_id(f"view-{view}").click()
            page.wait_for_timeout(300)
            page.evaluate(PROBE)
            subprocess.run([sys.executable, "-c", SENDER, str(server["local"][1]), str(RATE), str(SECONDS)], check=True)
            flood_end_ms = time.time() * 1000
            page.wait_for_timeout(1500)
            figures: dict[str, Any] = page.evaluate("() => ({longTasks: window.__bench.longTasks, lags: window.__bench.lags})")
            rows = page.locator("#log-body tr[data-seq]").count()
        finally:
            page.close()
    long_tasks, samples = figures["longTasks"], figures["lags"]
    lags = [lag for at, lag, _ in samples if at <= flood_end_ms]
    last = RATE * SECONDS - 1
    # the last datagram: how old it was when its row was first seen (inf: never shown)
    lags.append(next((lag for _, lag, n in samples if n == last), float("inf")))
    return {"long_tasks_ms": long_tasks, "worst_task_ms": max(long_tasks, default=0.0), "lag_p99_ms": percentile(lags, 99),
            "lag_max_ms": max(lags, default=float("inf")), "lag_samples": len(lags), "dom_rows": rows}


def run() -> Result:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=CHROMIUM_ARGS)
        try:
            views = {view: flood(browser, view) for view in VIEWS}
        finally:
            browser.close()
    met = all(v["worst_task_ms"] <= LONG_TASK_LIMIT_MS and v["lag_max_ms"] <= LAG_LIMIT_MS for v in views.values())
    measured = "; ".join(
        f"{VIEWS[view]}: longest main-thread task {v['worst_task_ms']:.0f} ms ({len(v['long_tasks_ms'])} over 50 ms), "
        f"newest event on screen after p99 {v['lag_p99_ms']:.0f} ms, max {v['lag_max_ms']:.0f} ms, {v['dom_rows']} rows built"
        for view, v in views.items())
    return Result(5, f"page: {RATE} events/s for {SECONDS} s in Chromium", measured,
                  f"no task > {LONG_TASK_LIMIT_MS} ms, newest on screen <= {LAG_LIMIT_MS} ms", met, views)
