"""What the nine lessons do with the lab: each lesson's build (the sockets it makes) and its actions
(the banner's buttons), using only the Lab's public methods, as the REST API does. Their words and
their order are lab/lessons/registry.py's registry.

Timing is never left to chance where the point depends on it: builds wait until their server has
accepted its clients, and the sticky-packet lesson's servers read slowly (`recv_delay_ms`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from ..errors import BadInput, LabError, Refused
from ..sockets.tcp import TcpServer

if TYPE_CHECKING:
    from ..core import Lab

Ids = dict[str, Any]  # names -> endpoint ids (or lists of them) that a lesson made
Result = dict[str, Any]  # {"ok": True} or {"ok": True, "code": message code, "params": {...}}

BROADCAST = "127.255.255.255"  # loopback's broadcast address: one machine, many receivers
HTTP_GET = "GET / HTTP/1.0\r\n\r\n"
SLOW_READER_MS = 200  # the sticky lesson's servers read this often: 20 sends pile up between two reads
BURST = {"data": "hello", "repeat": 20, "interval_ms": 0, "numbered": True}
ACCEPT_WAIT = 5.0  # seconds a build waits for its server to accept its clients (loopback: microseconds)


class Built(NamedTuple):
    """What a lesson's build made and what the page needs to show it."""

    ids: Ids
    prefill: dict[str, dict[str, Any]] | None = None  # endpoint id -> send box values (controller pages)
    link: str | None = None
    download: dict[str, Any] | None = None  # the Download form's preselection


# -- what lessons do with the lab -----------------------------------------------------------------

WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1"}  # a server on every address, as the lab's own clients reach it


def _make(lab: Lab, **spec: Any) -> str:
    """A socket of the lesson's; its servers listen on the lab's lesson host unless the lesson says."""
    if spec["kind"] in ("tcp-server", "udp-server"):
        spec.setdefault("host", lab.lesson_host)
    return lab.create(spec).id


def _near(host: str) -> str:
    """The address the lab's own clients use for a server bound to `host`."""
    return WILDCARDS.get(host, host)


def _port(lab: Lab, ep_id: str) -> int:
    local = lab.endpoint(ep_id).local
    assert local is not None  # a server is bound once made
    return local[1]


def _clients(lab: Lab, server: str, count: int, **spec: Any) -> list[str]:
    """`count` TCP clients of `server`, returned once the server has accepted them all: a client's
    connect() returns before the server's accept(), and a lesson's next step (stop listening, a relayed
    line) must not depend on which came first."""
    endpoint = lab.endpoint(server)
    assert isinstance(endpoint, TcpServer)
    before = endpoint.accepted
    clients = [_make(lab, kind="tcp-client", port=_port(lab, server), **spec) for _ in range(count)]
    endpoint.wait_accepted(before + count, ACCEPT_WAIT)
    return clients


def send_from(lab: Lab, ep_id: str, **body: Any) -> Result:
    lab.send(ep_id, body)
    return {"ok": True}


def _big_file(lab: Lab) -> str | None:
    """A sample file worth watching arrive: the 1 MiB one when the folder has it."""
    sizes = {str(f["name"]): int(str(f["size"])) for f in lab.files.listing()}
    if "random-1MB.bin" in sizes:
        return "random-1MB.bin"
    return max(sizes, key=lambda name: sizes[name]) if sizes else None


# -- 1. TCP echo --------------------------------------------------------------------------------

def build_echo(lab: Lab) -> Built:
    server = _make(lab, kind="tcp-server", port=0, mode="echo")
    [client] = _clients(lab, server, 1)  # accepted before "Send hello": connect, accept, then the data
    return Built({"server": server, "client": client}, prefill={client: {"data": "hello"}})


# -- 2. many clients ------------------------------------------------------------------------------

def build_clients(lab: Lab) -> Built:
    server = _make(lab, kind="tcp-server", port=0, mode="echo")
    clients = _clients(lab, server, 3)
    return Built({"server": server, "clients": clients},
                 prefill={c: {"data": f"client {i}"} for i, c in enumerate(clients, 1)})


def one_more(lab: Lab, ids: Ids, _: Any) -> Result:
    ids["clients"] += _clients(lab, ids["server"], 1)
    return {"ok": True}


