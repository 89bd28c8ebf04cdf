"""The lab's own side of the exercises that serve a student's client: real servers made through the LabClient
on a real Lab, real student programs run under the real tracer (`python -m agent.trace` over a real
redis-server), judged from their events and from what the lab's servers saw. The textbook programs pass every
lab check; each classic mistake fails exactly its check, with its reason; hostile clients cost a bounded
amount and leave no thread or fd behind."""

from __future__ import annotations

import hashlib
import socket
import threading
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from lab.client import LocalClient
from lab.core import Lab
from lab.exercises.registry import EXERCISES, exercise, reason_text
from lab.exercises.results import FAIL, PASS, Result
from lab.sockets.endpoint import Limits
from lab.exercises.serving import FILE_NAME, FILE_SIZE, JUDGES, QUESTIONS, LabSide, lab_side
from lab.sockets.handlers import LINES, LINES_TEXT, NAME_SHOWN, line_pieces

from ..redis_server import RedisServer
from ..conftest import RUNNERS
from ..support import Resources, wait_until
from ..trace.helpers import shipped
from .traced import Traced

WAIT = 30  # seconds: generous, for a loaded machine; nothing here waits that long when it works


@contextmanager
def serving(lab: Lab, key: str) -> Iterator[tuple[LabSide, dict[str, Any]]]:
    side = LabSide(exercise(key), LocalClient(lab), "127.0.0.1")
    started = side.start()
    try:
        yield side, started
    finally:
        side.close()


def judged(lab: Lab, url: str, key: str, program: str, *args: str) -> tuple[dict[str, Result], str, dict[str, Any]]:
    """`program` run traced against the exercise's lab side: the lab checks, what it printed, the stage's part."""
    with serving(lab, key) as (side, started):
        traced = Traced(url, program, str(started["servers"][0]["port"]), *args)
        try:
            out, err = traced.finish()
        finally:
            traced.stop()
        assert traced.process.returncode == 0, err.decode()
        return side.results(shipped(url, traced.name, output=True)), out.decode(), started


def states(results: dict[str, Result]) -> dict[str, str]:
    return {code: r.state for code, r in results.items()}


def test_every_lab_check_of_an_exercise_the_lab_serves_has_a_judge() -> None:
    for ex in EXERCISES.values():
        assert lab_side(ex) == (ex.role == "serves")
        for check in ex.checks:
            if check.side == "lab":
                assert lab_side(ex) and (ex.key, check.code) in JUDGES, (ex.key, check.code)
    assert {key for key, _ in JUDGES} == {e.key for e in EXERCISES.values() if lab_side(e)}


def test_start_makes_lanes_the_class_sees_and_a_file_of_known_size_and_checksum(lab: Lab) -> None:
    with serving(lab, "downloader") as (side, started):
        [server] = started["servers"]
        assert server == {"proto": "tcp", "host": "127.0.0.1", "port": server["port"], "role": "file"}
        assert any(e.local == ("127.0.0.1", server["port"]) and e.mode == "file" for e in lab.endpoints.values())
        data = (lab.files.root / FILE_NAME).read_bytes()
        assert started["file"] == {"name": FILE_NAME, "size": FILE_SIZE, "sha256": hashlib.sha256(data).hexdigest()}
    with serving(lab, "downloader") as (_, again):  # seeded: the same file, every run
        assert again["file"] == started["file"]
    with serving(lab, "udp-retry") as (_, udp):
        assert udp["servers"][0]["proto"] == "udp" and udp["servers"][0]["questions"] == QUESTIONS and udp["file"] is None
    assert not lab.endpoints  # close() removed them


def test_the_textbook_client_is_greeted_and_the_lab_saw_its_name(lab: Lab, redis_server: RedisServer) -> None:
    results, out, _ = judged(lab, redis_server.url, "client", "client.py", "Ann")
    assert out == "Hello, Ann!\n\n" and states(results) == {"name-received": PASS}


def test_a_client_that_sends_nothing_fails_name_received(lab: Lab, redis_server: RedisServer) -> None:
    results, _, _ = judged(lab, redis_server.url, "client", "client_silent.py")
    assert states(results) == {"name-received": FAIL}
    assert results["name-received"].reason == "no-name" and results["name-received"].params == {"received": 0}


