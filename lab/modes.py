"""What a TCP server does with a connection in the modes that speak a protocol of their own:
`file`/`files` (the download protocol) and `http` (HTTP/1.0 by hand), plus auto-reply rules.

The parsing is sans-I/O (download_protocol, httpproto); these functions only move bytes between
those parsers and a Connection, and publish what happened. The parsers' state belongs to each
connection's handler (lab/handlers.py), which hands it in.
"""

from __future__ import annotations

from typing import Any, Callable

from . import download_protocol as proto
from .connection import Connection
from .endpoint import Context, os_fields
from .errors import BadInput, LabError, TooLarge
from .httpproto import RequestParser, Site, bad_request_response, redact
from .sansio import ProtocolError
from .spec import Rule

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
