"""Students' programs posting as their tracers do, for bench 19: one thread a student, in a process of its own.

A real traced program's events (the template: one student's real run under the one-file tracer, read back
from the dashboard) are posted again under each student's name, with fresh numbers, times and payloads:
first its start (socket, bind, listen, connect, accept), then its round trips (send, recv, send, recv) at
`rate` calls a second, in batches as the tracer makes them: every `every` seconds, as the dashboard's
answer paces it. Each student notes when its first round trip was made (`first=<ms>`, the call that passes
the exercise's first check), as bench/class_student.py does.

`python -m bench.class_poster URL TEMPLATE SECONDS RATE OUTDIR NAME:TOKEN:DELAY ...` (DELAY: seconds before
that student starts); prints "done" at the end.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

START_EVERY = 0.05  # as the tracer: a batch every 50 ms until the dashboard says otherwise


def _renamed(event: dict[str, Any], template_name: str, name: str) -> dict[str, Any]:
    text = json.dumps(event).replace(f"@{template_name}", f"@{name}")
    renamed: dict[str, Any] = json.loads(text)
    renamed["agent"] = name
    return renamed


def _payload(event: dict[str, Any], text: bytes) -> None:
    event["data"], event["hex"], event["size"] = text.decode(), text.hex(), len(text)
    if isinstance(event.get("result"), int):
        event["result"] = len(text)


def student(url: str, template: dict[str, Any], name: str, token: str, seconds: float, rate: float,
            out: Path) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    boot = int(time.time() * 1000)
    setup = [_renamed(e, template["name"], name) for e in template["setup"]]
    loop = [_renamed(e, template["name"], name) for e in template["loop"]]
    seq = 0
    pending: list[dict[str, Any]] = []

    def add(event: dict[str, Any]) -> None:
        nonlocal seq
        seq += 1
        made = dict(event)  # (what changes is at the top: seq, ts and the payload; the rest is only read)
        made["seq"], made["ts"] = seq, time.time()
        pending.append(made)

    every = START_EVERY
    posted = time.monotonic()

    def post(end: bool = False) -> None:
        nonlocal every, posted
        batch = {"boot": boot, "events": pending[:2000], **({"end": True} if end else {})}
        del pending[:2000]
        answer = session.post(f"{url}/api/traces/{name}/events", json=batch, timeout=30)
        answer.raise_for_status()
        every = min(1.0, max(START_EVERY, float(answer.json().get("every", every))))
        posted = time.monotonic()

    for event in setup:
        add(event)
    period = len(loop) / rate
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < seconds:
        if i == 0:
            out.write_text("first=%d\n" % (time.time() * 1000))
        text = b"t=%d n=%d" % (time.time() * 1000, i)
        for event in loop:
            add(event)
            _payload(pending[-1], text)
        i += 1
        if time.monotonic() - posted >= every:
            post()
        pause = start + i * period - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    while pending:
        post()
    post(end=True)


def main(argv: list[str]) -> int:
    url, template_path, seconds, rate, outdir = argv[0], Path(argv[1]), float(argv[2]), float(argv[3]), Path(argv[4])
    template = json.loads(template_path.read_text())
    threads, failed = [], []

    def run(name: str, token: str, delay: float) -> None:
        time.sleep(delay)  # (the class starts over the bench's first seconds, one student after another)
        try:
            student(url, template, name, token, seconds, rate, outdir / f"first_{name}.txt")
        except (OSError, ValueError, requests.RequestException) as exc:  # (counted: the bench says so)
            print(f"{name}: {exc}", file=sys.stderr, flush=True)
            failed.append(name)

    for pair in argv[5:]:
        name, token, delay = pair.split(":", 2)
        thread = threading.Thread(target=run, args=(name, token, float(delay)), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    print(f"done {len(failed)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