def test_the_textbook_downloader_receives_the_file_and_prints_its_sha256(lab: Lab, redis_server: RedisServer,
                                                                        tmp_path: Path) -> None:
    results, out, started = judged(lab, redis_server.url, "downloader", "downloader.py", str(tmp_path / "got.bin"))
    assert out == started["file"]["sha256"] + "\n"
    assert (tmp_path / "got.bin").read_bytes() == (lab.files.root / FILE_NAME).read_bytes()
    assert states(results) == {"file-size": PASS, "file-sha256": PASS}


def test_a_downloader_with_one_recv_misses_bytes(lab: Lab, redis_server: RedisServer, tmp_path: Path) -> None:
    results, out, started = judged(lab, redis_server.url, "downloader", "downloader_one_recv.py", str(tmp_path / "got.bin"))
    assert states(results) == {"file-size": FAIL, "file-sha256": FAIL}  # (it printed the checksum of what it got)
    size = results["file-size"]
    assert size.reason == "file-cut-short" and 0 < size.params["got"] <= 4096 and size.params["size"] == FILE_SIZE
    assert results["file-sha256"].params == {"printed": out[:16], "expected": started["file"]["sha256"][:16]}
    assert reason_text(size.reason, size.params, "zh") == f"你的程序只收到了文件 {FILE_SIZE} 字节中的 {size.params['got']} 字节。"


def test_a_sha256_printed_of_a_file_not_yet_flushed_fails_only_the_checksum(lab: Lab, redis_server: RedisServer,
                                                                           tmp_path: Path) -> None:
    results, out, _ = judged(lab, redis_server.url, "downloader", "downloader_unflushed.py", str(tmp_path / "got.bin"))
    assert states(results) == {"file-size": PASS, "file-sha256": FAIL}  # every byte arrived; the file had none yet
    assert out == hashlib.sha256(b"").hexdigest() + "\n"
    assert results["file-sha256"].reason == "sha256-differs"


def test_the_textbook_file_request_gets_the_file_it_asked_for(lab: Lab, redis_server: RedisServer, tmp_path: Path) -> None:
    results, _, _ = judged(lab, redis_server.url, "file-request", "file_request.py", FILE_NAME, str(tmp_path / "got.bin"))
    assert states(results) == {"request-line": PASS, "file-sha256": PASS}
    assert (tmp_path / "got.bin").read_bytes() == (lab.files.root / FILE_NAME).read_bytes()


def test_a_request_without_its_newline_leaves_the_server_waiting(lab: Lab, redis_server: RedisServer, tmp_path: Path) -> None:
    results, out, _ = judged(lab, redis_server.url, "file-request", "file_request_no_newline.py", FILE_NAME,
                             str(tmp_path / "got.bin"))
    assert out == "no answer\n"
    assert states(results) == {"request-line": FAIL, "file-sha256": FAIL}  # (nothing came: no file either)
    assert results["request-line"].reason == "no-newline" and results["request-line"].params == {"sent": len(FILE_NAME)}
    assert results["file-sha256"].params == {"got": 0, "size": FILE_SIZE}


def test_the_lines_come_in_odd_pieces() -> None:
    pieces = line_pieces(LINES_TEXT)
    assert b"".join(pieces) == LINES_TEXT and len(pieces) > len(LINES)
    assert any(not p.endswith(b"\n") and b"\n" not in p for p in pieces)  # a piece inside a line
    assert any(p.count(b"\n") >= 2 for p in pieces)  # two lines glued in one piece
    assert any(not _decodes(p) for p in pieces)  # a cut inside a UTF-8 character


def _decodes(piece: bytes) -> bool:
    try:
        piece.decode()
    except UnicodeDecodeError:
        return False
    return True


def test_the_textbook_line_reader_prints_every_line_whole(lab: Lab, redis_server: RedisServer) -> None:
    results, out, _ = judged(lab, redis_server.url, "line-reader", "line_reader.py")
    assert out == LINES_TEXT.decode() and states(results) == {"lines-whole": PASS}


@pytest.mark.parametrize("program", ["line_reader_pieces.py", "line_reader_one_recv.py"])
def test_a_line_reader_that_prints_pieces_fails_lines_whole(lab: Lab, redis_server: RedisServer, program: str) -> None:
    results, _, _ = judged(lab, redis_server.url, "line-reader", program)
    assert states(results) == {"lines-whole": FAIL}
    broken = results["lines-whole"]
    assert broken.reason == "line-broken" and broken.params["line"] == LINES[broken.params["n"] - 1]


