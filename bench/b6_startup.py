"""6: `python -m webapp` answers /api/health within 1.5 s of being started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time

import requests

from .common import ROOT, Result, free_port

TARGET_S = 1.5


def once() -> float:
    port = free_port()
    with tempfile.TemporaryDirectory() as work:
        env = dict(os.environ, SOCKETLAB_FILES=f"{work}/files", SOCKETLAB_DOWNLOADS=f"{work}/downloads")
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "webapp", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=1).ok:
                        return time.perf_counter() - start
                except requests.ConnectionError:
                    if time.perf_counter() - start > 30:
                        raise RuntimeError("the dashboard did not start") from None
                    time.sleep(0.01)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)


def run() -> Result:
    times = sorted(once() for _ in range(3))
    median = times[1]
    return Result(6, "startup: python -m webapp to /api/health", f"{median:.2f} s (median of 3; {times[0]:.2f}-{times[2]:.2f})",
                  f"<= {TARGET_S} s", median <= TARGET_S, {"seconds": times})
