"""What a server does with each connection, after socketserver's request handlers.

A server's Service (one per server, chosen by its mode's name in lab/sockets/servermodes.py) makes one
Handler for each connection it accepts. The handler owns what belongs to that connection alone: its
framer, the parser state of the mode's protocol, and what events show of the bytes it receives;
the Connection (lab/sockets/connection.py) only moves bytes and hands them over. A client's connection has
a plain Handler, which frames what arrives so that each restored message is shown. A UDP server has
no connections: its Service answers each datagram itself.

The modes that speak a protocol of their own, `file`/`files` (the download protocol) and `http`
(HTTP/1.0 by hand), and the auto-reply rules parse sans-I/O (download_protocol, httpproto); the
functions below the handlers only move bytes between those parsers and a Connection, and publish
what happened.
"""

from __future__ import annotations

import functools
import random
import threading
from typing import Any, Callable, ClassVar

from . import servermodes
from .connection import Connection
from ..protocols import download as proto
from ..protocols.download import RequestReader
from .endpoint import Context, os_fields
from ..errors import BadInput, LabError, Refused, TooLarge
from ..events.bus import Address
from ..protocols.framing import make_framer
from ..protocols.http import RequestParser, Site, bad_request_response, redact
from ..protocols.sansio import ProtocolError
from ..spec import Rule


HTTP_HEAD_SHOWN = 4096  # bytes of a request or response head shown in full in the event detail


def rule_answer(rules: tuple[Rule, ...], message: bytes, limit: int,
                publish: Callable[..., None]) -> tuple[bool, bytes | None]:
    """(whether a rule matched, its reply). The first matching rule answers; a reply that would
    pass `limit` bytes is not sent: the rule still counts as matched (the mode's own answer does
    not take its place) and an `error` event says why."""
    if not rules:
        return False, None
    text = message[:4096].decode("utf-8", "replace")
    for rule in rules:
        try:
            answer = rule.answer(text, limit)
        except TooLarge as exc:
            publish("error", detail=str(exc), code=exc.code, params=exc.params)
            return True, None
        if answer is not None:
            return True, answer
    return False, None


# -- file and files modes ----------------------------------------------------------------------

def serve_file(ctx: Context, conn: Connection[Any], name: str | bytes, protocol: str) -> None:
    """Send one file (after an OK header when framed), then finish sending; keep reading."""
    try:
        path = ctx.files.resolve(name)
        size = path.stat().st_size
        if size > ctx.limits.file_bytes:
            raise BadInput("file-too-large", limit=ctx.limits.file_bytes)
    except LabError as exc:
        refuse_file(conn, exc, protocol)
        return
    try:
        if protocol == "framed":
            conn.send_header(proto.encode_ok(size, ctx.files.sha256(path)))
        conn.send_file(path, path.name)
    except OSError as exc:
        err, code, params = os_fields(exc, "send to", *conn.peer)
        conn.publish("error", detail=f"sending '{path.name}' stopped: {exc.strerror or exc}",
                     call="sendfile", args={"file": path.name}, errno=err, code=code, params=params)
        return
    conn.finish_sending()


def refuse_file(conn: Connection[Any], problem: LabError, protocol: str) -> None:
    """Refused requests are logged, then answered with an ERR line (framed) or a plain close (raw)."""
    reason = str(problem)
    conn.publish("error", detail=f"file request refused: {reason}", code=problem.code, params=problem.params)
    if protocol == "framed":
        try:
            conn.send_header(proto.encode_err(reason))
        except OSError:
            return
    conn.finish_sending()


def on_file_request(ctx: Context, conn: Connection[Any], reader: proto.RequestReader, data: bytes, protocol: str) -> None:
    if conn.sent_eof:
        return  # the answer is complete: what the client still sends is read and ignored
    try:
        requests = reader.feed(data)  # one FileRequest at most, then the reader pauses for good
    except ProtocolError as exc:
        refuse_file(conn, exc, protocol)
        return
    for request in requests:
        serve_file(ctx, conn, request.name, protocol)


# -- http mode ---------------------------------------------------------------------------------

def on_http_request(ctx: Context, conn: Connection[Any], parser: RequestParser, data: bytes) -> None:
    """HTTP/1.0 by hand: parse the request head, answer it, close. One request per connection."""
    if conn.sent_eof:
        return
    try:
        requests = parser.feed(data)  # one Request at most, then the parser pauses for good
    except ProtocolError as exc:
        conn.publish("error", detail=f"bad HTTP request: {exc}", code=exc.code, params=exc.params)
        response = bad_request_response(exc)
    else:
        if not requests:
            return  # the head is not complete yet
        request = requests[0]
        shown = redact(request.head)
        conn.publish("http", size=len(request.head), payload=shown,
                     detail="HTTP request:\n" + shown[:HTTP_HEAD_SHOWN].decode("utf-8", "replace"),
                     args={"direction": "request", "method": request.method, "target": request.target,
                           "version": request.version})
        response = Site(ctx.files.resolve, ctx.files.listing).respond(request)
    head = response.head()
    conn.publish("http", size=len(head), payload=head,
                 detail="HTTP response:\n" + head[:HTTP_HEAD_SHOWN].decode("utf-8", "replace"),
                 args={"direction": "response", "status": response.status, "reason": response.reason})
    try:
        conn.send(response.encode())
    except LabError:
        return
    conn.finish_sending()


class Handler:
    """One connection's handler: cuts what arrives into messages and frames what it sends.

    The base class only shows the messages (a client); a server's handler answers them.
    """

    preview: Callable[[bytes], bytes] | None = None  # what events show of received bytes, when not all of them
    # Whether the lab's reactor may serve the connection (lab/sockets/reactor.py): on_open sends
    # nothing and on_data makes at most one send, as its last call, which a thread of the
    # connection's own finishes when it would wait. Otherwise the connection has a thread from the start.
    at_once: bool = False

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

