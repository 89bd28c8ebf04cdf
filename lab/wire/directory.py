"""Which lab socket a packet belongs to, by its 4-tuple: a snapshot of the lab's sockets.

The capture thread never walks the lab's dicts per packet: it asks a `Directory`, built from the
endpoints and downloads when something changed, and caches each flow's owner once it is known.
A packet between two lab sockets (a lab client and a lab server) belongs to one of them, chosen
the same way every time: the receiving side's, else the sending side's.

A TCP client owns only its connection's 4-tuple, never its port: the kernel gives the same
ephemeral port to connections towards other addresses (a browser's, say), which are no lab traffic.

A client's connect() sends its SYN before the client is an endpoint of the lab (the endpoint is
made by connecting), so the lab says beforehand which port a new client or download will reach
(`expect`): such a packet belongs to it until the client is known, or for `EXPECT_SECONDS`.
"""

from __future__ import annotations

from typing import Any, Iterable, NamedTuple

Address = tuple[str, int]
WILDCARDS = ("0.0.0.0", "::", "")


class Owner(NamedTuple):
    endpoint: str
    conn: str | None
    local: Address  # the lab socket's end of the packet
    peer: Address
    exact: bool  # final: the capture may cache it for the flow's life


class Expected(NamedTuple):
    owner: str  # the endpoint or download id that is connecting
    proto: str
    port: int
    since: float


class Directory:
    def __init__(self, endpoints: Iterable[Any], downloads: Iterable[Any], expected: Iterable[Expected]) -> None:
        self.conns: dict[tuple[str, Address, Address], tuple[str, str | None]] = {}
        self.bound: dict[tuple[str, int], list[tuple[str, str]]] = {}
        self.expected: dict[tuple[str, int], str] = {}
        self.ports: set[int] = set()
        for ep in endpoints:
            proto = getattr(ep, "proto", "tcp")
            if ep.local is not None:
                self.ports.add(ep.local[1])
                # a TCP client's port is no listener: another program's connection may get the same
                # ephemeral port towards another address (the kernel shares it): only its 4-tuple is the client's
                if not (proto == "tcp" and getattr(ep, "kind", "") == "tcp-client"):
                    self.bound.setdefault((proto, ep.local[1]), []).append((ep.local[0], ep.id))
            if ep.remote is not None:
                self.ports.add(ep.remote[1])
            client = getattr(ep, "conn", None)
            conns = list(getattr(ep, "connections", {}).values()) + ([client] if client is not None else [])
            for conn in conns:
                self.conns[(proto, _norm(conn.local), _norm(conn.peer))] = (ep.id, conn.id)
        for dl in downloads:
            if getattr(dl, "state", "") == "running":
                self.ports.add(int(dl.port))
                self.expected[("tcp", int(dl.port))] = dl.id
                local, peer = getattr(dl, "local", None), getattr(dl, "peer", None)
                if local is not None and peer is not None:  # connected: its 4-tuple is its own, for good
                    self.conns[("tcp", _norm(local), _norm(peer))] = (dl.id, None)
        for ex in expected:
            self.ports.add(ex.port)
            self.expected.setdefault((ex.proto, ex.port), ex.owner)

    def owner(self, proto: str, src: Address, dst: Address) -> Owner | None:
        """The receiving lab socket, else the sending one (the same answer whatever the timing,
        except that a connection's id is None until its accept() is known)."""
        return self._end(proto, dst, src) or self._end(proto, src, dst)

    def _end(self, proto: str, here: Address, there: Address) -> Owner | None:
        """The lab socket at `here`, if any: a connection (final: cached for the flow's life), a
        bound port (a listener, whose accepted socket may come), or a client on its way to `there`."""
        found = self.conns.get((proto, here, there))
        if found:
            return Owner(found[0], found[1], here, there, True)
        ep = self._bound(proto, here)
        if ep is not None:  # final for UDP, which has no connections; a TCP listener's accept may come
            return Owner(ep, None, here, there, proto == "udp")
        waiting = self.expected.get((proto, there[1]))  # (`here` is no lab socket yet: the one connecting)
        if waiting is not None:
            return Owner(waiting, None, here, there, False)
        return None

    def endpoints_of(self, proto: str, src: Address, dst: Address) -> frozenset[str]:
        """Every lab endpoint at either end (a pcap of one endpoint takes these frames)."""
        ids = set()
        for a, b in ((src, dst), (dst, src)):
            conn = self.conns.get((proto, a, b))
            if conn:
                ids.add(conn[0])
            ep = self._bound(proto, a)
            if ep is not None:
                ids.add(ep)
            waiting = self.expected.get((proto, b[1]))
            if waiting is not None and conn is None and ep is None:
                ids.add(waiting)
        return frozenset(ids)

    def _bound(self, proto: str, address: Address) -> str | None:
        for host, ep in self.bound.get((proto, address[1]), ()):
            if host == address[0] or host in WILDCARDS:
                return ep
        return None


def _norm(address: Any) -> Address:
    return (str(address[0]), int(address[1]))