def send_all(lab: Lab, ids: Ids, _: Any) -> Result:
    for i, client in enumerate(ids["clients"], 1):
        lab.send(client, {"data": f"client {i}"})
    return {"ok": True}


# -- 3. stop listening vs stop --------------------------------------------------------------------

def build_stop(lab: Lab) -> Built:
    server = _make(lab, kind="tcp-server", port=0, mode="echo")
    first, second = _clients(lab, server, 2)  # both accepted before "Stop listening" can be pressed
    return Built({"server": server, "port": _port(lab, server), "first": first, "second": second},
                 prefill={first: {"data": "still here?"}})


def try_client(lab: Lab, ids: Ids, _: Any) -> Result:
    """A new client after stop-listening: refused, which is the point (an answer, not an error)."""
    try:
        ids.setdefault("tried", []).append(_make(lab, kind="tcp-client", port=ids["port"]))
    except Refused as exc:
        # `cause`: the refusal as data, so a page words it in its own language
        return {"ok": True, "code": "lesson-refused", "params": {"reason": str(exc)},
                "cause": {"code": exc.code, "params": exc.params}}
    return {"ok": True, "code": "lesson-accepted", "params": {}}


def stop_listening(lab: Lab, ids: Ids, _: Any) -> Result:
    lab.stop_listening(ids["server"])
    return {"ok": True}


def stop_server(lab: Lab, ids: Ids, _: Any) -> Result:
    lab.remove(ids["server"])
    return {"ok": True}


# -- 4. sticky packets ----------------------------------------------------------------------------

def build_sticky(lab: Lab) -> Built:
    # the two servers first, so their cards sit side by side; both read slowly, as a busy program does
    raw = _make(lab, kind="tcp-server", port=0, mode="manual", recv_delay_ms=SLOW_READER_MS)
    line = _make(lab, kind="tcp-server", port=0, mode="manual", framing="line", recv_delay_ms=SLOW_READER_MS)
    [raw_client] = _clients(lab, raw, 1)
    [line_client] = _clients(lab, line, 1, framing="line")
    box = {"data": "hello", "repeat": 20, "interval": 0, "numbered": True}
    return Built({"raw": raw, "line": line, "rawClient": raw_client, "lineClient": line_client},
                 prefill={raw_client: box, line_client: box})


def burst(lab: Lab, ids: Ids, _: Any) -> Result:
    lab.send(ids["rawClient"], BURST)
    lab.send(ids["lineClient"], BURST)
    return {"ok": True}


# -- 5. file download -----------------------------------------------------------------------------

def build_files(lab: Lab) -> Built:
    file = _big_file(lab)
    if file is None:
        raise Refused("lesson-no-files")
    raw = _make(lab, kind="tcp-server", port=0, mode="file", file=file)
    framed = _make(lab, kind="tcp-server", port=0, mode="files", protocol="framed")
    return Built({"raw": raw, "framed": framed, "file": file},
                 download={"server": framed, "file": file, "protocol": "framed"})


def download(protocol: str) -> Callable[[Lab, Ids, Any], Result]:
    def run(lab: Lab, ids: Ids, _: Any) -> Result:
        server = lab.endpoint(ids[protocol])
        assert server.local is not None
        body: dict[str, Any] = {"host": _near(server.local[0]), "port": server.local[1], "protocol": protocol}
        if protocol == "framed":
            body["file"] = ids["file"]
        ids.setdefault("downloads", []).append(lab.start_download(body).id)
        return {"ok": True}
    return run


# -- 6. relay chat ----------------------------------------------------------------------------------

def build_relay(lab: Lab) -> Built:
    server = _make(lab, kind="tcp-server", port=0, mode="relay", framing="line")
    clients = _clients(lab, server, 3, framing="line")  # the relay knows all three before anyone sends
    first = "hello, class!"
    return Built({"server": server, "clients": clients},
                 prefill={c: {"data": first if i == 1 else f"hi from client {i}"} for i, c in enumerate(clients, 1)})


def relay_first(lab: Lab, ids: Ids, _: Any) -> Result:
    return send_from(lab, ids["clients"][0], data="hello, class!")


# -- 7. HTTP by hand --------------------------------------------------------------------------------