class EchoHandler(ServedHandler):
    """Echo without framing or rules, a straight path: each recv()'s bytes are the message and its
    answer, so they go straight back (what Handler.frame and Service.on_message would do with them,
    less the calls: a raw framer restores every recv() whole and shows no `message` events). One send
    an answer, its last call: the reactor serves it."""

    at_once = True

    def on_data(self, data: bytes) -> None:
        self.conn.send(data)


@serves(servermodes.Echo)
class Echo(Service):
    def handler(self, conn: Connection[Handler]) -> Handler:
        spec = self.server.spec
        if spec.framing == "raw" and not spec.rules:
            return EchoHandler(self, conn)
        return MessageHandler(self, conn)

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


# -- the exercises' own servers (lab/exercises/serving.py): a greeting, and lines cut in odd pieces ------
# Each remembers what it saw of each client (`seen`, by the client's address), so the lab can judge a
# student's client from its own side: the name the server got, the lines it sent.

SEEN_PEERS = 4096  # clients remembered per server (a class of 100 running its client many times over)
NAME_BYTES = 256  # of a name line kept; the rest of the line (a 10 MB "name") is read and let go
NAME_SHOWN = 64  # characters of a name in the greeting and in what the server remembers

#: What a `lines` server sends every client, cut into the pieces below (seeded: the same every run).
LINES = ("Sockets carry bytes, not messages.", "A recv() returns what has arrived so far.",
         "One line may come in two pieces,", "and two lines may come glued in one.",
         "Keep a buffer; print up to each newline.", "网络编程：按行读取。", "The end.")
LINES_TEXT = "".join(line + "\n" for line in LINES).encode()
LINES_SEED = 25
LINES_PAUSE = 0.15  # seconds between two pieces: each arrives as a recv() of its own


def line_pieces(text: bytes, seed: int = LINES_SEED) -> list[bytes]:
    """`text` cut at seeded places: some cuts inside a line (and inside a UTF-8 character), some pieces
    holding several lines, so a reader that prints each recv() as a line prints pieces and glued lines."""
    rng = random.Random(seed)
    pieces, at = [], 0
    while at < len(text):
        n = rng.choice((5, 9, 23, 40, 61, 90))
        pieces.append(text[at:at + n])
        at += n
    return pieces


class Seen:
    """What a server saw of its clients, newest last, SEEN_PEERS at most: address -> what it noted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._peers: dict[tuple[str, int], dict[str, Any]] = {}

    def note(self, peer: Address, **facts: Any) -> None:
        with self._lock:
            entry = self._peers.pop(peer, None) or {"peer": list(peer)}
            entry.update(facts)
            self._peers[peer] = entry
            while len(self._peers) > SEEN_PEERS:
                del self._peers[next(iter(self._peers))]

    def to_json(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._peers.values()]


def seen_by(server: Any) -> list[dict[str, Any]]:
    """What an exercise server saw of its clients (lab/commands.py "exercise.seen"); [] for any other."""
    seen = getattr(getattr(server, "service", None), "seen", None)
    return seen.to_json() if isinstance(seen, Seen) else []


class GreetHandler(ServedHandler):
    """Reads the name (the first line, or the first recv() of a client that sends no newline), answers
    "Hello, <name>!\n" and finishes sending; what comes after is read and let go, so closing never resets."""

    def __init__(self, service: Service, conn: Connection[Handler]) -> None:
        super().__init__(service, conn)
        self.name = bytearray()
        self.received = 0

    def on_data(self, data: bytes) -> None:
        self.received += len(data)
        seen: Seen = self.service.seen  # type: ignore[attr-defined]
        if self.conn.sent_eof:
            seen.note(self.conn.peer, received=self.received)
            return
        self.name += data[:NAME_BYTES - len(self.name)]
        line, newline, _ = bytes(self.name).partition(b"\n")
        name = line.rstrip(b"\r").decode("utf-8", "replace").strip()[:NAME_SHOWN]
        seen.note(self.conn.peer, name=name, newline=bool(newline), received=self.received)
        try:
            self.conn.send(f"Hello, {name or 'stranger'}!\n".encode())
        except LabError:
            return
        self.conn.finish_sending()


class Greet(Service):
    def __init__(self, server: Any) -> None:
        super().__init__(server)
        self.seen = Seen()

    def handler(self, conn: Connection[Handler]) -> Handler:
        self.seen.note(conn.peer, name=None, received=0)
        return GreetHandler(self, conn)


class LinesHandler(ServedHandler):
    """Sends LINES in seeded pieces, LINES_PAUSE apart, then finishes sending; reads and lets go the rest."""

    def on_open(self) -> None:
        conn = self.conn
        seen: Seen = self.service.seen  # type: ignore[attr-defined]
        sent = 0
        for n, piece in enumerate(line_pieces(LINES_TEXT)):
            if n and conn._stopping.wait(LINES_PAUSE):  # (the lab is closing it: stop at once)
                return
            try:
                sent += conn.send(piece)
            except LabError:
                return
            seen.note(conn.peer, sent=sent)
        conn.finish_sending()

    def on_data(self, data: bytes) -> None:
        return None


class Lines(Service):
    def __init__(self, server: Any) -> None:
        super().__init__(server)
        self.seen = Seen()

    def handler(self, conn: Connection[Handler]) -> Handler:
        self.seen.note(conn.peer, sent=0)
        return LinesHandler(self, conn)


serves(servermodes.Greet)(Greet)
serves(servermodes.Lines)(Lines)
