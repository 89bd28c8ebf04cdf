"""Capture for real: a lab in a network namespace of its own (a child process the test starts and
waits for), its packets read off that namespace's loopback by the kernel's BPF filter and our parser,
then checked against the socket calls and against tshark reading the exported pcap."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from lab.wire.capture import why_not

from ...support import wait_until

ROOT = Path(__file__).resolve().parents[3]


def namespace_argv() -> list[str]:
    """Root makes a network namespace; anyone else a user namespace with it (where allowed)."""
    if shutil.which("unshare") is None:
        pytest.skip("the unshare program (util-linux) is missing")
    return ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user", "--net"]


def scenario(name: str, folder: Path, prefix: list[str] | None = None) -> dict[str, Any]:
    argv = [*(namespace_argv() if prefix is None else prefix), sys.executable, "-m", "tests.lab.wire.scenarios",
            name, str(folder)]
    if prefix is not None:
        folder.chmod(0o777)  # the unprivileged scenario writes there too
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode and "Operation not permitted" in done.stderr and os.geteuid() != 0:
        pytest.skip(f"user namespaces are not allowed here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["leaked_threads"] == [] and result["leaked_fds"] == [], result
    return result


def packets(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in result["events"] if e["kind"] == "packet"]


def tshark(pcap: Path, *fields: str) -> list[list[str]]:
    if shutil.which("tshark") is None:
        if os.environ.get("CI"):
            pytest.fail("tshark is missing (CI is set; .ci/run installs it)")
        pytest.skip("tshark is missing: apt-get install tshark")
    args = [x for f in fields for x in ("-e", f)]
    out = subprocess.run(["tshark", "-r", str(pcap), "-T", "fields", "-E", "separator=|", *args],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return [line.split("|") for line in out.splitlines()]


def test_handshake_is_syn_synack_ack_between_connect_and_accept_and_close_is_fin_ack_both_ways(tmp_path: Path) -> None:
    result = scenario("handshake_and_close", tmp_path)
    assert result["status"] == {"capture": True, "impair_tcp": result["status"]["impair_tcp"],
                                "why_not": {"capture": None, "impair_tcp": result["status"]["why_not"]["impair_tcp"]}}
    events = result["events"]
    order = [e["kind"] if e["kind"] != "packet" else e["args"]["flags"] for e in events]
    connect, accept = order.index("connect"), order.index("accept")
    # the first three packets after connect() are the handshake, all before accept() returned (the
    # client's data may come before accept() returns too, when the server's thread is slow to run)
    first = [i for i in range(connect + 1, len(events)) if events[i]["kind"] == "packet"][:3]
    handshake = [events[i] for i in first]
    assert [p["args"]["flags"] for p in handshake] == ["SYN", "SYN,ACK", "ACK"], order
    assert first[-1] < accept, order
    assert "packet" not in [e["kind"] for e in events[:connect]]
    client = events[connect]["local"]
    assert [p["args"]["src"] for p in handshake] == [client, events[accept]["local"], client]
    assert [(p["args"]["seq"], p["args"]["ack"]) for p in handshake] == [(0, 0), (0, 1), (1, 1)]
    assert all(p["call"] is None and p["size"] == p["args"]["len"] == 0 for p in handshake)
    close = order.index("close")
    after = [(p["args"]["flags"], tuple(p["args"]["src"])) for p in events[close:] if p["kind"] == "packet"]
    server = tuple(events[accept]["local"])
    fins = [src for flags, src in after if "FIN" in flags]
    assert sorted(fins) == sorted([tuple(client), server])  # a FIN each way ...
    assert after[-1] == ("ACK", tuple(client))  # ... and the last one acknowledged by the side that closed first
    data = [p for p in packets(result) if p["args"]["len"]]
    assert [(p["args"]["flags"], p["args"]["len"]) for p in data] == [("PSH,ACK", 5), ("PSH,ACK", 5)]
    # the receiving socket's: the server's connection (None while the kernel held it unaccepted)
    assert data[0]["endpoint"] == events[accept]["endpoint"] and data[0]["conn"] in (None, events[accept]["conn"])
    assert data[1]["endpoint"] == events[connect]["endpoint"]
    assert all(p["args"]["analysis"] is None for p in packets(result))
    assert result["stats"]["packets"] == len(packets(result)) and result["stats"]["skipped"] == {}

    # the pcap, read by tshark: the same packets, the same flags, the same relative numbers
    read = tshark(tmp_path / "capture.pcap", "tcp.flags.str", "tcp.seq", "tcp.ack", "tcp.len", "tcp.srcport")
    flags = {"··········S·": "SYN", "·······A··S·": "SYN,ACK", "·······A····": "ACK", "·······AP···": "PSH,ACK",
             "·······A···F": "FIN,ACK"}
    assert [(flags[f], int(s), int(a), int(n), int(port)) for f, s, a, n, port in read] == [
        (p["args"]["flags"], p["args"]["seq"], p["args"]["ack"], p["args"]["len"], p["args"]["src"][1])
        for p in sorted(packets(result), key=lambda e: e["seq"])]  # (the pcap is in capture order)


def test_a_connect_to_a_closed_port_is_syn_then_rst(tmp_path: Path) -> None:
    result = scenario("closed_port", tmp_path)
    error = next(e for e in result["events"] if e["kind"] == "error")
    mine = [p for p in packets(result) if p["endpoint"] == error["endpoint"]]
    assert [p["args"]["flags"] for p in mine] == ["SYN", "RST,ACK"]
    assert mine[1]["ts"] <= error["ts"] or mine[1]["seq"] != error["seq"]  # (the RST came before the error said so)
    read = tshark(tmp_path / "capture.pcap", "tcp.flags.syn", "tcp.flags.reset")
    assert read[-2:] == [["1", "0"], ["0", "1"]]


def test_a_flood_stays_bounded_and_every_frame_is_counted(tmp_path: Path) -> None:
    result = scenario("flood", tmp_path)
    stats = result["stats"]
    # (20 000 sent; a loaded machine's loopback backlog may drop some before the capture sees them)
    assert stats["frames"] >= 10_000 and stats["packets"] + stats["suppressed"] == stats["frames"]
    assert stats["suppressed"] > 0 and result["suppressed"] >= stats["suppressed"]  # the bus's own count agrees
    assert stats["ring"] == 1000 and stats["ring_dropped"] == stats["frames"] - 1000
    assert len(packets(result)) == stats["packets"] < 20_000
    udp = packets(result)[0]
    assert udp["proto"] == "udp" and udp["args"]["flags"] is None and udp["args"]["len"] == 1
    assert len(tshark(tmp_path / "capture.pcap", "udp.length")) == 1000


def test_a_peer_that_never_reads_shows_a_zero_window(tmp_path: Path) -> None:
    result = scenario("zero_window", tmp_path)
    zero = [p for p in packets(result) if p["args"]["analysis"] == "zero-window"]
    assert zero and all(p["args"]["win"] == 0 for p in zero)
    # segments far longer than the 256 bytes kept of each: their length is the kernel's, not the cut's
    assert max(p["args"]["len"] for p in packets(result)) > 1000 and result["stats"]["skipped"] == {}
    read = tshark(tmp_path / "capture.pcap", "tcp.analysis.zero_window")
    assert sum(1 for (mark,) in read if mark) >= len([p for p in zero])


def test_retransmissions_over_a_lossy_link_are_marked_where_tshark_marks_them(tmp_path: Path) -> None:
    if shutil.which("nft") is None:
        pytest.skip("nft (nftables) is missing: no real loss to recover from")
    result = scenario("lossy", tmp_path)
    mine = [p["args"]["analysis"] for p in sorted(packets(result), key=lambda e: e["seq"])]
    assert "retransmission" in mine
    read = tshark(tmp_path / "capture.pcap", "tcp.analysis.retransmission", "tcp.analysis.fast_retransmission",
                  "tcp.analysis.spurious_retransmission", "tcp.analysis.out_of_order")
    assert len(read) == len(mine)  # frame for frame, in capture order
    theirs = [any(marks) for marks in read]
    for i, (ours, marked) in enumerate(zip(mine, theirs, strict=True)):
        assert (ours == "retransmission") == marked, (i, mine, read)


def test_a_killed_capture_process_is_said_and_the_lab_goes_on(tmp_path: Path) -> None:
    result = scenario("tap_killed", tmp_path)
    after = result["notes"]["after"]
    assert after["capture"] is False and after["why_not"]["capture"] == "capture-stopped"
    assert result["notes"]["after_ctrl_c"]["capture"] is True  # Ctrl-C is the lab's to act on, not the tap's
    assert [e["kind"] for e in result["events"]].count("recv") == 6  # the echo went on
    before = [p for p in packets(result)]
    assert len(before) >= 5 and len(tshark(tmp_path / "capture.pcap", "tcp.flags")) == len(before)


def test_the_capture_process_ends_with_a_lab_killed_outright(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("sees the capture process from outside its namespace: root makes a network namespace only")
    done = subprocess.run([*namespace_argv(), sys.executable, "-m", "tests.lab.wire.scenarios", "orphan", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == -9, done.stderr  # (SIGKILL, as the OOM killer or kill -9 would)
    tap = json.loads(done.stdout)["tap"]
    assert wait_until(lambda: not Path(f"/proc/{tap}").exists() or "Z" in _state(tap), 5)  # gone with its stdin


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


@pytest.mark.skipif(os.geteuid() != 0, reason="becomes an unprivileged user: needs root to do so")
def test_without_root_or_a_namespace_capture_says_why_and_the_lab_still_works(tmp_path: Path) -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is missing")
    with tempfile.TemporaryDirectory(prefix="nocap-") as folder:  # (pytest's tmp_path is root's alone)
        result = scenario("no_capture", Path(folder), ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
    assert result["status"]["capture"] is False
    assert result["status"]["why_not"]["capture"] == "capture-not-permitted"
    assert [e["kind"] for e in result["events"]].count("recv") == 2 and not packets(result)
    assert why_not() is None  # (and this process, root, may: the child was refused for being nobody)
