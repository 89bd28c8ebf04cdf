"""Real loss and rate on the lab's own link: nftables drops on input, tc tbf on `lo`.

The lab's seeded UDP impairment (lab/sockets/impair.py) decides in the lab's own code, so TCP never sees it.
This is the kernel's: an endpoint's `"link": {"loss", "rate_kbit"}` becomes rules in the lab's
network namespace (the sandbox's, or the host's when the lab runs as root), and TCP really
retransmits.

- Loss drops on the INPUT hook, never on output: a drop on output returns an error to the sending
  socket and TCP quietly sends again without counting a retransmission (3 drops, 0 retransmissions,
  measured); a drop on input is real loss (3 drops, 3 retransmissions, TCP_INFO total_retrans 3).
  Two rules per endpoint, its port as destination and as source, so both directions lose.
- The lab's rules live in an nft table of its own (`socketlab_<pid>_<n>`): several labs in one
  namespace (tests, a root lab beside an agent) never touch each other's rules, and a table left by
  a lab that died is recognised by its pid and swept.
- Rate is a tbf qdisc on `lo`, which shapes the whole interface: it is offered only where `lo` is
  the lab's alone (a namespace whose only interface is `lo`, as in the sandbox), never on a host whose
  loopback the dashboard and every other program share. Several rated endpoints: the lowest rate holds.
  While a rate is on, `lo` takes Ethernet's MTU (1500): at loopback's 65 536 tbf passed 611 of 800 kbit/s
  of TCP payload (measured), at 1500 it passes 777, which is the rate less the headers.

The sentences when none of this is possible are codes in lab/messages.py (`why_not`).
"""

from __future__ import annotations

import fcntl
import itertools
import os
import re
import shutil
import socket
import subprocess
import struct
import threading

from ..errors import BadInput, Refused
from ..spec import LinkSpec

TABLE_PREFIX = "socketlab_"
COMMAND_SECONDS = 5.0
# tbf's bucket must hold the largest packet, or that packet never leaves: on loopback a segment may be
# as large as the MTU (65 536) or a GSO packet (64 KiB), so the bucket holds one of those and a little more
BURST_BYTES = 66 << 10
SHAPED_MTU = 1500  # Ethernet's, while a rate is on (see above)
QUEUE_SECONDS = 1.0  # tbf's queue holds this long of traffic at the rate (at least 4 loopback segments):
# a shorter queue drops 64 KiB segments that TCP then retransmits, and the rate seen falls below the one asked
SIOCGIFMTU = 0x8921  # linux/sockios.h
_HANDLE = re.compile(r"# handle (\d+)")
_tables = itertools.count(1)


