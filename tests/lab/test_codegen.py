"""Show the code: every generated program compiles, and the generated programs really talk to the lab."""

from __future__ import annotations

import ast
import hashlib
import itertools
import os
import queue
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from lab import BadInput, Lab
from lab.sockets.endpoint import Endpoint
from lab.codegen.programs import program_for, program_for_download
from lab.spec import parse_download, parse_endpoint

from ..support import wait_until

WAIT = 20.0  # an upper bound for a child python to start and answer on a busy machine, never a sleep


class Program:
    """A generated program run as `python3 progN.py ARGS` in a child process; stdout read by a thread."""

    def __init__(self, code: str, cwd: Path, args: list[str]) -> None:
        path = cwd / f"prog{len(list(cwd.glob('prog*.py')))}.py"
        path.write_text(code, encoding="utf-8")
        self.proc = subprocess.Popen([sys.executable, path.name, *args], cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                                     env={**os.environ, "PYTHONIOENCODING": "utf-8"})
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, name=f"stdout-{self.proc.pid}")
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # end of output: the program exited

    def line(self, containing: str, times: int = 1, timeout: float = WAIT) -> str:
        """Read output until `containing` was printed `times` times; the line where that happened.

        Counts occurrences, not lines: print() writes its text and its newline separately, so two
        threads printing at once may share a line."""
        deadline, seen = time.monotonic() + timeout, 0
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{containing!r} printed {seen} of {times} times within {timeout} s") from None
            if line is None:
                raise AssertionError(f"the program exited ({self.proc.wait()}) before printing {containing!r}")
            seen += line.count(containing)
            if seen >= times:
                return line

    def port(self) -> int:
        return int(self.line("listening on ").rsplit(":", 1)[1])

    def output(self, timeout: float = WAIT) -> str:
        """All it prints until it exits by itself."""
        self.proc.wait(timeout)
        self.reader.join(timeout)
        return "\n".join(iter(self.lines.get_nowait, None))  # every line up to the end marker

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM to this child's pid
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(WAIT)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Callable[..., Program]]:
    started: list[Program] = []

    def start(code: str, *args: str) -> Program:
        started.append(Program(code, tmp_path, list(args)))
        return started[-1]

    yield start
    for program in started:
        program.stop()


@pytest.fixture
def lab_files(lab: Lab, folders: dict[str, Path], tmp_path: Path) -> Path:
    """The lab's sample files, seen by the programs as ./lab-files (their FILES folder)."""
    (tmp_path / "lab-files").symlink_to(folders["files"], target_is_directory=True)
    return folders["files"]


def code(endpoint: Endpoint) -> str:
    """What GET /api/endpoints/<id>/code answers: the program from the endpoint's spec and live address."""
    address = endpoint.local if endpoint.kind.endswith("server") else endpoint.remote
    assert address is not None
    return program_for(endpoint.spec, address, endpoint.id)


def download_code(host: str, port: int, file: str | None, protocol: str, dl_id: str | None = None) -> str:
    return program_for_download(parse_download({"host": host, "port": port, "file": file, "protocol": protocol}), dl_id)


def read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"closed after {len(data)} of {size} bytes"
        data += chunk
    return data


