"""bench/echo_gil.py's server and its figures: the server echoes byte for byte after its Python work, its
usage counts every thread (those that served and ended too), and a measure's figures come from real
round trips. No timing thresholds: the counts are checked, not the rates."""

from __future__ import annotations

import socket

from bench import echo_gil


def test_the_work_server_echoes_and_counts_its_ended_threads() -> None:
    server = echo_gil.WorkServer(200)
    try:
        before = server.usage()
        for round_ in range(3):  # a connection (and its thread) each, ended before the usage is read
            with socket.create_connection(("127.0.0.1", server.port)) as s:
                message = bytes(range(64)) * (round_ + 1)
                s.sendall(message)
                got = b""
                while len(got) < len(message):
                    got += s.recv(4096)
                assert got == message
        spent = server.usage() - before
        assert spent.user + spent.system > 0 and spent.switches >= 3  # (each thread blocked in recv at least once)
    finally:
        server.close()


def test_a_measure_reports_real_round_trips() -> None:
    figure = echo_gil.measure(work=10, connections=2, rounds=1, seconds=0.2)
    assert figure.work == 10 and figure.connections == 2
    assert figure.rate > 0 and figure.switches > 0 and figure.user_us + figure.system_us > 0


def test_the_selector_design_serves_several_connections_from_one_thread() -> None:
    server = echo_gil.WorkServer(50, "selector")
    try:
        clients = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(3)]
        try:
            for round_ in range(2):
                for i, s in enumerate(clients):  # each gets its own bytes back, whatever the order
                    message = bytes([i]) * (64 + round_)
                    s.sendall(message)
                    got = b""
                    while len(got) < len(message):
                        got += s.recv(4096)
                    assert got == message
        finally:
            for s in clients:
                s.close()
    finally:
        server.close()
    figure = echo_gil.measure(work=10, connections=2, rounds=1, seconds=0.2, design="selector")
    assert figure.design == "selector" and figure.rate > 0 and figure.user_us + figure.system_us > 0
