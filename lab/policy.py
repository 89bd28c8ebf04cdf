"""What the lab may reach and where its servers may bind: so it is never an open proxy.

Loopback is always allowed; SOCKETLAB_ALLOW and SOCKETLAB_BIND widen that. Host names are
resolved first and *every* resolved address is checked, so a name that resolves to a forbidden
address is refused; the lab then connects to the address it checked, not to the name again.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from .errors import BadInput, Forbidden, Refused, os_problem, where

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[IPNetwork, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


@dataclass(frozen=True)
class Rule:
    network: IPNetwork
    low: int = 0
    high: int = 65535

    def allows(self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> bool:
        return addr.version == self.network.version and addr in self.network and self.low <= port <= self.high


def parse_rules(text: str, variable: str) -> list[Rule]:
    """Comma-separated CIDRs, addresses or host names, each optionally with `:port` or `:low-high`."""
    rules: list[Rule] = []
    for entry in filter(None, (e.strip() for e in text.split(","))):
        host, low, high = entry, 0, 65535
        if entry.startswith("["):  # [::1]:8000-9000, [fd00::/64]:8000-9000 or [fd00::]/64:8000-9000
            host, _, rest = entry[1:].partition("]")
            if rest.startswith("/"):
                prefix, _, rest = rest.partition(":")
                host, rest = host + prefix, ":" + rest if rest else ""
            ports = rest.removeprefix(":")
        elif entry.count(":") == 1:
            host, _, ports = entry.partition(":")
        else:
            ports = ""
        if ports:
            try:
                first, _, last = ports.partition("-")
                low, high = int(first), int(last or first)
            except ValueError:
                raise BadInput("policy-bad-port-range", variable=variable, entry=entry) from None
            if not 0 <= low <= high <= 65535:
                raise BadInput("policy-port-range-outside", variable=variable, entry=entry)
        try:
            networks = [ipaddress.ip_network(host, strict=False)]
        except ValueError:
            try:
                infos = socket.getaddrinfo(host, None)
            except socket.gaierror:
                raise BadInput("policy-bad-entry", variable=variable, entry=entry) from None
            networks = [ipaddress.ip_network(info[4][0]) for info in infos]
        rules.extend(Rule(net, low, high) for net in networks)
    return rules


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text.split("%", maxsplit=1)[0])


class Policy:
    """One policy (targets or binds): loopback plus configured rules."""

    def __init__(self, rules: list[Rule], variable: str, what: str) -> None:
        self.rules = [Rule(net) for net in LOOPBACK] + rules
        self.variable = variable
        self.what = what  # "reach" or "bind"
        self.described = ", ".join(str(r.network) + ("" if (r.low, r.high) == (0, 65535) else f":{r.low}-{r.high}")
                                   for r in self.rules)

    @classmethod
    def from_text(cls, text: str, variable: str, what: str) -> "Policy":
        return cls(parse_rules(text, variable), variable, what)

    def allows(self, ip: str, port: int) -> bool:
        addr = _ip(ip)
        mapped = getattr(addr, "ipv4_mapped", None)
        return any(rule.allows(addr, port) or (mapped is not None and rule.allows(mapped, port)) for rule in self.rules)

    def ports_for(self, ip: str) -> tuple[int, int] | None:
        """The port range a bind to `ip` must use, or None when any port (and 0) is fine."""
        addr = _ip(ip)
        ranges = [(r.low, r.high) for r in self.rules if addr.version == r.network.version and addr in r.network]
        if not ranges or any(rng == (0, 65535) for rng in ranges):
            return None
        return min(low for low, _ in ranges), max(high for _, high in ranges)

    def check(self, host: str, port: int, socktype: int, passive: bool = False) -> tuple[int, tuple[str, int]]:
        """Resolve host:port, check every address, and return (family, sockaddr) of the first."""
        try:
            infos = socket.getaddrinfo(host, port, 0, socktype, 0, socket.AI_PASSIVE if passive else 0)
        except socket.gaierror as exc:
            raise Refused.of(os_problem(exc, self.what, host, port)) from None
        except UnicodeError:
            raise BadInput("host-invalid", host=host[:253]) from None
        for info in infos:
            ip = str(info[4][0])
            # A bind is judged by its address; its port range is applied by the caller (ports_for).
            if not (self.ports_for(ip) is not None or self.allows(ip, port) if passive else self.allows(ip, port)):
                shown = ip if ip == host else f"{host} ({ip})"
                raise Forbidden(f"policy-forbids-{self.what}", address=where(shown, port), allowed=self.described,
                                variable=self.variable, ip=ip)
        family, _, _, _, sockaddr = infos[0]
        return family, (str(sockaddr[0]), int(sockaddr[1]))
