"""A lab with capture on, driven through one scenario in a child process (a network namespace of its
own, made by the test), printing one JSON object: its events sorted as a page sorts them (time, then
seq), the capture's counts, wire_status(), and the threads and fds it left behind after close().

`python -m tests.lab.wire.scenarios <scenario> <folder>`; the pcap is written to <folder>/capture.pcap.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from lab.core import Lab
from lab.sockets.endpoint import Limits
from lab.errors import LabError
from lab.events.bus import Event
from lab.wire.pcap import FrameRing

from ...support import wait_until

Scenario = Callable[[Lab], None]


def kinds(lab: Lab) -> list[str]:
    return [e.kind for e in lab.bus.since(0, 100_000)[0]]


def handshake_and_close(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    client = lab.create({"kind": "tcp-client", "port": server.local[1] if server.local else 0})
    lab.send(client.id, {"data": "hello"})
    wait_until(lambda: kinds(lab).count("recv") == 2)
    lab.remove(client.id)  # the client closes first: FIN, ACK, FIN, ACK
    wait_until(lambda: kinds(lab).count("close") == 2)
    wait_until(lambda: kinds(lab).count("packet") >= 10)  # 3 handshake, 2 x (data + ACK), 3 or 4 to close


def closed_port(lab: Lab) -> None:
    probe = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    assert probe.local is not None
    port = probe.local[1]
    lab.remove(probe.id)  # a port that was just free: nothing listens there now
    try:
        lab.create({"kind": "tcp-client", "port": port})
    except LabError as exc:
        assert exc.code == "connection-refused", exc.code
    wait_until(lambda: kinds(lab).count("packet") >= 2)


def flood(lab: Lab) -> None:
    """20 000 datagrams as fast as the lab sends them, with room for 2 000 events a second and
    1 000 frames: bounded, and every frame counted either as an event or as suppressed."""
    assert lab.capture is not None
    lab.capture.ring = FrameRing(1000)
    server = lab.create({"kind": "udp-server", "port": 0, "mode": "manual"})
    client = lab.create({"kind": "udp-client", "port": server.local[1] if server.local else 0})
    for _ in range(20):
        lab.send(client.id, {"data": "x", "repeat": 1000})
    counts = lab.capture.counts
    # Every datagram sent reaches the capture, unless the loopback's own backlog (netdev_max_backlog)
    # overflowed on a loaded machine before the capture's tap: then fewer come. Wait for all, or for
    # the count to stand still (the test checks what came was every one counted).
    seen = [-1, time.monotonic()]

    def settled() -> bool:
        now = counts["packets"] + counts["suppressed"]
        if now != seen[0]:
            seen[:] = [now, time.monotonic()]
        return now >= 20_000 or time.monotonic() - seen[1] > 1.0

    wait_until(settled, 20)


def zero_window(lab: Lab) -> None:
    """A server that never reads (a 10 s delay before each recv): the client's sends fill its buffer."""
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "manual", "recv_delay_ms": 10_000})
    client = lab.create({"kind": "tcp-client", "port": server.local[1] if server.local else 0})
    block = "x" * 60_000

    def fill() -> bool:
        try:
            lab.send(client.id, {"data": block})
        except LabError as exc:  # the send waited its 1 s for a reader that never comes
            assert exc.code in ("peer-not-reading", "peer-stopped-reading"), exc.code
        return _analysis(lab, "zero-window")

    wait_until(fill, 30)


def _analysis(lab: Lab, mark: str) -> bool:
    return any(isinstance(e, Event) and e.kind == "packet" and e.args and e.args.get("analysis") == mark
               for e in lab.bus.since(0, 100_000)[0])


def lossy(lab: Lab) -> None:
    """Numbered messages to a server whose link drops 20% on input (lab/wire/link.py): TCP retransmits
    what the kernel dropped."""
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "manual", "link": {"loss": 0.2}})
    for attempt in range(3):  # its SYNs may be lost three times in a row, past connect's 5 s (1 in 125)
        try:
            client = lab.create({"kind": "tcp-client", "port": server.local[1] if server.local else 0})
            break
        except LabError as exc:
            assert exc.code == "connect-timed-out" and attempt < 2, exc.code
    # Lost ACKs alone are often recovered without a retransmission (a later ACK covers them, or the
    # tail-loss probe carries new data), so keep sending until a data segment was lost and sent again.
    sent = iter(range(1, 100_000))

    def send_more() -> bool:
        lab.send(client.id, {"data": f"#{next(sent)} message\n"})
        return _analysis(lab, "retransmission")

    wait_until(send_more, 30, 0.005)