def _run(argv: list[str], script: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, input=script, capture_output=True, text=True, timeout=COMMAND_SECONDS, check=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lo_is_ours() -> bool:
    """True in a namespace whose only interface is `lo`: shaping it slows nobody else."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def lo_mtu() -> int:
    """`lo`'s MTU in this process's network namespace (SIOCGIFMTU: /sys/class/net would show the
    namespace that mounted /sys, the host's, when the sandbox did not mount its own)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        answer = fcntl.ioctl(sock, SIOCGIFMTU, struct.pack("16si", b"lo", 0))
    return int(struct.unpack("16si", answer)[1])


class Link:
    """The lab's link rules: created on first use, removed per endpoint, all gone on close()."""

    def __init__(self) -> None:
        self.table = f"{TABLE_PREFIX}{os.getpid()}_{next(_tables)}"
        self._lock = threading.Lock()
        self._made = False
        self._rules: dict[str, list[int]] = {}  # endpoint id -> nft rule handles
        self._rates: dict[str, int] = {}  # endpoint id -> kbit/s
        self._shaping = 0  # the tbf rate in force, 0: none
        self._mtu: str | None = None  # lo's own MTU, put back when the shaping ends
        self._why_not: str | None = None
        self._checked = False

    # -- what is possible -----------------------------------------------------------------------

    def why_not(self) -> str | None:
        """None when loss can be applied here, else the code of the sentence that says why not."""
        with self._lock:
            if not self._checked:
                self._why_not = self._probe()
                self._checked = True
            return self._why_not

    @staticmethod
    def _probe() -> str | None:
        if shutil.which("nft") is None:
            return "link-no-nft"
        try:
            listed = _run(["nft", "list", "tables"])
        except (OSError, subprocess.TimeoutExpired):
            return "link-no-nft"
        if listed.returncode != 0:  # "Operation not permitted": neither root nor a namespace of its own
            return "link-needs-sandbox"
        return None

    def check(self, spec: LinkSpec) -> None:
        """BadInput with the reason when `spec` cannot be applied in this lab's namespace."""
        code = self.why_not()
        if code is not None:
            raise BadInput(code)
        if spec.rate_kbit:
            if shutil.which("tc") is None:
                raise BadInput("link-no-tc")
            if not lo_is_ours():
                raise BadInput("link-rate-shared-loopback")

    # -- applying and removing ------------------------------------------------------------------

    def apply(self, ep_id: str, proto: str, port: int, spec: LinkSpec) -> None:
        """Rules for the endpoint on `port` (checked first with check()); Refused when nft or tc said no."""
        with self._lock:
            if not self._made:
                self._sweep()
                self._nft(["-f", "-"], f"add table inet {self.table}\n"
                          f"add chain inet {self.table} input {{ type filter hook input priority 0; policy accept; }}\n")
                self._made = True
            handles: list[int] = []
            self._rules[ep_id] = handles
            below = round(spec.loss * 1000)  # per mille, numgen's range: 0.1% is the finest loss
            if below:
                # numgen takes 0..999: a loss of 1 is every packet, no draw at all
                chance = ["numgen", "random", "mod", "1000", "lt", str(below)] if below < 1000 else []
                for side in ("dport", "sport"):
                    out = self._nft(["-e", "-a", "add", "rule", "inet", self.table, "input", "iifname", "lo",
                                     "meta", "l4proto", proto, "th", side, str(port), *chance, "counter", "drop"])
                    found = _HANDLE.search(out)
                    if found is None:
                        raise Refused("link-failed", reason="nft gave no rule handle")
                    handles.append(int(found.group(1)))
            if spec.rate_kbit:
                self._rates[ep_id] = spec.rate_kbit
                self._shape()

    def remove(self, ep_id: str) -> None:
        """Take the endpoint's rules away (nothing when it had none)."""
        with self._lock:
            handles = self._rules.pop(ep_id, None)
            for handle in handles or ():
                self._quiet(["nft", "delete", "rule", "inet", self.table, "input", "handle", str(handle)])
            if self._rates.pop(ep_id, None) is not None:
                self._shape()

    def dropped(self, ep_id: str) -> int:
        """Packets the endpoint's loss rules dropped so far (their nft counters)."""
        with self._lock:
            handles = set(self._rules.get(ep_id, ()))
            if not handles:
                return 0
            out = self._quiet(["nft", "-a", "list", "chain", "inet", self.table, "input"])
        total = 0
        for line in out.splitlines():
            found = _HANDLE.search(line)
            packets = re.search(r"counter packets (\d+)", line)
            if found and packets and int(found.group(1)) in handles:
                total += int(packets.group(1))
        return total

    def close(self) -> None:
        """Every rule and the tbf gone: the table is deleted whole."""
        with self._lock:
            if self._made:
                self._quiet(["nft", "delete", "table", "inet", self.table])
                self._made = False
            self._rules.clear()
            self._rates.clear()
            self._shape()

    # -- the commands ---------------------------------------------------------------------------

    def _shape(self) -> None:
        """tbf on lo at the lowest rate asked, or none (called with the lock held)."""
        rate = min(self._rates.values(), default=0)
        if rate == self._shaping:
            return
        if rate:
            queue = BURST_BYTES + max(4 * BURST_BYTES, int(rate * 1000 / 8 * QUEUE_SECONDS))
            argv = ["tc", "qdisc", "replace", "dev", "lo", "root", "tbf", "rate", f"{rate}kbit",
                    "burst", str(BURST_BYTES), "limit", str(queue)]
            done = _run(argv)
            if done.returncode != 0:
                raise Refused("link-failed", reason=done.stderr.strip()[:200] or "tc failed")
            if self._mtu is None:
                self._mtu = str(lo_mtu())
                self._quiet(["ip", "link", "set", "dev", "lo", "mtu", str(SHAPED_MTU)])
        else:
            self._quiet(["tc", "qdisc", "del", "dev", "lo", "root"])
            if self._mtu is not None:
                self._quiet(["ip", "link", "set", "dev", "lo", "mtu", self._mtu])
                self._mtu = None
        self._shaping = rate

    def _nft(self, args: list[str], script: str | None = None) -> str:
        try:
            done = _run(["nft", *args], script)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise Refused("link-failed", reason=str(exc)[:200]) from None
        if done.returncode != 0:
            raise Refused("link-failed", reason=done.stderr.strip()[:200] or "nft failed")
        return done.stdout

    @staticmethod
    def _quiet(argv: list[str]) -> str:
        """A clean-up command: it may find nothing to remove, which is fine."""
        try:
            return _run(argv).stdout
        except (OSError, subprocess.TimeoutExpired):
            return ""

    def _sweep(self) -> None:
        """Delete tables of labs whose process is gone (a lab killed before its close())."""
        for name in re.findall(r"table inet (socketlab_(\d+)_\d+)", self._quiet(["nft", "list", "tables"])):
            if int(name[1]) != os.getpid() and not _alive(int(name[1])):
                self._quiet(["nft", "delete", "table", "inet", name[0]])
