"""What the five wire lessons do with the lab (lessons 10-14 of lab/lessons/registry.py's registry): the
handshake, the four-way close and TIME_WAIT, RST, a send larger than the MSS, and TCP vs UDP
under real loss. Like lab/lessons/steps.py they use only the Lab's public methods, plus the kernel's
own tables (lab/sockets/tcptable.py) to show what no socket call returns: who is left in TIME_WAIT, and
the bytes a program never read.

The packets themselves are the capture's (lab/wire/, kind `packet`); these lessons make the traffic
worth watching and say, as data, what the kernel did.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from ..sockets import tcptable
from ..errors import Refused
from .steps import Built, Ids, Result, _clients, _make, _port, clear_run, try_client
from .loss_watch import LossWatch
from ..spec import LinkSpec
from ..sockets.tcp import TcpClient, TcpServer

if TYPE_CHECKING:
    from ..core import Lab

KERNEL_WAIT = 3.0  # seconds a step waits for the kernel to reach the state it shows (loopback: ms)
NEVER_READS_MS = 10_000  # the RST lesson's server: a busy program that does not read before it closes
BIG_SEND = "0123456789" * 20_000  # 200 000 bytes: several segments even at loopback's MSS (tens of kB)
LOSS = 0.2  # lesson 14's link: one packet in five dropped, in each direction
LOSS_COUNT = 200
LOSS_INTERVAL_MS = 10  # one message per segment: back to back, TCP would glue them into a few


def _until(check: Callable[[], Any], seconds: float = KERNEL_WAIT) -> Any:
    """The first true value of `check()` within `seconds`, else None (polled: the kernel tells no one)."""
    pause = threading.Event()
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() >= deadline:
            return found
        pause.wait(0.01)


def _where(address: tuple[str, int]) -> str:
    return f"{address[0]}:{address[1]}"


def _pair(lab: Lab, ids: Ids) -> tuple[TcpClient, str]:
    """The lesson's client, connected (a new one when the last was closed), and the id of the server's
    connection to it."""
    client = lab.endpoints.get(ids.get("client") or "")
    if not isinstance(client, TcpClient) or client.state != "connected":
        [ids["client"]] = _clients(lab, ids["server"], 1)
        client = lab.endpoints[ids["client"]]
        assert isinstance(client, TcpClient)
    server = lab.endpoint(ids["server"])
    assert isinstance(server, TcpServer) and client.local is not None
    conn = next((c.id for c in list(server.connections.values()) if tuple(c.peer) == tuple(client.local)), None)
    if conn is None:  # the server was stopped from its card meanwhile
        raise Refused("lesson-socket-gone", reason=f"the server has no connection from {_where(client.local)}")
    return client, conn


# -- 10. the three-way handshake --------------------------------------------------------------------

def build_handshake(lab: Lab) -> Built:
    return Built({"server": _make(lab, kind="tcp-server", port=0, mode="manual"), "clients": []})


def handshake_connect(lab: Lab, ids: Ids, _: Any) -> Result:
    ids["clients"] = ids.get("clients", []) + _clients(lab, ids["server"], 1)
    return {"ok": True}


# -- 11. the four-way close and TIME_WAIT -------------------------------------------------------------

def build_close(lab: Lab) -> Built:
    server = _make(lab, kind="tcp-server", port=0, mode="echo")
    [client] = _clients(lab, server, 1)
    return Built({"server": server, "client": client})


def _time_wait(client_side: tuple[str, int], server_side: tuple[str, int]) -> Result:
    """Which end of the connection the kernel keeps in TIME_WAIT, as a result the page words."""
    def waiting() -> Result | None:
        for code, local, remote in (("lesson-time-wait-client", client_side, server_side),
                                    ("lesson-time-wait-server", server_side, client_side)):
            row = tcptable.find(local, remote)
            if row is not None and row.state == "TIME_WAIT":
                return {"ok": True, "code": code, "params": {"address": _where(local)}}
        return None
    return _until(waiting) or {"ok": True, "code": "lesson-no-time-wait", "params": {}}


def client_closes(lab: Lab, ids: Ids, _: Any) -> Result:
    client, _conn = _pair(lab, ids)
    assert client.local is not None and client.remote is not None
    local, remote = tuple(client.local), tuple(client.remote)
    lab.remove(client.id)
    return _time_wait(local, remote)  # type: ignore[arg-type]


def server_closes(lab: Lab, ids: Ids, _: Any) -> Result:
    client, conn = _pair(lab, ids)
    assert client.local is not None and client.remote is not None
    lab.close_connection(ids["server"], conn)
    return _time_wait(tuple(client.local), tuple(client.remote))  # type: ignore[arg-type]


# -- 12. RST ----------------------------------------------------------------------------------------

def build_reset(lab: Lab) -> Built:
    gone = _make(lab, kind="tcp-server", port=0, mode="manual")
    closed_port = _port(lab, gone)  # a port that was just free: nothing listens there once it is gone
    lab.remove(gone)
    server = _make(lab, kind="tcp-server", port=0, mode="manual", recv_delay_ms=NEVER_READS_MS)
    [client] = _clients(lab, server, 1)
    return Built({"server": server, "client": client, "port": closed_port}, prefill={client: {"data": "nobody reads this"}})


def connect_closed(lab: Lab, ids: Ids, body: Any) -> Result:
    return try_client(lab, ids, body)  # SYN, then RST from the kernel: connection refused


def close_unread(lab: Lab, ids: Ids, _: Any) -> Result:
    """The client sends; the server closes before it ever reads: its kernel answers with RST."""
    client, conn = _pair(lab, ids)
    assert client.local is not None and client.remote is not None
    lab.send(client.id, {"data": "nobody reads this"})
    row = _until(lambda: (r := tcptable.find(tuple(client.remote), tuple(client.local))) and r.rx_queue and r)  # type: ignore[arg-type]
    unread = row.rx_queue if row else 0
    lab.close_connection(ids["server"], conn)
    return {"ok": True, "code": "lesson-closed-unread", "params": {"bytes": unread}}


# -- 13. a send larger than the MSS -------------------------------------------------------------------

def build_mss(lab: Lab) -> Built:
    server = _make(lab, kind="tcp-server", port=0, mode="manual")
    [client] = _clients(lab, server, 1)
    return Built({"server": server, "client": client})


def send_big(lab: Lab, ids: Ids, _: Any) -> Result:
    client, conn = _pair(lab, ids)
    server = lab.endpoint(ids["server"])
    assert isinstance(server, TcpServer)
    receiving = server.connection(conn)
    before = receiving.bytes_in
    lab.send(client.id, {"data": BIG_SEND})
    # the MSS once the bytes are through: the kernel's segment size grows after the first round trips
    _until(lambda: receiving.bytes_in - before >= len(BIG_SEND))
    info = client.conn.tcp_info() or {}
    return {"ok": True, "code": "lesson-big-send",
            "params": {"size": len(BIG_SEND), "mss": info.get("snd_mss", 0), "mtu": info.get("pmtu", 0)}}


# -- 14. TCP vs UDP under real loss -------------------------------------------------------------------

def build_loss(lab: Lab) -> Built:
    lab.link.check(LinkSpec(loss=LOSS))  # no kernel loss here: the lesson says why (a sentence), not a fake
    return Built({"run": None})


def loss_run(lab: Lab, ids: Ids, _: Any) -> Result:
    """The same numbered messages over a TCP echo pair and a UDP echo pair, both servers on a link
    that drops 20% of their packets in the kernel: UDP loses, TCP retransmits and delivers all."""
    clear_run(lab, ids)
    link = {"loss": LOSS}
    tcp_server = _make(lab, kind="tcp-server", port=0, mode="echo", framing="line", link=link)
    tcp_client = _make(lab, kind="tcp-client", port=_port(lab, tcp_server), framing="line")
    udp_server = _make(lab, kind="udp-server", port=0, mode="echo", link=link)
    udp_client = _make(lab, kind="udp-client", port=_port(lab, udp_server))
    ids["run"] = {"ids": {"tcpServer": tcp_server, "tcpClient": tcp_client, "udpServer": udp_server,
                          "udpClient": udp_client},
                  "settings": {"count": LOSS_COUNT, "interval": LOSS_INTERVAL_MS, "loss": round(LOSS * 100),
                               "duplicate": 0, "reorder": 0, "link": True},
                  "started": time.time()}
    burst = {"data": "ping", "repeat": LOSS_COUNT, "interval_ms": LOSS_INTERVAL_MS, "numbered": True}
    lab.send(tcp_client, burst)
    lab.send(udp_client, burst)
    # the panel settles on the lab's `settled` event (lab/lessons/loss_watch.py), judged from the data: under
    # real loss TCP may still be retransmitting long after the last send
    LossWatch(lab, ids["run"]["ids"], LOSS_COUNT, ids["run"]["started"]).start()
    return {"ok": True}