def build_http(lab: Lab) -> Built:
    server = _make(lab, kind="tcp-server", port=0, mode="http")
    local = lab.endpoint(server).local
    assert local is not None
    host, port = _near(local[0]), local[1]
    shown = f"[{host}]" if ":" in host else host
    return Built({"server": server}, link=f"http://{shown}:{port}/")


def get_by_hand(lab: Lab, ids: Ids, _: Any) -> Result:
    local = lab.endpoint(ids["server"]).local
    assert local is not None
    client = _make(lab, kind="tcp-client", host=_near(local[0]), port=local[1])
    ids.setdefault("clients", []).append(client)
    return send_from(lab, client, data=HTTP_GET)


# -- 8. UDP vs TCP under loss -----------------------------------------------------------------------

COMPARE_FIELDS = {"loss": (0, 100), "duplicate": (0, 100), "reorder": (0, 100), "seed": (-(2**31), 2**31),
                  "count": (1, 1000), "interval": (0, 2000)}
COMPARE_DEFAULTS = {"loss": 20, "duplicate": 5, "reorder": 10, "seed": 1, "count": 30, "interval": 50}


def compare_settings(body: Any) -> dict[str, int]:
    """The comparison's settings from a run body (defaults for what is left out), or a BadInput."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise BadInput("not-an-object", example='{"loss": 20, "seed": 1}')
    unknown = sorted(set(body) - set(COMPARE_FIELDS))
    if unknown:
        raise BadInput("unknown-field", kind="comparison run", field=str(unknown[0])[:40], fields=", ".join(COMPARE_FIELDS))
    settings = {}
    for name, (low, high) in COMPARE_FIELDS.items():
        value = body.get(name, COMPARE_DEFAULTS[name])
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise BadInput("number-out-of-range", field=name, low=low, high=high)
        settings[name] = int(value)
    return settings


def clear_run(lab: Lab, ids: Ids) -> None:
    """The sockets of the previous run of a comparison go before the next run's are made."""
    for old in (ids.get("run") or {}).get("ids", {}).values():
        try:
            lab.remove(old)
        except LabError:
            pass  # already gone (stopped from its card)
    ids["run"] = None


def compare_run(lab: Lab, ids: Ids, body: Any) -> Result:
    """One run: a TCP echo pair (line framing) and a UDP echo pair whose client goes through a
    seeded bad network, both sending the same numbered messages (the page tallies the echoes)."""
    s = compare_settings(body)
    clear_run(lab, ids)
    tcp_server = _make(lab, kind="tcp-server", port=0, mode="echo", framing="line")
    tcp_client = _make(lab, kind="tcp-client", port=_port(lab, tcp_server), framing="line")
    udp_server = _make(lab, kind="udp-server", port=0, mode="echo")
    impair = {"loss": s["loss"] / 100, "duplicate": s["duplicate"] / 100, "reorder": s["reorder"] / 100,
              "seed": s["seed"]}
    udp_client = _make(lab, kind="udp-client", port=_port(lab, udp_server), impair=impair)
    ids["run"] = {"ids": {"tcpServer": tcp_server, "tcpClient": tcp_client, "udpServer": udp_server,
                          "udpClient": udp_client}, "settings": s, "started": time.time()}
    burst = {"data": "ping", "repeat": s["count"], "interval_ms": s["interval"], "numbered": True}
    lab.send(tcp_client, burst)
    lab.send(udp_client, burst)
    return {"ok": True}


def build_compare(lab: Lab) -> Built:
    return Built({"run": None})


# -- 9. broadcast -----------------------------------------------------------------------------------

def build_broadcast(lab: Lab) -> Built:
    first = _make(lab, kind="udp-server", host=BROADCAST, port=0, mode="manual")
    port = _port(lab, first)
    servers = [first] + [_make(lab, kind="udp-server", host=BROADCAST, port=port, mode="manual") for _ in range(2)]
    client = _make(lab, kind="udp-client", host=BROADCAST, port=port, broadcast=True)
    return Built({"servers": servers, "client": client}, prefill={client: {"data": "hello, everyone"}})


def broadcast(lab: Lab, ids: Ids, _: Any) -> Result:
    return send_from(lab, ids["client"], data="hello, everyone")
