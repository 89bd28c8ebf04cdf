"""What a server does with each connection, after socketserver's request handlers.

A server's Service (one per server, chosen by its mode's name in lab/servermodes.py) makes one
Handler for each connection it accepts. The handler owns what belongs to that connection alone: its
framer, the parser state of the mode's protocol, and what events show of the bytes it receives;
the Connection (lab/connection.py) only moves bytes and hands them over. A client's connection has
a plain Handler, which frames what arrives so that each restored message is shown. A UDP server has
no connections: its Service answers each datagram itself.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, ClassVar

from . import servermodes
from .connection import Connection
from .download_protocol import RequestReader
from .errors import Refused
from .events import Address
from .framing import make_framer
from .httpproto import RequestParser, redact
from .modes import on_file_request, on_http_request, rule_answer, serve_file
from .sansio import ProtocolError


class Handler:
    """One connection's handler: cuts what arrives into messages and frames what it sends.

    The base class only shows the messages (a client); a server's handler answers them.
    """

    preview: Callable[[bytes], bytes] | None = None  # what events show of received bytes, when not all of them

    def __init__(self, conn: Connection[Handler]) -> None:
        self.conn = conn
        self.framer = make_framer(conn.owner.spec.framing, conn.owner.spec.delimiter)
        self.messages = 0  # messages restored from the stream

    def on_open(self) -> None:
        """Called in the connection's thread before its first recv()."""

    def on_data(self, data: bytes) -> None:
        """Called in the connection's thread with what each recv() returned (never b"")."""
        self.frame(data)

    def frame(self, data: bytes) -> list[bytes]:
        """Cut received bytes into messages; framed endpoints publish each as a `message` event.

        A recv() may return part of a send, or several sends at once: that is why framing exists.
        Raises LabError when the stream breaks the framing rules.
        """
        conn, framer = self.conn, self.framer
        try:
            messages = framer.feed(data)  # receive_data, then next_event() until NEED_DATA
        except ProtocolError as exc:  # the framer stays broken: the caller closes the connection
            conn.publish("error", detail=f"{framer.name} framing: {exc}", code=exc.code, params=exc.params,
                         framing=framer.name)
            raise Refused(exc.code, **exc.params) from None
        if framer.name != "raw":
            for message in messages:
                self.messages += 1
                conn.publish("message", size=len(message), payload=message,
                             detail=f"message {self.messages} restored by {framer.name} framing ({len(message)} bytes)",
                             result=len(message), message=self.messages, framing=framer.name)
        return messages

    def send_message(self, message: bytes, wait: float | None = None, start_wait: float | None = None) -> int:
        """Send one message, framed as the endpoint's framing says; returns the bytes on the wire."""
        return self.conn.send(self.framer.encode(message), framed=len(message), framing=self.framer.name,
                              wait=wait, start_wait=start_wait)


class ServedHandler(Handler):
    """A handler of a server's connection: made by the server's Service, which it serves."""

    def __init__(self, service: Service, conn: Connection[Handler]) -> None:
        super().__init__(conn)
        self.service = service


class MessageHandler(ServedHandler):
    """A connection of a message mode: every restored message goes to the server's Service."""

    def on_data(self, data: bytes) -> None:
        for message in self.frame(data):
            self.service.on_message(self, message)


