"""The rename flood, by hand: `python -m bench.attack_renames [--addresses 500] [--seconds 40] [--gunicorn]`.

A dashboard (the dev server, `python -m webapp`, or the production gunicorn command of docs/security.md) with tokens;
N distinct source addresses (127.0.x.y: each client socket is bound to its own) each join with the
code (a student's own token) and rename themselves once a second with a long name, as a class of
scripts would. Printed: what the dashboard
answered (200, and 409 for the class's limit), its RSS before and after, the size of a late joiner's
history (`GET /api/events?after=0`, the first answer and all of its pages), and how long
`/api/health` took from another address meanwhile. Not part of `python -m bench`: it is an attack,
and its figures are for the issue note, not a ratio against a baseline."""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import threading
import time
from typing import Any

from .common import dashboard

VIEW = "bench-view-token"
CONTROL = "bench-control-token"
NAME_CHARS = 24


def address(i: int) -> str:
    return f"127.0.{1 + i // 250}.{1 + i % 250}"


def joined(conn: http.client.HTTPConnection, code: str) -> dict[str, str]:
    """Join with the code (a name is given only by a joined student): the headers of that student's token."""
    conn.request("POST", "/api/join", body=json.dumps({"code": code}), headers={"Content-Type": "application/json"})
    answer = json.loads(conn.getresponse().read())
    return {"Authorization": f"Bearer {answer['token']}", "Content-Type": "application/json"}


def flood(url: str, code: str, addresses: list[str], seconds: float, answers: dict[int, int],
          lock: threading.Lock) -> None:
    """One thread's share of the class: each address joins, keeps its own connection and renames once a second."""
    host, port = url.removeprefix("http://").split(":")
    conns = {a: http.client.HTTPConnection(host, int(port), timeout=10, source_address=(a, 0)) for a in addresses}
    tokens = {a: joined(conn, code) for a, conn in conns.items()}
    end = time.monotonic() + seconds
    tick = 0
    while time.monotonic() < end:
        started = time.monotonic()
        for a, conn in conns.items():
            name = f"{a.replace('.', '-')}-{tick:04d}-{'x' * NAME_CHARS}"[:NAME_CHARS]
            try:
                conn.request("PUT", "/api/names/me", body=json.dumps({"name": name}), headers=tokens[a])
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                status = 0
            with lock:
                answers[status] = answers.get(status, 0) + 1
        tick += 1
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    for conn in conns.values():
        conn.close()


def history(url: str) -> tuple[int, int, int]:
    """A late joiner's history: (bytes of the first answer, bytes of every page, pages)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60, source_address=("127.0.0.2", 0))
    first, total, pages, after = 0, 0, 0, 0
    try:
        while True:
            conn.request("GET", f"/api/events?after={after}&limit=10000", headers={"Authorization": f"Bearer {VIEW}"})
            data = conn.getresponse().read()
            body: dict[str, Any] = json.loads(data)
            first = first or len(data)
            total += len(data)
            pages += 1
            if not body.get("more") and len(body["events"]) < 10000:
                return first, total, pages
            after = body["last"]
    finally:
        conn.close()


def health_ms(url: str) -> float:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30, source_address=("127.0.0.3", 0))
    try:
        started = time.monotonic()
        conn.request("GET", "/api/health")
        conn.getresponse().read()
        return (time.monotonic() - started) * 1000
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--threads", type=int, default=25)
    parser.add_argument("--gunicorn", action="store_true", help="the production gunicorn command of docs/security.md (default: the dev server)")
    args = parser.parse_args()
    env = {"SOCKETLAB_TOKEN": CONTROL, "SOCKETLAB_VIEW_TOKEN": VIEW}
    with dashboard(env, gunicorn=args.gunicorn) as dash:
        rss_before = dash.rss_mb()
        code = dash.api("GET", "/api/join", headers={"Authorization": f"Bearer {CONTROL}"})["code"]
        addresses = [address(i) for i in range(args.addresses)]
        answers: dict[int, int] = {}
        lock = threading.Lock()
        share = [addresses[i::args.threads] for i in range(args.threads)]
        threads = [threading.Thread(target=flood, args=(dash.url, code, s, args.seconds, answers, lock)) for s in share]
        started = time.monotonic()
        for t in threads:
            t.start()
        latencies = []
        while any(t.is_alive() for t in threads):
            latencies.append(health_ms(dash.url))
            time.sleep(1)
        for t in threads:
            t.join()
        took = time.monotonic() - started
        rss_after = dash.rss_mb()
        first, total, pages = history(dash.url)
        stage = dash.api("GET", "/api/stage", headers={"Authorization": f"Bearer {VIEW}"})
        print(f"server: {'gunicorn' if args.gunicorn else 'dev server (python -m webapp)'}")
        print(f"{args.addresses} addresses renaming once a second for {took:.0f} s: answers {dict(sorted(answers.items()))}")
        print(f"RSS: {rss_before:.0f} MB before, {rss_after:.0f} MB after")
        print(f"late joiner's history: first answer {first / 1024:.0f} KB, all {pages} pages {total / 1024:.0f} KB")
        print(f"names held: {len(stage['names'])}; GET /api/stage {len(json.dumps(stage)) / 1024:.0f} KB")
        if latencies:
            print(f"/api/health meanwhile: median {statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms")


if __name__ == "__main__":
    main()