def test_the_textbook_udp_client_gets_every_answer_despite_the_loss(lab: Lab, redis_server: RedisServer) -> None:
    results, out, _ = judged(lab, redis_server.url, "udp-retry", "questions.py", str(QUESTIONS))
    assert out.split("\n")[:-1] == [f"answer {n}" for n in range(1, QUESTIONS + 1)]
    assert states(results) == {"every-answer": PASS}


def test_a_udp_client_without_retry_misses_the_lost_answers(lab: Lab, redis_server: RedisServer) -> None:
    results, out, _ = judged(lab, redis_server.url, "udp-retry", "questions_no_retry.py", str(QUESTIONS))
    assert states(results) == {"every-answer": FAIL}
    missing = results["every-answer"].params
    assert missing["questions"] == QUESTIONS and 0 < missing["got"] < QUESTIONS  # (seeded: the same ones every run)
    assert [f"no answer to {n}" in out for n in map(int, missing["missing"].split(", "))] == [True] * (QUESTIONS - missing["got"])


def test_a_check_stays_pending_until_the_program_settles_it(lab: Lab) -> None:
    with serving(lab, "line-reader") as (side, started):
        port = started["servers"][0]["port"]
        connect = {"seq": 1, "endpoint": "s1@ann", "kind": "connect", "proto": "tcp", "local": ["127.0.0.1", 40000],
                   "peer": ["127.0.0.1", port]}
        first = {"seq": 2, "endpoint": "", "kind": "output", "proto": "", "args": {"text": LINES[0] + "\n"}}
        assert side.results([connect, first]) == {}  # reading on: nothing settled yet
        close = {"seq": 3, "endpoint": "s1@ann", "kind": "close", "proto": "tcp", "args": {"received": 40}}
        assert states(side.results([connect, first, close])) == {"lines-whole": FAIL}  # closed with lines missing
        assert side.results([{**connect, "peer": ["127.0.0.1", port + 1]}, first, close]) == {}  # not our server


# -- abuse: what a hostile client costs the lab's servers ---------------------------------------------

def test_a_client_that_never_sends_holds_no_one_up(lab: Lab) -> None:
    resources = Resources.now()
    with serving(lab, "client") as (side, started):
        address = ("127.0.0.1", started["servers"][0]["port"])
        with socket.create_connection(address, timeout=WAIT) as silent:
            with socket.create_connection(address, timeout=WAIT) as other:
                other.sendall(b"Bo\n")
                assert other.recv(1024) == b"Hello, Bo!\n"
            seen = side.seen("greet")
            assert seen[silent.getsockname()]["name"] is None
    resources.settled(timeout=WAIT)


def test_a_ten_megabyte_name_is_read_and_let_go(lab: Lab) -> None:
    resources = Resources.now()
    with serving(lab, "client") as (side, started):
        address = ("127.0.0.1", started["servers"][0]["port"])
        name = b"A" * (10 << 20)  # (made before the count starts: the lab's memory is what is measured)
        tracemalloc.start()
        try:
            with socket.create_connection(address, timeout=WAIT) as flood:
                flood.sendall(name)  # (the server reads it all: no thread of this test's own)
                greeting = flood.recv(1024)
                local = flood.getsockname()
                wait_until(lambda: side.seen("greet")[local]["received"] == 10 << 20, WAIT)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert greeting == b"Hello, " + b"A" * NAME_SHOWN + b"!\n"
        assert side.seen("greet")[local]["name"] == "A" * NAME_SHOWN
        assert peak < 2 << 20  # bounded: a few receive buffers, never the name
    resources.settled(timeout=WAIT)


