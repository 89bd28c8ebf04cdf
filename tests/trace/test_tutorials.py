"""The tutorials' programs, unmodified, under the tracer: against lab endpoints and each other.

Each program's output is byte-for-byte what it prints untraced, and its events in ev:{name} are
the calls it made, in order, with the fields the lab's own events carry.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from typing import Any

from lab import Lab

from ..redis_server import RedisServer
from .helpers import calls, run, shipped, start


def test_the_echo_client_against_a_lab_echo_server(lab: Lab, redis_server: RedisServer) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo"})
    port = str(server.local[1])
    plain = run("echo_client.py", port, "hello", "world")
    traced = run("echo_client.py", port, "hello", "world", redis_url=redis_server.url)
    assert traced.returncode == plain.returncode == 0, traced.stderr
    assert traced.stdout == plain.stdout == b"echo: hello\necho: world\n"
    events = shipped(redis_server.url, "echo_client")
    kinds = [(e["kind"], e["call"]) for e in events]
    assert kinds[:2] == [("setup", "socket"), ("connect", "connect")]  # (create_connection: no timeout given)
    assert kinds[-1] == ("close", "close")
    sends = [e for e in events if e["kind"] == "send"]
    assert [(s["call"], s["data"], s["result"]) for s in sends] == [("sendall", "hello", 5), ("sendall", "world", 5)]
    recvs = [e for e in events if e["kind"] == "recv"]
    assert b"".join(r["data"].encode() for r in recvs) == b"helloworld"
    assert all(r["args"]["bufsize"] == 1024 and r["args"]["thread"] == "MainThread" for r in recvs)
    connect = next(e for e in events if e["kind"] == "connect")
    assert connect["peer"] == ["127.0.0.1", server.local[1]] and connect["endpoint"] == "s1@echo_client"
    assert all(e["agent"] == "echo_client" for e in events)
    every = shipped(redis_server.url, "echo_client", output=True)  # (its socket calls and what it printed)
    assert [e["seq"] for e in every] == list(range(1, len(every) + 1))  # nothing lost, nothing doubled
    assert "".join(e["args"]["text"] for e in every if e["kind"] == "output") == "echo: hello\necho: world\n"


def test_a_traced_echo_server_and_a_traced_client(redis_server: RedisServer) -> None:
    url = redis_server.url
    server = start("echo_server.py", redis_url=url, name="alice")
    assert server.stdout is not None
    port = server.stdout.readline().decode().strip()
    client = run("echo_client.py", port, "one", "two", redis_url=url, name="bob")
    out, err = server.communicate(timeout=60)
    assert server.returncode == 0 and client.returncode == 0, (err, client.stderr)
    assert out == b"server done\n" and client.stdout == b"echo: one\necho: two\n"
    expected = [("s1@alice", "setup", "socket"), ("s1@alice", "setup", "setsockopt"), ("s1@alice", "setup", "bind"),
                ("s1@alice", "listen", "listen"), ("s2@alice", "accept", "accept")]
    alice = shipped(url, "alice")
    assert calls(alice)[:5] == expected
    assert calls(alice)[-3:] == [("s2@alice", "recv", "recv"), ("s2@alice", "close", "close"), ("s1@alice", "close", "close")]
    assert alice[-3]["result"] == 0  # the client closed: recv returned b""
    accept = alice[4]
    bob = shipped(url, "bob")
    connect = next(e for e in bob if e["kind"] == "connect")
    assert accept["result"] == connect["local"] and accept["local"] == connect["peer"]  # the two ends, by address
    echoed = [e["data"] for e in alice if e["kind"] == "send"]
    assert "".join(echoed) == "onetwo"
    assert not [e for e in alice + bob if e["kind"] == "error"]  # both closed everything


def test_a_traced_udp_server_and_client(redis_server: RedisServer) -> None:
    url = redis_server.url
    server = start("udp_server.py", redis_url=url)
    assert server.stdout is not None
    port = server.stdout.readline().decode().strip()
    client = run("udp_client.py", port, "hi", "quit", redis_url=url)
    out, err = server.communicate(timeout=60)
    assert client.stdout == b"answer: HI\nanswer: QUIT\n" and out == b"udp server done\n", (err, client.stderr)
    srv = shipped(url, "udp_server")
    assert [(e["kind"], e["call"]) for e in srv] == [
        ("setup", "socket"), ("listen", "bind"), ("recv", "recvfrom"), ("send", "sendto"),
        ("recv", "recvfrom"), ("send", "sendto"), ("close", "close")]
    assert all(e["proto"] == "udp" for e in srv)
    cli = shipped(url, "udp_client")
    first_send = next(e for e in cli if e["kind"] == "send")
    assert first_send["local"] is not None and first_send["peer"] == ["127.0.0.1", int(port)]  # the OS bound it
    assert srv[2]["peer"][1] == first_send["local"][1]  # (its local host is 0.0.0.0: getsockname says so)


def test_the_downloader_reads_until_eof(redis_server: RedisServer, lab: Lab) -> None:
    body = bytes(range(256)) * 1000
    listener = socket.create_server(("127.0.0.1", 0))
    port = str(listener.getsockname()[1])

    def serve(times: int) -> None:
        for _ in range(times):
            conn, _ = listener.accept()
            with conn:
                conn.sendall(body)

    server = threading.Thread(target=serve, args=(2,))
    server.start()
    try:
        plain = run("downloader.py", port)
        traced = run("downloader.py", port, redis_url=redis_server.url)
    finally:
        server.join(60)
        listener.close()
    assert traced.stdout == plain.stdout == f"{len(body)} {hashlib.sha256(body).hexdigest()}\n".encode()
    events = shipped(redis_server.url, "downloader")
    recvs = [e for e in events if e["kind"] == "recv"]
    assert sum(e["result"] for e in recvs) == len(body) and recvs[-1]["result"] == 0
    assert all(len(e["hex"].split()) <= 64 for e in recvs)  # previews are capped as the lab's are


def test_the_classic_mistakes_carry_hints(redis_server: RedisServer) -> None:
    plain = run("mistakes.py")
    traced = run("mistakes.py", redis_url=redis_server.url)
    assert traced.stdout == plain.stdout and traced.returncode == plain.returncode == 0, traced.stderr
    errors = [e for e in shipped(redis_server.url, "mistakes") if e["kind"] == "error"]
    found: dict[str, Any] = {e["code"]: e for e in errors}
    assert found["recv-on-listening-socket"]["errno"] == "ENOTCONN"
    assert found["send-str"]["call"] == "send" and found["send-str"]["params"] == {"call": "send"}
    assert found["port-in-use"]["call"] == "bind" and found["port-in-use"]["errno"] == "EADDRINUSE"
    assert found["connection-refused"]["call"] == "connect"
    assert found["socket-never-closed"]["params"] == {"socket": "s1@mistakes"}
    assert [e["code"] for e in errors] == ["recv-on-listening-socket", "send-str", "port-in-use",
                                           "connection-refused", "socket-never-closed"]


def test_a_single_recv_on_a_message_in_two_pieces_gets_its_hint(redis_server: RedisServer) -> None:
    plain = run("one_recv.py")
    traced = run("one_recv.py", redis_url=redis_server.url)
    assert traced.stdout == plain.stdout == b"server got: b'first half, '\n" and traced.returncode == 0, traced.stderr
    events = shipped(redis_server.url, "one_recv")
    hint = next(e for e in events if e["kind"] == "error")
    assert hint["code"] == "recv-missed-pieces" and hint["params"] == {"socket": hint["endpoint"], "unread": 11}
    assert hint["args"] == {"unread": 11, "thread": "MainThread"}
    after = events[events.index(hint) + 1:]
    assert next(e for e in after if e["endpoint"] == hint["endpoint"])["kind"] == "close"
    assert {e["args"]["thread"] for e in events if e["kind"] == "send"} == {"client", "MainThread"}  # threads, named
    # and what it costs: closing with unread bytes resets the connection, which the client's recv reports
    assert [(e["code"], e["args"]["thread"]) for e in events if e["kind"] == "error"] == [
        ("recv-missed-pieces", "MainThread"), ("connection-reset", "client")]


def test_http_server_and_urllib_are_traced_through_socketserver(redis_server: RedisServer) -> None:
    plain = run("http_pair.py")
    traced = run("http_pair.py", redis_url=redis_server.url)
    assert traced.stdout == plain.stdout == b"200 hello from http.server\n" and traced.returncode == 0, traced.stderr
    events = shipped(redis_server.url, "http_pair")
    listen = next(e for e in events if e["kind"] == "listen")
    accept = next(e for e in events if e["kind"] == "accept")
    connect = next(e for e in events if e["kind"] == "connect")
    assert accept["local"] == listen["local"] == connect["peer"] and accept["result"] == connect["local"]
    served = [e for e in events if e["endpoint"] == accept["endpoint"]]
    request = next(e for e in served if e["kind"] == "recv")
    assert request["call"] == "recv_into" and request["data"].startswith("GET / HTTP/1.1")  # (rfile: makefile)
    assert request["args"]["thread"].startswith("Thread-")  # ThreadingHTTPServer's thread per request
    answer = [e for e in served if e["kind"] == "send"]  # (wfile: the headers, then the body; previews of 64 bytes)
    assert answer[0]["data"].startswith("HTTP/1.0 200 OK") and answer[-1]["data"] == "hello from http.server\n"
    client = [e for e in events if e["endpoint"] == connect["endpoint"]]
    assert any(e["kind"] == "send" and e["data"].startswith("GET / HTTP/1.1") for e in client)
    got = [e for e in client if e["kind"] == "recv"]
    assert got[0]["data"].startswith("HTTP/1.0 200 OK")
    assert sum(e["result"] for e in got) == sum(e["result"] for e in answer)  # every byte sent, received


def test_a_thread_renamed_after_its_first_call_is_shown_under_its_new_name(redis_server: RedisServer) -> None:
    traced = run("renamed.py", redis_url=redis_server.url)
    assert traced.stdout == b"done\n" and traced.returncode == 0, traced.stderr
    recvs = [e for e in shipped(redis_server.url, "renamed") if e["kind"] == "recv"]
    assert [(e["data"], e["args"]["thread"]) for e in recvs] == [
        ("1", "MainThread"), ("2", "server"), ("3", "worker-1"), ("4", "worker-2")]
