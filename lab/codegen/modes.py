"""What each server mode's generated program says, keyed by the mode's name in lab/sockets/servermodes.py.

The code generator (lab/codegen/programs.py) reads the modes' table for what a mode allows and this one for
the text: the program's first comment line, its constants, the lines that answer one message, or,
for a mode with its own protocol, its own sections. Plain text, no socket: a mode's behaviour in
the lab is lab/sockets/handlers.py. A test fails when a registered mode has no entry here.
"""

from __future__ import annotations

from typing import Callable, ClassVar

from ..sockets import servermodes
from .snippets import FILES_HANDLER, FINISH, HTTP_HANDLER, SAFE_PATH
from ..spec import EndpointSpec

Code = Callable[[str], str]


class ModeCode:
    """The text of one mode's program."""

    mode: ClassVar[type[servermodes.Mode]]
    describe: ClassVar[dict[str, str]] = {}  # server kind -> the generated program's first comment line
    shares_clients: ClassVar[bool] = False  # the generated handler keeps a list of every client

    @classmethod
    def constants(cls, spec: EndpointSpec) -> list[str]:
        return []

    @classmethod
    def answer(cls, var: str, send: Code, wrap: Code) -> list[str]:
        """The lines that answer one message `var` (`send(x)`: the call that sends x back)."""
        return ["# manual: nothing is sent back; the lab sends what you type on the dashboard"]

    @classmethod
    def sections(cls, framed: bool) -> list[str] | None:
        """A mode with its own protocol: the program's sections before the accept loop. None: the
        message handler built from answer()."""
        return None


PROGRAMS: dict[str, type[ModeCode]] = {}


def writes(mode: type[servermodes.Mode]) -> Callable[[type[ModeCode]], type[ModeCode]]:
    """A class decorator: the program text of a registered mode (one per mode)."""
    def add(code: type[ModeCode]) -> type[ModeCode]:
        if mode.name in PROGRAMS:
            raise ValueError(f"mode {mode.name!r} has a program text already")
        code.mode = mode
        PROGRAMS[mode.name] = code
        return code
    return add


def unwrite(name: str) -> None:
    del PROGRAMS[name]


# -- the modes ---------------------------------------------------------------------------------------

@writes(servermodes.Echo)
class Echo(ModeCode):
    describe = {"tcp-server": "A TCP echo server: every client gets back exactly what it sends.",
                "udp-server": "A UDP echo server: every datagram goes back to whoever sent it."}

    @classmethod
    def answer(cls, var: str, send: Code, wrap: Code) -> list[str]:
        return [send(var)]


@writes(servermodes.Reply)
class Reply(ModeCode):
    describe = {"tcp-server": "A TCP server that answers every receive with the same REPLY.",
                "udp-server": "A UDP server that answers every datagram with the same REPLY."}

    @classmethod
    def constants(cls, spec: EndpointSpec) -> list[str]:
        return [f"REPLY = {spec.reply!r}"]

    @classmethod
    def answer(cls, var: str, send: Code, wrap: Code) -> list[str]:
        return [send("REPLY.encode()")]


@writes(servermodes.Manual)
class Manual(ModeCode):
    describe = {"tcp-server": "A TCP server that prints what clients send (in the lab you answer from the dashboard).",
                "udp-server": "A UDP server that prints every datagram (in the lab you answer from the dashboard)."}


class ByteModeCode(ModeCode):
    """A mode with its own protocol serves the files of a folder."""

    @classmethod
    def constants(cls, spec: EndpointSpec) -> list[str]:
        return ["FILES = './lab-files'  # the folder the files are served from"]