class Service:
    """What a server in one mode does. One per server; `server` is its TcpServer or UdpServer."""

    mode: ClassVar[type[servermodes.Mode]]

    def __init__(self, server: Any) -> None:
        self.server = server

    def handler(self, conn: Connection[Handler]) -> Handler:
        """The handler of one accepted connection (socketserver's RequestHandlerClass)."""
        return MessageHandler(self, conn)

    # -- TCP (called in the connection's thread) ---------------------------------------------------

    def on_message(self, handler: Handler, message: bytes) -> None:
        spec = self.server.spec
        if spec.rules:
            matched, answer = rule_answer(spec.rules, message, self.server.ctx.limits.send_bytes, handler.conn.publish)
            if matched:
                if answer is not None:
                    handler.send_message(answer)
                return
        self.answer(handler, message)

    def answer(self, handler: Handler, message: bytes) -> None:
        reply = self.reply_to(message)
        if reply is not None:
            handler.send_message(reply)

    # -- UDP (called in the receive thread) --------------------------------------------------------

    def on_datagram(self, data: bytes, peer: Address) -> None:
        server = self.server
        matched, answer = False, None
        if server.spec.rules:
            limit = min(server.ctx.limits.send_bytes, server.ctx.limits.datagram_bytes)
            matched, answer = rule_answer(server.spec.rules, data, limit, functools.partial(server.publish, peer=peer))
        if not matched:
            answer = self.reply_to(data)
        if answer is not None:
            server.sendto(answer, peer)

    def reply_to(self, message: bytes) -> bytes | None:
        """What goes back for one message or datagram (TCP and UDP alike); None: nothing."""
        return None


SERVICES: dict[str, type[Service]] = {}


def serves(mode: type[servermodes.Mode]) -> Callable[[type[Service]], type[Service]]:
    """A class decorator: the Service of a registered mode (one per mode)."""
    def add(service: type[Service]) -> type[Service]:
        if mode.name in SERVICES:
            raise ValueError(f"mode {mode.name!r} has a service already")
        service.mode = mode
        SERVICES[mode.name] = service
        return service
    return add


def unserve(name: str) -> None:
    del SERVICES[name]


def service(server: Any, mode: str) -> Service:
    """The Service of a new server in `mode` (its constructor may refuse, e.g. an unknown file)."""
    return SERVICES[mode](server)


# -- the modes ---------------------------------------------------------------------------------------

@serves(servermodes.Echo)
class Echo(Service):
    def reply_to(self, message: bytes) -> bytes | None:
        return message


@serves(servermodes.Reply)
class Reply(Service):
    def reply_to(self, message: bytes) -> bytes | None:
        reply: str = self.server.spec.reply
        return reply.encode("utf-8")


@serves(servermodes.Manual)
class Manual(Service):
    pass


@serves(servermodes.Relay)
class Relay(Service):
    def answer(self, handler: Handler, message: bytes) -> None:
        self.server.relay(handler.conn, message)


class FileHandler(ServedHandler):
    """Sends the one file at once, then reads and ignores what the client sends, so closing never resets."""

    def on_open(self) -> None:
        server = self.service.server
        serve_file(server.ctx, self.conn, server.spec.file or "", server.spec.protocol)

    def on_data(self, data: bytes) -> None:
        return None


@serves(servermodes.File)
class File(Service):
    def __init__(self, server: Any) -> None:
        super().__init__(server)
        server.ctx.files.resolve(server.spec.file or "")  # an unknown file: refused now, not on every connect

    def handler(self, conn: Connection[Handler]) -> Handler:
        return FileHandler(self, conn)


class FilesHandler(ServedHandler):
    """Reads one file name on a line, then sends that file."""

    def __init__(self, service: Service, conn: Connection[Handler]) -> None:
        super().__init__(service, conn)
        self.reader = RequestReader()  # one FileRequest at most, then it pauses for good

    def on_data(self, data: bytes) -> None:
        server = self.service.server
        on_file_request(server.ctx, self.conn, self.reader, data, server.spec.protocol)


@serves(servermodes.Files)
class Files(Service):
    def handler(self, conn: Connection[Handler]) -> Handler:
        return FilesHandler(self, conn)


class HttpHandler(ServedHandler):
    """Parses one HTTP/1.0 request head, answers it, closes."""

    def __init__(self, service: Service, conn: Connection[Handler]) -> None:
        super().__init__(service, conn)
        self.parser = RequestParser()  # one Request at most, then it pauses for good
        self.preview = redact  # no cookie or password in the recv events either

    def on_data(self, data: bytes) -> None:
        on_http_request(self.service.server.ctx, self.conn, self.parser, data)


@serves(servermodes.Http)
class Http(Service):
    def handler(self, conn: Connection[Handler]) -> Handler:
        return HttpHandler(self, conn)
