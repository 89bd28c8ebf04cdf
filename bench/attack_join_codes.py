"""Guessing the join code, by hand: `python -m bench.attack_join_codes [--seconds 60] [--gunicorn]`.

A dashboard with tokens (the dev server, or the production gunicorn command of docs/security.md); 8 threads post wrong codes
to `POST /api/join` from 248 loopback addresses (127.0.100.1-248: each client socket bound to its own)
as fast as the dashboard answers. Printed: how many wrong codes the dashboard checked a minute, how
many it refused without checking, how often the code rotated (and when first), and how long
`/api/health` took from another address. Not part of `python -m bench`: it is an attack, and its
figures are for the issue note."""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from collections import Counter
from typing import Any

from .common import dashboard

CONTROL, VIEW = "bench-control-token", "bench-view-token"
SOURCES = [f"127.0.100.{i}" for i in range(1, 249)]


def call(port: int, method: str, path: str, body: Any = None, source: str = "127.0.0.1",
         token: str | None = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def guess(port: int, first: int, until: float, answers: Counter[str], lock: threading.Lock) -> None:
    n = first
    while time.monotonic() < until:
        n += 1
        try:
            _, body = call(port, "POST", "/api/join", {"code": f"AB{n % 10000:04d}"}, SOURCES[n % len(SOURCES)])
            what = str(body.get("code")) if isinstance(body, dict) else "?"
        except (OSError, http.client.HTTPException):
            what = "no answer"
        with lock:
            answers[what] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--gunicorn", action="store_true", help="the production gunicorn command of docs/security.md (default: the dev server)")
    args = parser.parse_args()
    with dashboard({"SOCKETLAB_TOKEN": CONTROL, "SOCKETLAB_VIEW_TOKEN": VIEW}, gunicorn=args.gunicorn) as dash:
        port = int(dash.url.rsplit(":", 1)[1])
        answers: Counter[str] = Counter()
        lock = threading.Lock()
        started = time.monotonic()
        until = started + args.seconds
        threads = [threading.Thread(target=guess, args=(port, i * 100_000, until, answers, lock)) for i in range(8)]
        for t in threads:
            t.start()
        first_rotation = None
        health: list[float] = []
        while time.monotonic() < until:
            _, info = call(port, "GET", "/api/join", token=CONTROL)
            if info.get("rotations") and first_rotation is None:
                first_rotation = time.monotonic() - started
            began = time.monotonic()
            call(port, "GET", "/api/health", source="127.0.99.1")
            health.append((time.monotonic() - began) * 1000)
            time.sleep(0.2)
        for t in threads:
            t.join()
        took = time.monotonic() - started
        _, info = call(port, "GET", "/api/join", token=CONTROL)
        print(f"server: {'gunicorn' if args.gunicorn else 'dev server (python -m webapp)'}, {took:.0f} s, "
              f"{len(SOURCES)} addresses, 8 threads")
        print(f"answers: {dict(answers)}")
        print(f"wrong codes checked: {answers['join-wrong-code'] / took * 60:.0f} a minute; refused unchecked: "
              f"{answers['join-too-many-tries'] / took * 60:.0f} a minute")
        first = "never" if first_rotation is None else f"first after {first_rotation:.2f} s"
        print(f"the code rotated {info.get('rotations')} times ({first})")
        print(f"/api/health meanwhile: median {sorted(health)[len(health) // 2]:.1f} ms, max {max(health):.1f} ms")


if __name__ == "__main__":
    main()
