"""This machine's addresses, one per interface, as a student must type them: `connect(("192.168.1.10", 40123))`.

A server bound to 0.0.0.0 listens on every interface; its card cannot say "0.0.0.0" to a class.
Read without new dependencies: IPv6 from /proc/net/if_inet6 (it names the interface), IPv4 from the
SIOCGIFADDR ioctl per interface name. Each address is marked: `loopback` (only this machine),
`bridge` (a container or VM bridge: docker0, virbr0, ... reachable only from those guests),
`link-local` (fe80::, needs a scope), or `lan` (what a student on the network types).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import struct
from typing import Literal, NamedTuple

Kind = Literal["lan", "loopback", "bridge", "link-local"]

SIOCGIFADDR = 0x8915
# Interface names that container and VM tools give their bridges and virtual links.
BRIDGE_NAMES = re.compile(r"^(docker\d*|br-[0-9a-f]+|virbr\d+|veth\w*|cni\d*|flannel\.\d+|lxcbr\d+|lxdbr\d+|podman\d+"
                          r"|vmnet\d+|vboxnet\d+|tailscale\d+|zt\w+|kube-\w+|cali\w+|tun\d+|tap\d+)$")
ORDER: dict[Kind, int] = {"lan": 0, "bridge": 1, "link-local": 2, "loopback": 3}


class Address(NamedTuple):
    interface: str
    address: str
    family: Literal[4, 6]
    kind: Kind

    def to_json(self) -> dict[str, object]:
        return self._asdict()


def kind_of(interface: str, address: str) -> Kind:
    ip = ipaddress.ip_address(address)
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if BRIDGE_NAMES.match(interface):
        return "bridge"
    return "lan"


def _ipv6() -> list[tuple[str, str]]:
    found = []
    try:  # "<32 hex digits> <index> <prefix> <scope> <flags> <name>" per address
        with open("/proc/net/if_inet6", encoding="ascii") as lines:
            for line in lines:
                parts = line.split()
                if len(parts) >= 6 and len(parts[0]) == 32:
                    text = ":".join(parts[0][i:i + 4] for i in range(0, 32, 4))
                    found.append((parts[5], str(ipaddress.IPv6Address(text))))
    except (OSError, ValueError):
        pass
    return found


def _ipv4() -> list[tuple[str, str]]:
    found = []
    try:
        import fcntl  # Unix only: imported here so the module still loads elsewhere

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            for _, name in socket.if_nameindex():
                try:
                    answer = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
                except OSError:
                    continue  # an interface without an IPv4 address
                found.append((name, socket.inet_ntoa(answer[20:24])))
    except (ImportError, OSError):
        pass
    return found


def machine_addresses(families: tuple[int, ...] = (4, 6)) -> list[Address]:
    """Every address of this machine, LAN first, then bridges, link-local, loopback (IPv4 before IPv6)."""
    seen = set()
    out = []
    for family, pairs in ((4, _ipv4()), (6, _ipv6())):
        if family not in families:
            continue
        for interface, address in pairs:
            if (interface, address) in seen:
                continue
            seen.add((interface, address))
            out.append(Address(interface, address, 4 if family == 4 else 6, kind_of(interface, address)))
    return sorted(out, key=lambda a: (ORDER[a.kind], a.family, a.interface, a.address))


def reachable_at(bound_host: str) -> list[Address]:
    """The addresses a server bound to `bound_host` can be reached at: itself, or for a wildcard
    (0.0.0.0 / ::) every address of the matching families."""
    try:
        ip = ipaddress.ip_address(bound_host.split("%", maxsplit=1)[0])
    except ValueError:
        return []
    if not ip.is_unspecified:
        return [Address("", str(ip), 4 if ip.version == 4 else 6, kind_of("", str(ip)))]
    # an IPv6 wildcard socket also takes IPv4 unless IPV6_V6ONLY: the lab's are dual-stack by default
    return machine_addresses((4,) if ip.version == 4 else (4, 6))