@writes(servermodes.File)
class File(ByteModeCode):
    describe = {"tcp-server": "A TCP file server: every client that connects gets FILE, then the server closes."}

    @classmethod
    def constants(cls, spec: EndpointSpec) -> list[str]:
        return [*super().constants(spec), f"FILE = {spec.file!r}"]

    @classmethod
    def sections(cls, framed: bool) -> list[str] | None:
        header = ("        digest = hashlib.sha256(data).hexdigest()\n"
                  "        conn.sendall(f'OK {len(data)} {digest}\\n'.encode())  # the header: size and checksum\n"
                  if framed else "")
        return ["if not pathlib.Path(FILES, FILE).is_file():\n"
                "    sys.exit(f'{FILE} is not in the folder {FILES}')",
                FINISH,
                "def handle(conn, addr):\n"
                "    print(addr, 'connected', flush=True)\n"
                "    with conn:\n"
                "        data = pathlib.Path(FILES, FILE).read_bytes()\n"
                f"{header}"
                "        conn.sendall(data)\n"
                "        finish(conn)"]


@writes(servermodes.Files)
class Files(ByteModeCode):
    describe = {"tcp-server": "A TCP file server: a client sends a file name on one line and gets that file."}

    @classmethod
    def sections(cls, framed: bool) -> list[str] | None:
        refuse = ("            conn.sendall(b'ERR no such file\\n')" if framed
                  else "            print(addr, 'no such file: closing', flush=True)")
        header = ("            digest = hashlib.sha256(data).hexdigest()\n"
                  "            conn.sendall(f'OK {len(data)} {digest}\\n'.encode())  # the header: size and checksum\n"
                  if framed else "")
        return [FINISH, SAFE_PATH, FILES_HANDLER.replace("{refuse}", refuse).replace("{header}", header)]


@writes(servermodes.Relay)
class Relay(ModeCode):
    describe = {"tcp-server": "A TCP relay (a tiny chat): what one client sends goes to all the others."}
    shares_clients = True

    @classmethod
    def answer(cls, var: str, send: Code, wrap: Code) -> list[str]:
        return ["with clients_lock:",
                "    others = [c for c in clients if c is not conn]",
                "for other in others:",
                "    try:",
                f"        other.sendall({wrap(var)})",
                "    except OSError:",
                "        pass  # that client is leaving: its own thread removes it"]


@writes(servermodes.Http)
class Http(ByteModeCode):
    describe = {"tcp-server": "A tiny HTTP/1.0 web server written on a plain TCP socket: a page and the files."}

    @classmethod
    def sections(cls, framed: bool) -> list[str] | None:
        return [SAFE_PATH, HTTP_HANDLER]


# -- the exercises' own servers (lab/exercises/serving.py) -----------------------------------------

GREET_HANDLER = '''\
def handle(conn, addr):
    with conn:
        name = conn.recv(256).split(b'\\n')[0].rstrip(b'\\r').decode('utf-8', 'replace').strip()
        print(addr, 'says its name is', repr(name), flush=True)
        conn.sendall(f'Hello, {name or "stranger"}!\\n'.encode())
        finish(conn)'''

LINES_HANDLER = '''\
LINES = ['Sockets carry bytes, not messages.', 'A recv() returns what has arrived so far.']


def handle(conn, addr):
    with conn:
        text = ''.join(line + '\\n' for line in LINES).encode()
        for at in range(0, len(text), 9):  # in pieces of 9 bytes, a pause between them
            conn.sendall(text[at:at + 9])
            time.sleep(0.15)
        finish(conn)'''


@writes(servermodes.Greet)
class Greet(ModeCode):
    describe = {"tcp-server": "A TCP server that answers a client's name with a greeting, then closes."}

    @classmethod
    def sections(cls, framed: bool) -> list[str] | None:
        return [FINISH, GREET_HANDLER]


@writes(servermodes.Lines)
class Lines(ModeCode):
    describe = {"tcp-server": "A TCP server that sends lines cut into odd pieces, with pauses, then closes."}

    @classmethod
    def sections(cls, framed: bool) -> list[str] | None:
        return [FINISH, LINES_HANDLER]
