"""The kernel's table of TCP sockets in the lab's network namespace: /proc/net/tcp and tcp6.

A closed socket has no file descriptor left to ask TCP_INFO, yet the kernel keeps it: the side that
closed first stays in TIME_WAIT (about 60 s), and a socket's unread bytes wait in its receive queue.
This table shows both, for the namespace the lab runs in (the sandbox's own), without `ss`.
`parse` is pure (text in, rows out), tested with lines copied from a real table.
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple

from .tcpinfo import STATES

TABLES = ("/proc/net/tcp", "/proc/net/tcp6")


class Row(NamedTuple):
    local: tuple[str, int]
    remote: tuple[str, int]
    state: str  # the kernel's name: ESTABLISHED, TIME_WAIT, ...
    tx_queue: int  # bytes sent and not yet acknowledged
    rx_queue: int  # bytes received and not yet read by the program


def _address(text: str) -> tuple[str, int]:
    """"0100007F:1F90" -> ("127.0.0.1", 8080): the address is in host byte order, 32-bit words."""
    hex_ip, hex_port = text.split(":")
    raw = bytes.fromhex(hex_ip)
    packed = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.ip_address(packed)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip), int(hex_port, 16)


def parse(text: str) -> list[Row]:
    """The rows of one /proc/net/tcp* file; a line that does not parse is skipped."""
    rows = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        try:
            tx, rx = fields[4].split(":")
            rows.append(Row(_address(fields[1]), _address(fields[2]), STATES.get(int(fields[3], 16), fields[3]),
                            int(tx, 16), int(rx, 16)))
        except (IndexError, ValueError):
            continue
    return rows


def read() -> list[Row]:
    rows = []
    for path in TABLES:
        try:
            with open(path, encoding="ascii") as table:
                rows += parse(table.read())
        except OSError:
            continue  # no IPv6 in this kernel
    return rows


def find(local: tuple[str, int], remote: tuple[str, int]) -> Row | None:
    """The kernel's row of the connection from `local` to `remote`, if it still has one."""
    return next((row for row in read() if row.local == tuple(local) and row.remote == tuple(remote)), None)
