"""14: a 1 GiB lab download with packet capture on, against the same download with capture off, in
the same run: two dashboards side by side in one network namespace of their own (made with
`unshare --net` as root, or a user namespace with it), serving the same file. Interleaved, best of
each. Capture must keep the download at >= 0.5x, with every frame counted (as a `packet` event, or
as suppressed by the events-per-second limit, or as skipped or of no lab socket)."""

from __future__ import annotations

import json
import hashlib
import os
import subprocess
import sys
from typing import Any

from .b1_download import FILE_SHA256, SIZE, lab_download, make_file, settled
from .common import ROOT, Dashboard, Result, dashboard

TARGET = 0.5
RUNS = 6  # best of each: single downloads on this shared machine range 2-3x (bench 1)
# ORDER: the first download of each pair often ran at 700-1300 MiB/s and the second at 2000-2300,
# whichever dashboard, and with capture off on both (measured 2026-12-01, 4 runs of 6 pairs); with
# a fixed order "off" went first and read 0.54-1.78x for no reason of capture's. Each dashboard now
# goes first in every other pair, and the best of each is taken.


def capture_stats(lab: Dashboard) -> dict[str, Any]:
    stats: dict[str, Any] = lab.api("GET", "/api/stats")
    return stats


def inner() -> dict[str, Any]:
    """In the namespace: both dashboards, the downloads, the counts."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with dashboard({"SOCKETLAB_CAPTURE": "1"}) as on, dashboard({"SOCKETLAB_CAPTURE": "0"}) as off:
        big = on.files / "big-1GiB.bin"
        make_file(big, SIZE)
        os.link(big, off.files / big.name)  # one file on disk, served by both
        digest = hashlib.sha256()
        with open(big, "rb") as f:
            while block := f.read(1 << 24):
                digest.update(block)
        FILE_SHA256[big] = digest.hexdigest()  # (each raw download's SHA-256 is checked against it)
        session = on.api("GET", "/api/session")
        assert session["capture"] is True, session["why_not"]
        ports = {}
        for name, lab in (("on", on), ("off", off)):
            server = lab.api("POST", "/api/endpoints", json={"kind": "tcp-server", "port": 0, "mode": "file",
                                                              "file": big.name})
            ports[name] = server["local"][1]
        speeds: dict[str, list[float]] = {"on": [], "off": []}
        cpu: dict[str, list[float]] = {"on": [], "off": [], "tap": []}
        for turn in range(RUNS):  # interleaved, each pair in turn order (see ORDER)
            for name, lab in ((("off", off), ("on", on)) if turn % 2 == 0 else (("on", on), ("off", off))):
                before, tap_before = cpu_seconds(lab.pid), cpu_seconds(*children(lab.pid))
                speeds[name].append(settled(lab_download, big, lab, ports[name], None))
                cpu[name].append(cpu_seconds(lab.pid) - before)
                if name == "on":
                    cpu["tap"].append(cpu_seconds(*children(lab.pid)) - tap_before)
        stats = capture_stats(on)
        limit = session["limits"]["events_per_second"]
    return {"speeds": speeds, "cpu": cpu, "stats": stats, "events_per_second": limit}


def cpu_seconds(*pids: int) -> float:
    """User + system CPU time of these processes (all their threads) so far."""
    ticks = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The lab's child processes (the capture's tap, lab/wire/tap.py, when capture runs apart)."""
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found += [int(x) for x in f.read().split()]
    return found


def run() -> Result:
    ns = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user", "--net"]
    done = subprocess.run([*ns, sys.executable, "-m", "bench.b14_capture", "inner"], cwd=ROOT,
                          capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode:
        return Result(14, "1 GiB download with capture on vs off", f"could not run: {done.stderr.strip()[-300:]}",
                      f">= {TARGET}x", False)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    on, off = max(got["speeds"]["on"]), max(got["speeds"]["off"])
    capture = got["stats"]["capture"]
    frames, packets, suppressed = capture["frames"], capture["packets"], capture["suppressed"]
    counted = packets + suppressed + capture["unmatched"] + sum(capture["skipped"].values()) == frames
    ratio = on / off
    mib = 2**20
    lab_on, lab_off, tap = min(got["cpu"]["on"]), min(got["cpu"]["off"]), min(got["cpu"]["tap"])
    return Result(14, "1 GiB raw download with packet capture on vs off (same run, in a namespace)",
                  f"{ratio:.2f}x ({on / mib:.0f} vs {off / mib:.0f} MiB/s); {frames} frames: {packets} packet events, "
                  f"{suppressed} over the {got['events_per_second']}/s limit, {capture['kernel_drops']} dropped "
                  f"by the kernel; the lab's CPU a download {lab_on:.2f} s on vs {lab_off:.2f} s off, the capture "
                  f"process's {tap:.2f} s", f">= {TARGET}x, every frame counted", ratio >= TARGET and counted,
                  {"on_MiBps": [x / mib for x in got["speeds"]["on"]], "off_MiBps": [x / mib for x in got["speeds"]["off"]],
                   "ratio": ratio, "capture": capture, "cpu_seconds": got["cpu"], "bus_suppressed": got["stats"]["suppressed"]})


if __name__ == "__main__":
    if sys.argv[1:] == ["inner"]:
        print(json.dumps(inner()), flush=True)
    else:
        print(run())