def test_a_client_that_never_reads_the_download_does_not_block_the_server(folders: dict[str, Path]) -> None:
    """Served meanwhile, others get the file whole; the one that never reads is closed by the lab's send timeout
    (the file does not fit in the buffers) or its idle timeout (it did): short ones here, so the test sees it."""
    resources = Resources.now()
    lab = Lab(folders["files"], folders["downloads"], limits=Limits(idle_seconds=2, send_timeout_ms=1000))
    try:
        with serving(lab, "downloader") as (_, started), socket.socket() as stuck:
            address = ("127.0.0.1", started["servers"][0]["port"])
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # (the file cannot fit in its buffer)
            stuck.connect(address)
            with socket.create_connection(address, timeout=WAIT) as reader:  # served meanwhile, whole
                got = bytearray()
                while data := reader.recv(65536):
                    got += data
            assert hashlib.sha256(got).hexdigest() == started["file"]["sha256"]
            server = next(e for e in lab.endpoints.values() if e.kind == "tcp-server")
            wait_until(lambda: not server.connections, WAIT)  # the lab gave up on the one that never reads
    finally:
        lab.close()
    resources.settled(timeout=WAIT)


def test_many_clients_at_once_are_served_and_leave_nothing_behind(lab: Lab) -> None:
    resources = Resources.now()
    with serving(lab, "line-reader") as (_, started):
        address = ("127.0.0.1", started["servers"][0]["port"])
        got: list[bytes] = []

        def read() -> None:
            with socket.create_connection(address, timeout=WAIT) as sock:
                data = b""
                while piece := sock.recv(1024):
                    data += piece
                got.append(data)

        readers = [threading.Thread(target=read) for _ in range(8)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(WAIT)
        assert got == [LINES_TEXT] * 8
    resources.settled(timeout=WAIT)


@pytest.mark.parametrize("app", RUNNERS, indirect=True)
def test_the_lab_side_runs_the_same_over_a_lab_agent(app: Any) -> None:
    """Through whichever LabClient the dashboard holds (its own lab, or a lab agent over Redis): the servers, the
    seeded file and what a server saw of its clients all come by commands."""
    client = app.extensions["socketlab_labs"].all()[0]
    side = LabSide(exercise("client"), client, "127.0.0.1")
    started = side.start()
    made = [server["id"] for server in side.servers]
    try:
        with socket.create_connection(("127.0.0.1", started["servers"][0]["port"]), timeout=WAIT) as sock:
            sock.sendall(b"Ann\n")
            assert sock.recv(1024) == b"Hello, Ann!\n"
            local = sock.getsockname()
        assert wait_until(lambda: side.seen("greet").get(local, {}).get("name") == "Ann", WAIT)
        program = [{"seq": 1, "endpoint": "s1@ann", "kind": "connect", "proto": "tcp", "local": list(local),
                    "peer": ["127.0.0.1", started["servers"][0]["port"]]}]
        assert states(side.results(program)) == {"name-received": PASS}
    finally:
        side.close()
    assert made and not [e for e in client.call("endpoints.list") if e["id"] in made]  # close() removed them
    file = LabSide(exercise("downloader"), client, "127.0.0.1")
    try:
        assert file.start()["file"]["size"] == FILE_SIZE
    finally:
        file.close()


def test_lines_whole_is_judged_from_what_was_printed_however_the_prints_cut_it(lab: Lab) -> None:
    with serving(lab, "line-reader") as (side, started):
        connect = {"seq": 1, "endpoint": "s1@ann", "kind": "connect", "proto": "tcp", "local": ["127.0.0.1", 40000],
                   "peer": ["127.0.0.1", started["servers"][0]["port"]]}
        close = {"seq": 99, "endpoint": "s1@ann", "kind": "close", "proto": "tcp", "args": {"received": len(LINES_TEXT)}}

        def judged_output(*texts: str) -> Result:
            output = [{"seq": 2 + i, "endpoint": "", "kind": "output", "proto": "", "args": {"text": t}}
                      for i, t in enumerate(texts)]
            return side.results([connect, *output, close])["lines-whole"]

        whole = [line + "\n" for line in LINES]
        assert judged_output(*whole).state == PASS
        assert judged_output("".join(whole)).state == PASS  # one output event or many: the same text
        assert judged_output(*(f"got: {line}" for line in whole)).state == PASS  # a prefix of the program's own
        glued = judged_output(whole[0], whole[1].rstrip("\n") + " " + whole[2], *whole[3:])
        assert (glued.state, glued.reason, glued.params["n"]) == (FAIL, "line-broken", 2)
        twice = judged_output(*whole, whole[0])
        assert (twice.reason, twice.params) == ("line-repeated", {"n": 1, "line": LINES[0], "times": 2})
        swapped = judged_output(whole[1], whole[0], *whole[2:])
        assert (swapped.reason, swapped.params["n"]) == ("line-broken", 2)
