"""The one registry of server modes, after socketserver's handler classes.

A mode is a small class registered by name: which server kinds take it, which framings it allows,
the spec fields it reads and their checks, what it does with a connection (on open, on data, on
each message) or with a datagram, and the code generator's text for it. lab/spec.py, lab/tcp.py,
lab/udp.py, lab/codegen.py and GET /api/session all read this table; adding a mode is one class.

The behaviour reaches the byte protocols through lab/modes.py, imported inside the methods: that
module imports connection -> endpoint -> spec, and spec imports this registry.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from .codegen_snippets import FILES_HANDLER, FINISH, HTTP_HANDLER, SAFE_PATH
from .errors import BadInput

if TYPE_CHECKING:
    from .connection import Connection
    from .events import Address
    from .spec import EndpointSpec

FRAMINGS = ("raw", "line", "length")
SERVER_KINDS = ("tcp-server", "udp-server")
Code = Callable[[str], str]


class Mode:
    """What a server in this mode does. One instance per server; `server` is the TcpServer or UdpServer."""

    name: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]] = SERVER_KINDS
    framings: ClassVar[tuple[str, ...]] = FRAMINGS  # a mode with its own byte protocol allows "raw" only
    fields: ClassVar[tuple[str, ...]] = ("rules",)  # the spec fields it reads, beside kind, host, port, framing...
    request_seconds: ClassVar[float | None] = None  # a client must finish its request within this, or is closed
    describe: ClassVar[dict[str, str]] = {}  # server kind -> the generated program's first comment line
    code_shares_clients: ClassVar[bool] = False  # the generated handler keeps a list of every client

    def __init__(self, server: Any) -> None:
        self.server = server

    @classmethod
    def check(cls, spec: EndpointSpec) -> None:
        """Refuse, with a BadInput sentence, a spec this mode cannot run."""

    # -- TCP (called in the connection's thread) ---------------------------------------------------

    def on_open(self, conn: Connection) -> None:
        return None

    def on_data(self, conn: Connection, data: bytes) -> None:
        for message in conn.frame(data):
            self.on_message(conn, message)

    def on_message(self, conn: Connection, message: bytes) -> None:
        if self.server.spec.rules:  # (an import per message was 13% of an echo server's time, profiled)
            from .modes import rule_answer

            matched, answer = rule_answer(self.server.spec.rules, message, self.server.ctx.limits.send_bytes,
                                          conn.publish)
            if matched:
                if answer is not None:
                    conn.send_message(answer)
                return
        self.answer(conn, message)

    def answer(self, conn: Connection, message: bytes) -> None:
        reply = self.reply_to(message)
        if reply is not None:
            conn.send_message(reply)

    # -- UDP (called in the receive thread) --------------------------------------------------------

    def on_datagram(self, data: bytes, peer: Address) -> None:
        server = self.server
        matched, answer = False, None
        if server.spec.rules:
            from .modes import rule_answer

            limit = min(server.ctx.limits.send_bytes, server.ctx.limits.datagram_bytes)
            matched, answer = rule_answer(server.spec.rules, data, limit, functools.partial(server.publish, peer=peer))
        if not matched:
            answer = self.reply_to(data)
        if answer is not None:
            server.sendto(answer, peer)

    def reply_to(self, message: bytes) -> bytes | None:
        """What goes back for one message or datagram (TCP and UDP alike); None: nothing."""
        return None

    # -- the generated program -----------------------------------------------------------------

    @classmethod
    def code_constants(cls, spec: EndpointSpec) -> list[str]:
        return []

    @classmethod
    def code_answer(cls, var: str, send: Code, wrap: Code) -> list[str]:
        """The lines that answer one message `var` (`send(x)`: the call that sends x back)."""
        return ["# manual: nothing is sent back; the lab sends what you type on the dashboard"]

    @classmethod
    def code_sections(cls, framed: bool) -> list[str] | None:
        """A mode with its own protocol: the program's sections before the accept loop. None: the
        message handler built from code_answer()."""
        return None


REGISTRY: dict[str, type[Mode]] = {}


def register(mode: type[Mode]) -> type[Mode]:
    """Add a mode to the registry (a class decorator); a name is registered once."""
    if mode.name in REGISTRY:
        raise ValueError(f"mode {mode.name!r} is registered already")
    REGISTRY[mode.name] = mode
    return mode


def unregister(name: str) -> None:
    del REGISTRY[name]


def modes_for(kind: str) -> tuple[str, ...]:
    return tuple(name for name, mode in REGISTRY.items() if kind in mode.kinds)


def server_fields() -> tuple[str, ...]:
    """Every mode-specific field any mode reads, in registration order (a spec may carry any of them)."""
    seen: dict[str, None] = {}
    for mode in REGISTRY.values():
        seen.update(dict.fromkeys(mode.fields))
    return tuple(seen)


def session_info() -> dict[str, Any]:
    """What GET /api/session says: the modes of each server kind, and the framings of each mode."""
    return {"modes": {kind: list(modes_for(kind)) for kind in SERVER_KINDS},
            "framings": {name: list(mode.framings) for name, mode in REGISTRY.items()}}


# -- the modes ---------------------------------------------------------------------------------------

@register
class Echo(Mode):
    name = "echo"
    describe = {"tcp-server": "A TCP echo server: every client gets back exactly what it sends.",
                "udp-server": "A UDP echo server: every datagram goes back to whoever sent it."}

    def reply_to(self, message: bytes) -> bytes | None:
        return message

    @classmethod
    def code_answer(cls, var: str, send: Code, wrap: Code) -> list[str]:
        return [send(var)]


@register
class Reply(Mode):
    name = "reply"
    fields = ("reply", "rules")
    describe = {"tcp-server": "A TCP server that answers every receive with the same REPLY.",
                "udp-server": "A UDP server that answers every datagram with the same REPLY."}

    def reply_to(self, message: bytes) -> bytes | None:
        reply: str = self.server.spec.reply
        return reply.encode("utf-8")

    @classmethod
    def code_constants(cls, spec: EndpointSpec) -> list[str]:
        return [f"REPLY = {spec.reply!r}"]

    @classmethod
    def code_answer(cls, var: str, send: Code, wrap: Code) -> list[str]:
        return [send("REPLY.encode()")]


@register
class Manual(Mode):
    name = "manual"
    describe = {"tcp-server": "A TCP server that prints what clients send (in the lab you answer from the dashboard).",
                "udp-server": "A UDP server that prints every datagram (in the lab you answer from the dashboard)."}


class ByteMode(Mode):
    """A mode that speaks its own protocol on the stream: no message framing, no rules."""

    kinds = ("tcp-server",)
    framings: ClassVar[tuple[str, ...]] = ("raw",)
    fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def code_constants(cls, spec: EndpointSpec) -> list[str]:
        return ["FILES = './lab-files'  # the folder the files are served from"]


@register
class File(ByteMode):
    name = "file"
    fields = ("file", "protocol")
    describe = {"tcp-server": "A TCP file server: every client that connects gets FILE, then the server closes."}

    @classmethod
    def check(cls, spec: EndpointSpec) -> None:
        if not spec.file:
            raise BadInput("file-mode-needs-file")

    def __init__(self, server: Any) -> None:
        super().__init__(server)
        server.ctx.files.resolve(server.spec.file or "")  # an unknown file: refused now, not on every connect

    def on_open(self, conn: Connection) -> None:
        from .modes import serve_file

        serve_file(self.server.ctx, conn, self.server.spec.file or "", self.server.spec.protocol)

    def on_data(self, conn: Connection, data: bytes) -> None:
        return None  # what the client sends is read and ignored, so closing never resets

    @classmethod
    def code_constants(cls, spec: EndpointSpec) -> list[str]:
        return [*super().code_constants(spec), f"FILE = {spec.file!r}"]

    @classmethod
    def code_sections(cls, framed: bool) -> list[str] | None:
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


@register
class Files(ByteMode):
    name = "files"
    fields = ("protocol",)
    describe = {"tcp-server": "A TCP file server: a client sends a file name on one line and gets that file."}

    def on_open(self, conn: Connection) -> None:
        from .download_protocol import RequestReader

        conn.reader = RequestReader()

    def on_data(self, conn: Connection, data: bytes) -> None:
        from .modes import on_file_request

        on_file_request(self.server.ctx, conn, data, self.server.spec.protocol)

    @classmethod
    def code_sections(cls, framed: bool) -> list[str] | None:
        refuse = ("            conn.sendall(b'ERR no such file\\n')" if framed
                  else "            print(addr, 'no such file: closing', flush=True)")
        header = ("            digest = hashlib.sha256(data).hexdigest()\n"
                  "            conn.sendall(f'OK {len(data)} {digest}\\n'.encode())  # the header: size and checksum\n"
                  if framed else "")
        return [FINISH, SAFE_PATH, FILES_HANDLER.replace("{refuse}", refuse).replace("{header}", header)]


@register
class Relay(Mode):
    name = "relay"
    kinds = ("tcp-server",)
    describe = {"tcp-server": "A TCP relay (a tiny chat): what one client sends goes to all the others."}
    code_shares_clients = True

    def answer(self, conn: Connection, message: bytes) -> None:
        self.server.relay(conn, message)

    @classmethod
    def code_answer(cls, var: str, send: Code, wrap: Code) -> list[str]:
        return ["with clients_lock:",
                "    others = [c for c in clients if c is not conn]",
                "for other in others:",
                "    try:",
                f"        other.sendall({wrap(var)})",
                "    except OSError:",
                "        pass  # that client is leaving: its own thread removes it"]


@register
class Http(ByteMode):
    name = "http"
    request_seconds = 10.0  # as real web servers do: a silent client must not hold a slot
    describe = {"tcp-server": "A tiny HTTP/1.0 web server written on a plain TCP socket: a page and the files."}

    def on_open(self, conn: Connection) -> None:
        from .httpproto import RequestParser, redact

        conn.reader = RequestParser()
        conn.preview = redact  # no cookie or password in the recv events either

    def on_data(self, conn: Connection, data: bytes) -> None:
        from .modes import on_http_request

        on_http_request(self.server.ctx, conn, data)

    @classmethod
    def code_sections(cls, framed: bool) -> list[str] | None:
        return [SAFE_PATH, HTTP_HANDLER]