def no_capture(lab: Lab) -> None:
    """Capture asked for where it is impossible: everything else still works."""
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    client = lab.create({"kind": "tcp-client", "port": server.local[1] if server.local else 0})
    lab.send(client.id, {"data": "still works"})
    wait_until(lambda: kinds(lab).count("recv") == 2)


def tap_killed(lab: Lab) -> None:
    """The capture's process killed mid-lesson (the OOM killer, say): the lab goes on, says why it
    shows no more packets, and keeps the frames it had for the pcap."""
    assert lab.capture is not None
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    client = lab.create({"kind": "tcp-client", "port": server.local[1] if server.local else 0})
    lab.send(client.id, {"data": "before"})
    wait_until(lambda: kinds(lab).count("recv") == 2 and kinds(lab).count("packet") >= 5)
    os.kill(lab.capture._tap.pid, signal.SIGINT)  # Ctrl-C to the terminal's process group: not its to act on
    before = kinds(lab).count("packet")
    lab.send(client.id, {"data": "still"})
    wait_until(lambda: kinds(lab).count("recv") == 4 and kinds(lab).count("packet") >= before + 2)
    NOTES["after_ctrl_c"] = lab.wire_status()
    os.kill(lab.capture._tap.pid, signal.SIGKILL)  # (our own child: the lab started it)
    wait_until(lambda: lab.wire_status()["why_not"]["capture"] == "capture-stopped", 10)
    NOTES["after"] = lab.wire_status()
    lab.send(client.id, {"data": "after"})
    wait_until(lambda: kinds(lab).count("recv") == 6)


SCENARIOS: dict[str, tuple[Scenario, Limits]] = {
    "handshake_and_close": (handshake_and_close, Limits()),
    "closed_port": (closed_port, Limits()),
    "flood": (flood, Limits(events_per_second=2000)),
    "zero_window": (zero_window, Limits(send_timeout_ms=1000)),
    "lossy": (lossy, Limits()),
    "no_capture": (no_capture, Limits()),
    "tap_killed": (tap_killed, Limits()),
}
NOTES: dict[str, Any] = {}  # what a scenario saw on its way


def fds() -> set[str]:
    found = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if not target.startswith("/proc/"):  # (the listing's own fd)
            found.add(f"{name}:{target}")
    return found


def main(name: str, folder: Path) -> dict[str, Any]:
    if os.geteuid() == 0 and name != "no_capture":  # root of the namespace the test made: its loopback up
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    scenario, limits = SCENARIOS[name]
    threads_before, fds_before = set(threading.enumerate()), fds()
    lab = Lab(folder / "files", folder / "downloads", limits, capture=True)
    status = lab.wire_status()
    try:
        scenario(lab)
    finally:
        lab.close()  # the capture thread stops: the events and the pcap below hold the same frames
    stats = lab.capture.stats() if lab.capture else None
    if lab.capture:
        (folder / "capture.pcap").write_bytes(lab.capture_pcap())
    events = sorted((e for e in lab.bus.since(0, 100_000)[0] if isinstance(e, Event)), key=lambda e: (e.ts, e.seq))
    wait_until(lambda: set(threading.enumerate()) <= threads_before, 5)
    leaked = sorted(fds() - fds_before)
    return {"status": status, "stats": stats, "events": [e.to_json() for e in events if e.kind != "state"],
            "suppressed": lab.bus.suppressed, "leaked_fds": leaked, "notes": NOTES,
            "leaked_threads": [t.name for t in set(threading.enumerate()) - threads_before]}


def orphan(folder: Path) -> None:
    """The lab's process killed outright (no close()): its capture process must not outlive it."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    lab = Lab(folder / "files", folder / "downloads", Limits(), capture=True)
    assert lab.capture is not None
    print(json.dumps({"tap": lab.capture._tap.pid}), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    if sys.argv[1] == "orphan":
        orphan(Path(sys.argv[2]))
    print(json.dumps(main(sys.argv[1], Path(sys.argv[2]))), flush=True)
