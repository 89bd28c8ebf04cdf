"""Whose a packet is (lab/wire/directory.py), from hand-made endpoints: the cases a busy machine
brings, where another program's traffic shares a port number with a lab socket."""

from __future__ import annotations

from types import SimpleNamespace

from lab.wire.directory import Directory

SERVER = ("127.0.0.1", 40000)
CLIENT = ("127.0.0.1", 52848)
ELSEWHERE = ("127.0.0.1", 38967)  # e.g. the dashboard's own web server


def lab_pair() -> Directory:
    conn = SimpleNamespace(id="c1", local=SERVER, peer=CLIENT)
    server = SimpleNamespace(id="e1", kind="tcp-server", proto="tcp", local=SERVER, remote=None, connections={"c1": conn})
    own = SimpleNamespace(id="c", local=CLIENT, peer=SERVER)
    client = SimpleNamespace(id="e2", kind="tcp-client", proto="tcp", local=CLIENT, remote=SERVER, conn=own, connections={})
    return Directory([server, client], [], [])


def test_another_programs_connection_from_a_lab_clients_port_is_not_the_clients() -> None:
    # the kernel gave the browser's connection to the dashboard the same ephemeral port as the lab's client
    d = lab_pair()
    assert d.owner("tcp", CLIENT, ELSEWHERE) is None
    assert d.owner("tcp", ELSEWHERE, CLIENT) is None
    assert d.endpoints_of("tcp", CLIENT, ELSEWHERE) == frozenset()
    assert CLIENT[1] in d.ports  # (the filter still passes the port: the client's own packets need it)


def test_the_lab_clients_own_connection_is_still_found_both_ways() -> None:
    d = lab_pair()
    to_server, back = d.owner("tcp", CLIENT, SERVER), d.owner("tcp", SERVER, CLIENT)
    assert to_server is not None and back is not None
    assert (to_server.endpoint, to_server.conn, to_server.exact) == ("e1", "c1", True)  # the receiving side's
    assert (back.endpoint, back.conn, back.exact) == ("e2", "c", True)


def test_a_udp_clients_port_still_takes_any_datagram_to_it() -> None:
    # an unconnected UDP socket receives from anyone: a datagram to its port is its own
    client = SimpleNamespace(id="e3", kind="udp-client", proto="udp", local=CLIENT, remote=SERVER)
    found = Directory([client], [], []).owner("udp", ELSEWHERE, CLIENT)
    assert found is not None and found.endpoint == "e3"


def test_a_connected_download_owns_its_four_tuple_for_good() -> None:
    # a download is no endpoint: before it connects, only the port it goes to says the packets are its
    # own (not final); once connected its 4-tuple is, and the capture may cache it for the flow's life
    # (before, every frame of a 1 GiB download looked its owner up again: 17% of the lab's GIL, py-spy)
    waiting = SimpleNamespace(id="d1", state="running", port=SERVER[1], local=None, peer=None)
    before = Directory([], [waiting], []).owner("tcp", SERVER, CLIENT)
    assert before is not None and (before.endpoint, before.exact) == ("d1", False)
    connected = SimpleNamespace(id="d1", state="running", port=SERVER[1], local=CLIENT, peer=SERVER)
    d = Directory([], [connected], [])
    found = d.owner("tcp", SERVER, CLIENT)
    assert found is not None and (found.endpoint, found.conn, found.exact) == ("d1", None, True)
    assert d.owner("tcp", SERVER, ELSEWHERE) is not None  # (another connection to that server: not final)
    assert not d.owner("tcp", SERVER, ELSEWHERE).exact
    done = SimpleNamespace(id="d1", state="done", port=SERVER[1], local=CLIENT, peer=SERVER)
    assert Directory([], [done], []).owner("tcp", SERVER, CLIENT) is None