def ask(port: int, request: bytes) -> bytes:
    """A plain client: send the request, read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(request)
        return b"".join(iter(lambda: s.recv(65536), b""))


FRAMINGS = ("raw", "line", "length")


# -- every program ---------------------------------------------------------------------------------

def lab_endpoints(lab: Lab) -> Iterator[str]:
    """The program of every endpoint the lab accepts, over the kinds, modes, framings and options."""
    rules = [{"match": r"^add (\d+) (\d+)$", "reply": "$1 + $2"}]
    tcp = itertools.product(("echo", "reply", "manual", "file", "files", "relay", "http"), FRAMINGS,
                            ("raw", "framed"), (None, rules))
    specs = [{"kind": "tcp-server", "mode": m, "framing": f, "protocol": p, "rules": r, "file": "hello.txt"}
             for m, f, p, r in tcp]
    specs += [{"kind": "udp-server", "mode": m, "rules": r, "impair": i}
              for m, r, i in itertools.product(("echo", "reply", "manual"), (None, rules), (None, {"loss": 0.5}))]
    for spec in specs:
        try:
            endpoint = lab.create({"port": 0, **spec})
        except BadInput:
            continue  # a combination the lab refuses, like framing on a file server
        if spec["kind"] == "tcp-server" and spec["mode"] == "echo":
            for client in [{"kind": "tcp-client", "port": endpoint.local[1], "framing": f} for f in FRAMINGS] + [
                    {"kind": "udp-client", "port": 9, "impair": {"loss": 0.1}}]:
                yield code(lab.create(client))
        yield code(endpoint)
        for ep_id in list(lab.endpoints):
            lab.remove(ep_id)  # the lab holds at most 64 endpoints


def test_every_program_compiles_and_reads_like_a_textbook(lab: Lab) -> None:
    programs = list(lab_endpoints(lab))
    programs += [download_code("127.0.0.1", 9000, file, protocol)
                 for file, protocol in itertools.product(("hello.txt", None), ("raw", "framed"))]
    assert len(programs) > 80
    for code in programs:
        tree = ast.parse(compile(code, "prog.py", "exec", ast.PyCF_ONLY_AST))
        lines = code.splitlines()
        comment = list(itertools.takewhile(lambda line: line.startswith("# "), lines))
        assert 2 <= len(comment) <= 4 and lines[len(comment)].startswith("import "), code
        modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert "socket" in modules and all(m.split(".")[0] in sys.stdlib_module_names for m in modules)
        assert "HOST = '" in code and "if len(sys.argv) > 1:\n    PORT = int(sys.argv[1])" in code
        assert len(lines) <= 100, f"{len(lines)} lines is too long for a student:\n{code}"
        if "unframe(" in code:
            assert "a recv() may return part of a send, or several: that is why we frame" in code
        if "udp" in comment[1]:
            assert ("The lab can impair this endpoint" in code) == ("impair" in comment[1]), code
    broadcast = parse_endpoint({"kind": "udp-client", "host": "255.255.255.255", "port": 9, "broadcast": True})
    assert "SO_BROADCAST" in program_for(broadcast, ("255.255.255.255", 9))
    assert "AF_INET6" in program_for(parse_endpoint({"kind": "tcp-server", "host": "::1", "mode": "echo"}), ("::1", 0))


def test_values_are_embedded_with_repr_so_nothing_becomes_code() -> None:
    evil = "x'; import os; os.system('echo pwned') #\n\"\"\"\\"
    reply = parse_endpoint({"kind": "tcp-server", "mode": "reply", "reply": evil, "framing": "line", "delimiter": "'\n",
                            "rules": [{"match": "a'\n#", "reply": evil}]})
    file = parse_endpoint({"kind": "tcp-server", "mode": "file", "file": evil})
    programs = [program_for(reply, (evil.strip(), 0), "e1\nimport os"), program_for(file, ("127.0.0.1", 0), "e9"),
                download_code(evil, 1, evil.replace("\n", ""), "framed", "d1\nimport os")]
    for program in programs:
        tree = ast.parse(program)
        calls = [n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
        assert "system" not in calls
        assert "e1\nimport" not in program and "d1\nimport" not in program and "\nimport os;" not in program
    constants = {n.targets[0].id: ast.literal_eval(n.value) for n in ast.parse(programs[0]).body
                 if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name) and n.targets[0].id.isupper()}
    assert constants["HOST"] == evil.strip() and constants["REPLY"] == evil and constants["DELIMITER"] == b"'\n"
    assert constants["RULES"] == [("a'\n#", evil)]


def test_the_lab_id_goes_into_the_comment_only_when_the_lab_made_it() -> None:
    spec = parse_endpoint({"kind": "tcp-server", "mode": "echo"})
    assert "# Mirrors Socket Lab endpoint e7 (tcp-server, mode echo)." in program_for(spec, ("127.0.0.1", 0), "e7")
    assert "# Mirrors Socket Lab endpoint (tcp-server, mode echo)." in program_for(spec, ("127.0.0.1", 0), "e 7")


def test_a_link_is_named_in_the_comment_as_the_kernels_doing_not_the_programs() -> None:
    """A spec's "link" (lab/wire/link.py) is applied by the lab's namespace: the program says so in its
    comment, and nothing of it becomes code."""
    cases = [({"kind": "tcp-server", "mode": "echo", "link": {"loss": 0.2}}, ["loss: 20% of its packets dropped"]),
             ({"kind": "udp-server", "mode": "echo", "link": {"loss": 0.05, "rate_kbit": 800}},
              ["loss: 5% of its packets dropped", "rate: 800 kbit/s"]),
             ({"kind": "tcp-client", "port": 9, "link": {"rate_kbit": 64}}, ["rate: 64 kbit/s"])]
    for body, words in cases:
        code = program_for(parse_endpoint(body), ("127.0.0.1", 9))
        comment = list(itertools.takewhile(lambda line: line.startswith("# "), code.splitlines()))
        assert comment[3] == "# Link: applied by the lab's network namespace, in the kernel, not by this program:"
        assert all(w in comment[4] for w in words) and len(comment) == 6, comment
        assert ("TCP retransmits" in comment[5]) == body["kind"].startswith("tcp"), comment
        assert all(len(line) <= 100 for line in comment), comment
        tree = ast.parse(code)
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in ("nft", "tc", "link")]
    plain = program_for(parse_endpoint({"kind": "tcp-server", "mode": "echo"}), ("127.0.0.1", 9))
    assert "# Link:" not in plain and "nftables" not in plain


# -- the programs against the lab --------------------------------------------------------------

@pytest.mark.parametrize(("mode", "args", "expected"), [
    ("echo", [], "received: hello"), ("echo", ["PORT", "ping 🏓"], "received: ping 🏓"), ("reply", [], "received: 你好")])
def test_tcp_client_program_against_a_lab_server(lab: Lab, run: Callable[..., Program], mode: str, args: list[str],
                                                 expected: str) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": mode, "reply": "你好"})
    program = code(lab.create({"kind": "tcp-client", "port": server.local[1]}))
    assert run(program, *[str(server.local[1]) if a == "PORT" else a for a in args]).output() == expected


@pytest.mark.parametrize(("proto", "mode", "expected"), [("tcp", "echo", "hello"), ("tcp", "reply", "pong"),
                                                     ("udp", "echo", "hello"), ("udp", "reply", "pong")])
def test_server_program_with_a_lab_client(lab: Lab, run: Callable[..., Program], proto: str, mode: str,
                                          expected: str) -> None:
    mirrored = lab.create({"kind": f"{proto}-server", "port": 0, "mode": mode, "reply": "pong"})
    program = run(code(mirrored), "0")
    client = lab.create({"kind": f"{proto}-client", "port": program.port()})
    lab.send(client.id, {"data": "hello"})
    assert "b'hello'" in program.line("sent")
    received = wait_until(lambda: [e for e in lab.bus.since(0)[0] if e.endpoint == client.id and e.kind == "recv"],
                          WAIT)
    assert received[0].data == expected


def test_udp_client_program_against_a_lab_server_and_against_silence(lab: Lab, run: Callable[..., Program]) -> None:
    server = lab.create({"kind": "udp-server", "port": 0, "mode": "reply", "reply": "pong"})
    program = code(lab.create({"kind": "udp-client", "port": server.local[1]}))
    assert run(program).output() == "received: pong"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        assert run(program, str(silent.getsockname()[1])).output() == "no reply (UDP does not guarantee delivery)"
        assert silent.recv(100) == b"hello"


@pytest.mark.parametrize("protocol", ["raw", "framed"])
def test_files_server_program_with_a_plain_downloader(lab: Lab, lab_files: Path, run: Callable[..., Program],
                                                      protocol: str) -> None:
    mirrored = lab.create({"kind": "tcp-server", "port": 0, "mode": "files", "protocol": protocol})
    port = run(code(mirrored), "0").port()
    wanted = (lab_files / "random-1MB.bin").read_bytes()
    got = ask(port, b"random-1MB.bin\n")
    if protocol == "framed":
        header, _, got = got.partition(b"\n")
        assert header == f"OK {len(wanted)} {hashlib.sha256(wanted).hexdigest()}".encode()
    assert got == wanted
    for bad in (b"../files/hello.txt\n", b"nope.bin\n", b"/etc/passwd\n"):
        assert ask(port, bad) == (b"ERR no such file\n" if protocol == "framed" else b"")


@pytest.mark.parametrize("mode", ["files", "http"])
def test_generated_servers_never_follow_a_link_out_of_their_folder(lab: Lab, lab_files: Path, tmp_path: Path,
                                                                   run: Callable[..., Program], mode: str) -> None:
    (tmp_path / "secret.txt").write_text("do not serve")
    (lab_files / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (lab_files / "inside.txt").symlink_to(lab_files / "hello.txt")  # a link that stays inside is fine
    port = run(code(lab.create({"kind": "tcp-server", "port": 0, "mode": mode})), "0").port()
    if mode == "files":
        assert ask(port, b"escape.txt\n") == b""
        assert ask(port, b"inside.txt\n") == (lab_files / "hello.txt").read_bytes()
    else:
        assert ask(port, b"GET /escape.txt HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 404 Not Found\r\n")
        assert ask(port, b"GET /inside.txt HTTP/1.0\r\n\r\n").endswith((lab_files / "hello.txt").read_bytes())


@pytest.mark.parametrize("protocol", ["raw", "framed"])
def test_download_program_against_a_lab_files_server(lab: Lab, run: Callable[..., Program], tmp_path: Path,
                                                      folders: dict[str, Path], protocol: str) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "files", "protocol": protocol})
    download = lab.start_download({"host": "127.0.0.1", "port": server.local[1], "file": "random-1MB.bin",
                                   "protocol": protocol})
    program = download_code("127.0.0.1", server.local[1], "random-1MB.bin", protocol, download.id)
    out = run(program).output()
    assert (tmp_path / "random-1MB.bin").read_bytes() == (folders["files"] / "random-1MB.bin").read_bytes()
    assert out == "saved 1048576 bytes to random-1MB.bin" + (" (sha256 verified)" if protocol == "framed" else "")
    if protocol == "framed":
        refused = run(program, str(server.local[1]), "missing.bin")
        assert "the server refused: ERR" in refused.output() and refused.proc.returncode == 1
        assert not list(tmp_path.glob("missing.bin*"))


@pytest.mark.parametrize("protocol", ["raw", "framed"])
def test_classic_downloader_program_against_the_file_mode_program(lab: Lab, lab_files: Path, tmp_path: Path,
                                                                  run: Callable[..., Program], protocol: str) -> None:
    mirrored = lab.create({"kind": "tcp-server", "port": 0, "mode": "file", "file": "gradient.png",
                           "protocol": protocol})
    port = run(code(mirrored), "0").port()
    download = download_code("127.0.0.1", 1, None, protocol)
    assert "saved" in run(download, str(port)).output()
    assert (tmp_path / "download.bin").read_bytes() == (lab_files / "gradient.png").read_bytes()


# -- relay, http, framing and rules: lab JSON, plain sockets to see the bytes ----------------------

def test_relay_program_forwards_each_message_to_the_other_clients(lab: Lab, run: Callable[..., Program]) -> None:
    program = run(code(lab.create({"kind": "tcp-server", "port": 0, "mode": "relay"})), "0")
    port = program.port()
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as a, \
            socket.create_connection(("127.0.0.1", port), timeout=WAIT) as b, \
            socket.create_connection(("127.0.0.1", port), timeout=WAIT) as c:
        program.line("connected", times=3)  # printed once a client is in the relay's list
        a.sendall(b"hi all")
        assert read_exactly(b, 6) == b"hi all" and read_exactly(c, 6) == b"hi all"
        b.sendall(b"second")
        assert read_exactly(a, 6) == b"second"  # a's first bytes: it never got its own message back
        assert read_exactly(c, 6) == b"second"


def test_http_program_serves_the_page_and_only_its_own_files(lab: Lab, lab_files: Path, tmp_path: Path,
                                                             run: Callable[..., Program]) -> None:
    (tmp_path / "secret.txt").write_text("do not serve")
    port = run(code(lab.create({"kind": "tcp-server", "port": 0, "mode": "http"})), "0").port()
    page = ask(port, b"GET / HTTP/1.0\r\n\r\n")
    assert page.startswith(b"HTTP/1.0 200 OK\r\n") and b"<h1>" in page
    hello = ask(port, b"GET /hello.txt HTTP/1.0\r\nHost: x\r\n\r\n")
    assert hello.endswith(b"\r\n\r\n" + (lab_files / "hello.txt").read_bytes())
    for path in (b"/..%2Fsecret.txt", b"/../secret.txt", b"/nope"):
        assert ask(port, b"GET " + path + b" HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 404 Not Found\r\n")


@pytest.mark.parametrize(("framing", "encode"), [
    ("line", lambda m: m + b";"), ("length", lambda m: struct.pack("!I", len(m)) + m)])
def test_framed_programs_cut_the_stream_into_messages(lab: Lab, run: Callable[..., Program], framing: str,
                                                      encode: Callable[[bytes], bytes]) -> None:
    spec = {"kind": "tcp-server", "port": 0, "mode": "echo", "framing": framing, "delimiter": ";"}
    server = run(code(lab.create(spec)), "0")
    both = encode(b"one") + encode(b"two")
    with socket.create_connection(("127.0.0.1", server.port()), timeout=WAIT) as s:
        s.sendall(both[:5])  # a message cut in two, then the rest of it stuck to the next
        s.sendall(both[5:])
        assert read_exactly(s, len(both)) == both
    assert "b'one'" in server.line("sent") and "b'two'" in server.line("sent")
    lab_server = lab.create(spec)  # the client program against the lab's own framed server
    client = lab.create({"kind": "tcp-client", "port": lab_server.local[1], "framing": framing, "delimiter": ";"})
    assert run(code(client), str(lab_server.local[1]), "framed hello").output() == "received: framed hello"


def test_rules_program_answers_exactly_like_the_lab(lab: Lab, run: Callable[..., Program]) -> None:
    rules = [{"match": r"^add (\d+) (\d+)$", "reply": "$2 + $1 ($0) $7"}, {"match": "^hi", "reply": "hello"}]
    spec = {"kind": "tcp-server", "port": 0, "mode": "reply", "framing": "line", "rules": rules}
    lab_server = lab.create(spec)
    port = run(code(lab_server), "0").port()
    asked, expected = b"add 2 3\nwhat?\nhi there\n", b"3 + 2 (add 2 3) $7\nOK\nhello\n"
    for answering in (lab_server.local[1], port):
        with socket.create_connection(("127.0.0.1", answering), timeout=WAIT) as s:
            s.sendall(asked)
            assert read_exactly(s, len(expected)) == expected
