"""19: a class at work: 100 students' real traced programs, each making 50 socket calls a second for 60 s,
during an exercise, with the teacher's class board and a projected diagram + log open in Chromium.

Each student joins (POST /api/join) and downloads their own one-file tracer (GET /trace.py, their token in
it). REAL of them run `python3 -I -S socketlab_trace.py bench/class_student.py` in a process of their own:
a threaded echo server of their own and a client of it (four traced calls a round trip). The others post
as their tracers would (bench/class_poster.py, a thread each in POSTERS processes): a real traced run's
events again under their names, with fresh numbers, times and payloads, in batches paced by the
dashboard's answers. (A class's programs run on 100 laptops; 100 traced interpreters here would take 3 of
this machine's 2 cores from the dashboard they are measuring: 3% of a core each, measured.) The students
start over the first STAGGER seconds, so the board changes all through the run.

Figures:
- the board: from the call that passes a student's first trace check (the server's recv() on an accepted
  socket; the program notes the time just before it) to the board showing that check passed, per student;
- the teacher's log (a second page, diagram + log, as a projector shows it): how old the newest row is,
  ten times a second, as bench 5 reads it;
- the longest main-thread task on each page (the Long Tasks API);
- the dashboard worker's memory, every second: its peak, and its last 10 s against the 10 s after the
  last student started (bounded: the rows and buffers stop growing once every student is in).

`SOCKETLAB_BENCH_STUDENTS` and `SOCKETLAB_BENCH_SECONDS` shorten it (the figures then say so); `make bench-quick`
runs the students for 15 s.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .b5_page import CHROMIUM_ARGS
from .common import ROOT, Result, dashboard, percentile
from .rounds import span

STUDENTS = int(os.environ.get("SOCKETLAB_BENCH_STUDENTS", "100"))
SECONDS = float(os.environ.get("SOCKETLAB_BENCH_SECONDS") or span(60, 15))
RATE = 50  # socket calls a second, each student
STAGGER = 20.0  # seconds over which the students start
REAL = int(os.environ.get("SOCKETLAB_BENCH_REAL", "10"))  # of them, real traced programs; the rest post as they do
POSTERS = 4  # processes the posting students share (a thread each)
SECOND_VIEW = os.environ.get("SOCKETLAB_BENCH_VIEW", "log")  # the second page: the log, as the teacher leaves it
EXERCISE = "echo-server"
FIRST_CHECK = "server-call-order"
BOARD_LIMIT_MS, LONG_TASK_LIMIT_MS = 1000, 200

# The board page: when each (student, check) cell first showed "pass", by the page's clock.
BOARD_PROBE = """() => {
  window.__bench = {longTasks: [], passed: {}, since: performance.now()};
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) if (e.startTime >= window.__bench.since) window.__bench.longTasks.push(e.duration);
  }).observe({type: "longtask", buffered: true});
  window.__bench.timer = setInterval(() => {
    const now = Date.now();
    for (const cell of document.querySelectorAll('[data-testid="board-row"] .board-cell[data-state="pass"]')) {
      const key = cell.closest("tr").dataset.name + " " + cell.dataset.code;
      if (!(key in window.__bench.passed)) window.__bench.passed[key] = now;
    }
  }, 50);
}"""
LOG_PROBE = """() => {
  window.__bench = {longTasks: [], lags: [], since: performance.now()};
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) if (e.startTime >= window.__bench.since) window.__bench.longTasks.push(e.duration);
  }).observe({type: "longtask", buffered: true});
  window.__bench.timer = setInterval(() => {
    const rows = document.querySelectorAll("#log-body tr[data-seq]");
    let newest = null;
    for (const row of rows) if (!newest || +row.dataset.seq > +newest.dataset.seq) newest = row;
    const match = newest && newest.querySelector(".col-text").textContent.match(/t=(\\d{13}) n=(\\d+)/);
    const now = Date.now();
    if (match) window.__bench.lags.push([now, now - Number(match[1])]);
  }, 100);
}"""


def _name(n: int) -> str:
    return f"s{n:03d}"


def _cpu_seconds() -> dict[str, float]:
    """CPU seconds so far of this machine's processes by what they are: the dashboard (gunicorn), Chromium,
    the posting students, the real traced programs: where a crowded 2-core run's time went."""
    totals = {"dashboard": 0.0, "chromium": 0.0, "posting students": 0.0, "traced programs": 0.0}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (proc / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        used = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        if "gunicorn" in cmdline:
            totals["dashboard"] += used
        elif "chrom" in cmdline:
            totals["chromium"] += used
        elif "bench.class_poster" in cmdline:
            totals["posting students"] += used
        elif "class_student.py" in cmdline:
            totals["traced programs"] += used
    return totals


def _memory(pid: int, samples: list[tuple[float, float]], stop: threading.Event) -> None:
    while not stop.wait(1.0):
        try:
            with open(f"/proc/{pid}/status") as f:
                rss = next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            return
        samples.append((time.monotonic(), rss))


def _join_all(lab: Any, code: str, folder: Path) -> list[tuple[str, str, Path]]:
    """Each student joins with the code and a name, and saves the tracer the dashboard made for them:
    (name, token, tracer) each."""
    students = []
    for n in range(STUDENTS):
        joined = lab.session.post(lab.url + "/api/join", json={"code": code, "name": _name(n)}, timeout=30)
        joined.raise_for_status()
        token = joined.json()["token"]
        text = lab.session.get(lab.url + "/trace.py", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        text.raise_for_status()
        path = folder / f"trace_{n}.py"
        path.write_text(text.text)
        students.append((_name(n), token, path))
    return students


def _template(folder: Path) -> Path:
    """A real traced run of bench/class_student.py for 2 s on a dashboard of its own, read back: its start
    (the events before its first send) and one round trip (send, recv, send, recv), for the posters."""
    control = secrets.token_urlsafe(16)
    with dashboard(env={"SOCKETLAB_TOKEN": control}) as lab:
        lab.session.headers["Authorization"] = f"Bearer {control}"
        code = lab.api("GET", "/api/join")["code"]
        token = lab.session.post(lab.url + "/api/join", json={"code": code, "name": "model"}, timeout=30).json()["token"]
        tracer = folder / "trace_model.py"
        tracer.write_text(lab.session.get(lab.url + "/trace.py", headers={"Authorization": f"Bearer {token}"},
                                          timeout=30).text)
        subprocess.run([sys.executable, "-I", "-S", str(tracer), str(ROOT / "bench" / "class_student.py"), "2",
                        str(RATE), str(folder / "first_model.txt")], cwd=folder, check=True, capture_output=True,
                       timeout=60)
        events = [e for e in lab.api("GET", "/api/events?after=0&limit=10000")["events"]
                  if e.get("agent") == "model" and e["kind"] not in ("agent", "output")]
    # the start: every call before the first byte moved (the accept may come after the client's first send);
    # one round trip: the client's send, the server's recv and send, the client's recv
    client = next(e["endpoint"] for e in events if e["kind"] == "connect")
    first = next(n for n, e in enumerate(events) if e["kind"] in ("send", "recv"))
    setup = events[:first] + [e for e in events[first:] if e["kind"] == "accept"][:1]

    def one(kind: str, mine: bool) -> dict[str, Any]:
        return next(e for e in events[first:] if e["kind"] == kind and (e["endpoint"] == client) == mine)

    loop = [one("send", True), one("recv", False), one("send", False), one("recv", True)]
    path = folder / "template.json"
    path.write_text(json.dumps({"name": "model", "setup": setup, "loop": loop}))
    return path


def _class(browser: Any, lab: Any, control: str, students: list[tuple[str, str, Path]], folder: Path,
           template: Path) -> dict[str, Any]:
    """The pages open and probing, the students started one by one and run to their end."""
    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_memory, args=(lab.pid, samples, stop), daemon=True)
    board = browser.new_page(viewport={"width": 1280, "height": 720})
    board.goto(f"{lab.url}/?token={control}")
    board.get_by_test_id("view-board").click()
    board.evaluate(BOARD_PROBE)
    projector = browser.new_page(viewport={"width": 1280, "height": 720})
    projector.goto(f"{lab.url}/?token={control}")
    projector.get_by_test_id(f"view-{SECOND_VIEW}").click()
    projector.evaluate(LOG_PROBE)
    watcher.start()
    cpu_before = _cpu_seconds()
    delays = [STAGGER * n / STUDENTS for n in range(STUDENTS)]
    real = set(range(0, STUDENTS, max(1, STUDENTS // REAL))) if REAL else set()  # (spread over the stagger)
    posted = [n for n in range(STUDENTS) if n not in real]
    try:
        programs = [subprocess.Popen(
            [sys.executable, "-m", "bench.class_poster", lab.url, str(template), str(SECONDS), str(RATE), str(folder),
             *(f"{students[n][0]}:{students[n][1]}:{delays[n]}" for n in posted[k::POSTERS])],
            cwd=ROOT, stdout=subprocess.DEVNULL) for k in range(POSTERS) if posted[k::POSTERS]]
        began = time.monotonic()
        for n in sorted(real):
            while time.monotonic() < began + delays[n]:
                board.wait_for_timeout(20)  # (the pages keep running: Playwright's loop turns)
            programs.append(subprocess.Popen(
                [sys.executable, "-I", "-S", str(students[n][2]), str(ROOT / "bench" / "class_student.py"), str(SECONDS),
                 str(RATE), str(folder / f"first_{students[n][0]}.txt")],
                cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        while time.monotonic() < began + STAGGER:
            board.wait_for_timeout(50)
        all_in = time.monotonic()
        cpu = {what: 0.0 for what in cpu_before}
        while any(p.poll() is None for p in programs):
            board.wait_for_timeout(200)
            now = _cpu_seconds()  # (a process's seconds are gone with it: the last reading before it ends)
            cpu = {what: max(cpu[what], now[what] - cpu_before[what]) for what in cpu}
        ended = time.monotonic()
        board.wait_for_timeout(2000)
    finally:
        stop.set()
    return {"board": board.evaluate("() => ({longTasks: window.__bench.longTasks, passed: window.__bench.passed})"),
            "log": projector.evaluate("() => ({longTasks: window.__bench.longTasks, lags: window.__bench.lags})"),
            "samples": samples, "all_in": all_in, "ended": ended, "real": len(real),
            "cpu_share": {what: round(used / max(1e-9, ended - began), 2) for what, used in cpu.items()},
            "failed": sum(1 for p in programs if p.returncode != 0)}


def _firsts(folder: Path) -> dict[str, int]:
    """When each student's program made the call that passes the first check (its own note)."""
    firsts = {}
    for n in range(STUDENTS):
        try:
            firsts[_name(n)] = int((folder / f"first_{_name(n)}.txt").read_text().split("=")[1])
        except (OSError, IndexError, ValueError):
            pass
    return firsts


def run() -> Result:
    from playwright.sync_api import sync_playwright

    control = secrets.token_urlsafe(16)
    with dashboard(env={"SOCKETLAB_TOKEN": control}) as lab, tempfile.TemporaryDirectory(prefix="socketlab-class-") as tmp:
        folder = Path(tmp)
        lab.session.headers["Authorization"] = f"Bearer {control}"
        code = lab.api("GET", "/api/join")["code"]
        template = _template(folder)
        lab.api("POST", "/api/stage", json={"exercise": EXERCISE})
        students = _join_all(lab, code, folder)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=CHROMIUM_ARGS)
            try:
                seen = _class(browser, lab, control, students, folder, template)
            finally:
                browser.close()
        firsts = _firsts(folder)
        seen["checked"] = _checked(lab)
    return _result(seen, firsts)


def _checked(lab: Any) -> dict[str, float]:
    """When the dashboard's checker said each student's first check passed (its `exercise` event's time, in ms):
    the board's lag less this is the page's and the relay's share."""
    checked: dict[str, float] = {}
    after = 0
    while True:
        got = lab.api("GET", f"/api/events?after={after}&limit=5000")
        for e in got["events"]:
            params = e.get("params") or {}
            if e["kind"] == "exercise" and (params.get("checks") or {}).get(FIRST_CHECK) == "pass":
                checked.setdefault(params["name"], e["ts"] * 1000)
        if not got["events"] or not got.get("more"):
            return checked
        after = got["events"][-1]["seq"]


def _result(seen: dict[str, Any], firsts: dict[str, int]) -> Result:
    on_board, on_log, samples = seen["board"], seen["log"], seen["samples"]
    lags = [on_board["passed"][f"{name} {FIRST_CHECK}"] - first if f"{name} {FIRST_CHECK}" in on_board["passed"]
            else float("inf") for name, first in firsts.items()]
    log_lags = [lag for _, lag in on_log["lags"]]
    checker_lags = [seen["checked"][name] - first for name, first in firsts.items() if name in seen["checked"]]
    # the page's and the relay's share: from the checker's event to the board showing it, per student
    page_lags = [on_board["passed"][f"{name} {FIRST_CHECK}"] - seen["checked"][name] for name in firsts
                 if name in seen["checked"] and f"{name} {FIRST_CHECK}" in on_board["passed"]]
    worst_board = max(on_board["longTasks"], default=0.0)
    worst_log = max(on_log["longTasks"], default=0.0)
    steady = [rss for t, rss in samples if seen["all_in"] + 10 <= t <= seen["all_in"] + 20]
    last = [rss for t, rss in samples if t >= seen["ended"] - 10]
    peak = max((rss for _, rss in samples), default=0.0)
    growth = (max(last) - max(steady)) if steady and last else float("nan")
    failed = seen["failed"]
    figures: dict[str, Any] = {
        "students": STUDENTS, "real_programs": seen["real"], "seconds": SECONDS, "rate": RATE, "programs_failed": failed,
        "board_lag_ms": sorted(lags), "board_p99_ms": percentile(lags, 99), "board_max_ms": max(lags, default=float("inf")),
        "board_seen": sum(1 for lag in lags if lag != float("inf")),
        "checker_p99_ms": percentile(checker_lags, 99), "checker_p50_ms": percentile(checker_lags, 50),
        "page_p99_ms": percentile(page_lags, 99), "page_p50_ms": percentile(page_lags, 50),
        "log_lag_p99_ms": percentile(log_lags, 99), "log_lag_max_ms": max(log_lags, default=float("inf")),
        "log_samples": len(log_lags), "board_worst_task_ms": worst_board, "log_worst_task_ms": worst_log,
        "cores_used": seen["cpu_share"], "rss_peak_mb": peak, "rss_growth_last_10s_mb": growth, "rss_samples": samples[-200:],
    }
    met = (failed == 0 and len(lags) == STUDENTS and figures["board_p99_ms"] <= BOARD_LIMIT_MS
           and figures["log_lag_p99_ms"] <= BOARD_LIMIT_MS and max(worst_board, worst_log) <= LONG_TASK_LIMIT_MS
           and growth <= 0.05 * peak)  # (bounded: the last 10 s grew under 5% of the peak)
    measured = (f"{STUDENTS} students ({seen['real']} real traced programs, the rest posting as they do) x {RATE} "
                f"calls/s for {SECONDS:.0f} s: the board showed a student's first check "
                f"p99 {figures['board_p99_ms']:.0f} ms (max {figures['board_max_ms']:.0f}) after the call, "
                f"{figures['board_seen']} of {len(lags)} seen (the checker's event p99 {figures['checker_p99_ms']:.0f} ms "
                f"after the call, the board p99 {figures['page_p99_ms']:.0f} ms after the checker's event); "
                f"the teacher's log p99 {figures['log_lag_p99_ms']:.0f} ms; "
                f"longest task {worst_board:.0f} ms (board), {worst_log:.0f} ms ({SECOND_VIEW} view); "
                f"dashboard peak {peak:.0f} MB, {growth:+.1f} MB over the last 10 s; cores used: "
                + ", ".join(f"{what} {used:.2f}" for what, used in seen["cpu_share"].items()))
    return Result(19, "a class at work: 100 traced programs during an exercise, board + diagram in Chromium", measured,
                  f"board and log p99 <= {BOARD_LIMIT_MS} ms, no task > {LONG_TASK_LIMIT_MS} ms, memory bounded", met,
                  figures)
