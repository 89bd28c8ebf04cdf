"""`python -m bench.redis_writers`: whoever can write to Redis, against a dashboard (gunicorn, its own
process) over one lab agent. The figures: the dashboard's RSS before and after 10,000 entries of 60 KB
in the agent's stream `ev:pc1` (refused whole at the 16 KB cap, counted in /api/stats `skipped_entries`),
and after 500 heartbeat keys under junk names (never listed). One row each; no target but a bound."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from .common import ROOT
from .fleet import over_agents, redis_server, wait_for_agents

ENTRIES, ENTRY_BYTES, ROUND = 10_000, 60_000, 1000


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="socketlab-writers-"))
    env = dict(os.environ, SOCKETLAB_FILES=str(folder / "files"), SOCKETLAB_DOWNLOADS=str(folder / "downloads"))
    with redis_server() as url, over_agents(url, 1) as lab:
        env["SOCKETLAB_REDIS"] = url
        agent = subprocess.Popen([sys.executable, "-m", "agent", "--name", "pc1"], cwd=ROOT, env=env,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = redis.Redis.from_url(url)
        try:
            wait_for_agents(lab, ["pc1"], "up")
            before = lab.rss_mb()
            skipped0 = lab.api("GET", "/api/stats")["skipped_entries"]
            entry = json.dumps({"seq": 1, "ts": time.time(), "endpoint": "e1@pc1", "kind": "recv", "agent": "pc1",
                                "data": "x" * ENTRY_BYTES}).encode()
            t0 = time.monotonic()
            peak = before
            for done in range(ROUND, ENTRIES + 1, ROUND):  # (trimmed once read: Redis holds 60 MB at a time)
                pipe = r.pipeline(transaction=False)
                for _ in range(ROUND):
                    pipe.xadd("ev:pc1", {"e": entry})
                pipe.execute()
                deadline = time.monotonic() + 60
                while lab.api("GET", "/api/stats")["skipped_entries"] - skipped0 < done and time.monotonic() < deadline:
                    time.sleep(0.05)
                r.xtrim("ev:pc1", maxlen=0)
                peak = max(peak, lab.rss_mb())
            skipped = lab.api("GET", "/api/stats")["skipped_entries"] - skipped0
            after = lab.rss_mb()
            print(f"{ENTRIES} entries of {ENTRY_BYTES // 1000} KB in ev:pc1 in {time.monotonic() - t0:.1f} s: "
                  f"{skipped} refused and counted; dashboard RSS {before:.0f} -> {after:.0f} MB (peak {peak:.0f} MB)")
            pipe = r.pipeline(transaction=False)
            for i in range(500):
                pipe.set(f"hb:<img src=x onerror=alert({i})>", b'{"host": "x"}', px=30_000)
            pipe.execute()
            time.sleep(1.5)  # (three heartbeat polls: not a wait for anything, the figure is what is listed then)
            listed = [a["name"] for a in lab.api("GET", "/api/agents")]
            print(f"500 heartbeat keys under junk names: {len(listed)} agents listed ({listed[:3]}); RSS {lab.rss_mb():.0f} MB")
        finally:
            r.close()
            agent.terminate()
            agent.wait(15)
            subprocess.run(["rm", "-rf", str(folder)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
