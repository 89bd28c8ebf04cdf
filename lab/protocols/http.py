"""A tiny HTTP/1.0 server protocol, sans-I/O (after h11: bytes in, events out, no socket here).

HTTP is text on a TCP socket: a request line, header lines, a blank line. `RequestParser` turns
the bytes of one connection into one `Request` (or raises one ProtocolError); `Site` turns a `Request`
into a `Response`; `Response.encode()` gives the bytes to send before closing. One request per
connection, as in HTTP/1.0, and request bodies are never read (only GET and HEAD are served).
"""

from __future__ import annotations

import html
import mimetypes
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes, urlsplit

from ..errors import BadInput, NotFound
from .sansio import END, NEED_DATA, PAUSED, Parser, ProtocolError, Sentinel

MAX_HEAD = 8192  # bytes, request line + headers + blank line
MAX_HEADERS = 100
MAX_FILE = 16 << 20  # the whole file is held in memory to build one Response
ALLOW = "GET, HEAD"

_HEAD_END = re.compile(rb"\n\r?\n")  # the blank line: `nc` sends bare "\n" line endings
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VERSION = re.compile(r"HTTP/(\d)\.(\d)")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # tab is allowed inside header values
# Header values that are secrets another local app may have set for 127.0.0.1 (a browser sends its
# cookies to every port of a host): never shown to the viewers of the lab.
_SECRET = re.compile(rb"(?im)^((?:cookie|authorization|proxy-authorization)[ \t]*:)[^\r\n]*")


def redact(data: bytes) -> bytes:
    """The bytes with the values of Cookie and Authorization headers replaced by "(hidden)"."""
    return _SECRET.sub(rb"\1 (hidden)", data)


# Only the built-in table, not /etc/mime.types: the same file gets the same type on every machine.
_TYPES = mimetypes.MimeTypes()


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    target: str
    version: str  # "HTTP/0.9" for a bare `GET /` line, which has no headers
    headers: list[tuple[str, str]]
    head: bytes  # the raw bytes up to and including the blank line (HTTP/0.9: the one line)


# The status each parser code answers with; any other code is a plain 400 Bad Request.
STATUS = {"http-head-too-long": 431, "http-too-many-headers": 431, "http-version": 505}


def bad_request_response(error: ProtocolError) -> Response:
    """The error page for a request the parser refused: the status its code calls for, its sentence."""
    return error_response(STATUS.get(error.code, 400), str(error))


class RequestParser(Parser[Request]):
    """One per connection, in the lab's sans-I/O shape: NEED_DATA until the head is complete, then
    one Request, then PAUSED for good (HTTP/1.0: one request per connection; bytes after the head,
    such as a body, are never read). A request the rules refuse raises ProtocolError.

    The result depends only on the bytes, never on how recv() cut them: every decision is taken on
    the shortest prefix that settles it (first line end, first blank line, or passing MAX_HEAD).
    EOF before any byte is no request at all: END.
    """

    def __init__(self) -> None:
        super().__init__()
        self._buffer = bytearray()
        self._scanned = 0  # no blank line ends before this offset
        self._line: tuple[str, str, str] | None = None  # method, target, version, once the first line is in
        self.done = False

    def _receive(self, data: bytes | bytearray | memoryview) -> None:
        if not self.done:
            self._buffer += data

    def _next(self) -> Request | Sentinel:
        if self.done:
            return PAUSED
        request = self._parse() if self._buffer else None
        if request is not None:
            self.done = True
            self._buffer.clear()
            return request
        if not self.eof:
            return NEED_DATA
        if self._buffer:
            raise ProtocolError("http-cut-by-eof")
        return END

    def _parse(self) -> Request | None:
        buffer = self._buffer
        if self._line is None:
            line_end = buffer.find(b"\n")
            if line_end < 0:
                if len(buffer) > MAX_HEAD:
                    raise ProtocolError("http-head-too-long", limit=MAX_HEAD)
                return None
            if line_end >= MAX_HEAD:
                raise ProtocolError("http-head-too-long", limit=MAX_HEAD)
            self._line = _request_line(bytes(buffer[:line_end]).removesuffix(b"\r"))
            if self._line[2] == "HTTP/0.9":  # a simple request is one line, without headers: answer it at once
                return Request(*self._line, [], bytes(buffer[:line_end + 1]))
        match = _HEAD_END.search(buffer, max(0, self._scanned - 2))
        self._scanned = len(buffer)
        if match is None or match.end() > MAX_HEAD:
            if len(buffer) > MAX_HEAD:
                raise ProtocolError("http-head-too-long", limit=MAX_HEAD)
            return None
        head = bytes(buffer[:match.end()])
        lines = head.split(b"\n")[1:-2]  # between the request line and the blank line
        if len(lines) > MAX_HEADERS:
            raise ProtocolError("http-too-many-headers", limit=MAX_HEADERS)
        headers = [_header_line(raw.removesuffix(b"\r").decode("latin-1")) for raw in lines]
        return Request(*self._line, headers, head)


def _request_line(raw: bytes) -> tuple[str, str, str]:
    """`METHOD SP target SP HTTP/x.y`, or `METHOD SP target` (HTTP/0.9), each part separated by one space."""
    try:
        line = raw.decode("utf-8")  # `nc` users may type a file name as it is; browsers percent-encode
    except UnicodeDecodeError:
        raise ProtocolError("http-not-utf8") from None
    parts = line.split(" ")
    if len(parts) not in (2, 3) or not all(parts):
        raise ProtocolError("http-request-line")
    method, target = parts[0], parts[1]
    if not _TOKEN.fullmatch(method):
        raise ProtocolError("http-method")
    if _CONTROL.search(target) or "\t" in target:
        raise ProtocolError("http-path-control")
    if len(parts) == 2:
        return method, target, "HTTP/0.9"
    version = _VERSION.fullmatch(parts[2])
    if version is None:
        raise ProtocolError("http-version-form", version=parts[2])
    if version.group(1) != "1":
        raise ProtocolError("http-version", version=parts[2])
    return method, target, parts[2]


def _header_line(line: str) -> tuple[str, str]:
    if line[:1] in (" ", "\t"):
        raise ProtocolError("http-folded-header")
    name, colon, value = line.partition(":")
    if not colon or not _TOKEN.fullmatch(name):
        raise ProtocolError("http-header-form")
    value = value.strip(" \t")
    if _CONTROL.search(value):
        raise ProtocolError("http-header-control", name=name)
    return name, value


@dataclass(slots=True)
class Response:
    """`encode()` adds Content-Length (unless a header already gives it) and Connection: close."""

    status: int
    reason: str  # the reason phrase of the status line, e.g. "Not Found"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def head(self) -> bytes:
        lines = [f"HTTP/1.0 {self.status} {self.reason}", *(f"{name}: {value}" for name, value in self.headers)]
        if not any(name.lower() == "content-length" for name, _ in self.headers):
            lines.append(f"Content-Length: {len(self.body)}")  # a HEAD answer gives the full length itself
        lines.append("Connection: close")
        # Header text never contains CR or LF: every value is made here, never copied from a request.
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def encode(self) -> bytes:
        return self.head() + self.body


_STYLE = ("body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#222}"
          "h1{font-size:1.5rem}table{border-collapse:collapse}td{padding:.2rem 1rem .2rem 0}td.size{text-align:right;color:#666}")


def _page(status: int, title: str, body: str, headers: Sequence[tuple[str, str]] = ()) -> Response:
    """An HTML page; `title` and `body` must already be escaped."""
    text = (f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>{_STYLE}</style></head>\n<body>\n<h1>{title}</h1>\n{body}\n</body></html>\n")
    return Response(status, HTTPStatus(status).phrase,
                    [("Content-Type", "text/html; charset=utf-8"), *headers], text.encode("utf-8"))


def error_response(status: int, sentence: str, headers: Sequence[tuple[str, str]] = ()) -> Response:
    """A small HTML page saying what went wrong in one sentence (escaped here)."""
    sentence = sentence[:1].upper() + sentence[1:]
    if not sentence.endswith((".", "!", "?")):
        sentence += "."
    body = f"<p>{html.escape(sentence)}</p>\n<p><a href=\"/\">Back to the list of files</a></p>"
    return _page(status, f"{status} {HTTPStatus(status).phrase}", body, headers)


def _size(size: object) -> str:
    if not isinstance(size, int):
        return ""
    if size < 1024:
        return f"{size} bytes"
    return f"{size / 1024:.1f} KiB" if size < 1 << 20 else f"{size / (1 << 20):.1f} MiB"


class Site:
    """What the HTTP server mode serves: an index page and the files folder under /files/."""

    def __init__(self, resolve: Callable[[str], Path], listing: Callable[[], Sequence[Mapping[str, object]]]) -> None:
        self.resolve = resolve  # raises BadInput/NotFound for anything not a plain file in the folder
        self.listing = listing

    def respond(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return error_response(405, f"this server only answers GET and HEAD requests, not {request.method}",
                                  [("Allow", ALLOW)])
        response = self._get(request.target)
        if request.method == "HEAD":
            response.headers.append(("Content-Length", str(len(response.body))))
            response.body = b""
        return response

    def _get(self, target: str) -> Response:
        if target.lower().startswith(("http://", "https://")):
            path = urlsplit(target).path or "/"  # absolute form, as sent to a proxy: keep the path
        else:
            path = target.split("?", 1)[0].split("#", 1)[0]  # not urlsplit: it reads "//x/y" as a host
        if path == "/":
            return self._index()
        if path.startswith("/files/"):
            return self._file(path.removeprefix("/files/"))
        return error_response(404, f"there is no page at {path}; try / for the list of files")

    def _index(self) -> Response:
        rows = "\n".join(
            f"<tr><td><a href=\"/files/{html.escape(quote(str(entry['name']), safe=''))}\">"
            f"{html.escape(str(entry['name']))}</a></td><td class=\"size\">{_size(entry.get('size'))}</td></tr>"
            for entry in self.listing())
        body = ("<p>No web framework made this page. A short Python program read your browser's request from "
                "a TCP socket and wrote these bytes back: a status line, a few header lines, a blank line, "
                "then this HTML. Every link below opens a new connection.</p>\n"
                f"<table>\n{rows or '<tr><td>The files folder is empty.</td></tr>'}\n</table>")
        return _page(200, "Socket Lab HTTP by hand", body)

    def _file(self, segment: str) -> Response:
        # Decode exactly once: resolve() refuses any "%XX" left, so "%252e" cannot become ".".
        try:
            name = unquote_to_bytes(segment).decode("utf-8")
        except UnicodeDecodeError:
            return error_response(400, "the file name is not valid UTF-8 text once its %XX codes are decoded")
        if "/" in name or "\\" in name:  # raw or encoded: only plain names, whatever resolve() would say
            return error_response(400, "only a plain file name from the files folder can be asked for: "
                                       "no folders and no '..'")
        try:
            with open(self.resolve(name), "rb") as f:
                data = f.read(MAX_FILE + 1)  # files are small; reading one byte more tells "too large"
        except BadInput as exc:
            return error_response(400, str(exc))
        except NotFound as exc:
            return error_response(404, str(exc))
        except OSError:  # removed or made unreadable since resolve() looked
            return error_response(404, f"{name} could not be read from the files folder")
        if len(data) > MAX_FILE:
            return error_response(413, f"{name} is larger than {MAX_FILE >> 20} MiB, too large for this little "
                                       "HTTP server; download it with the lab's file server instead")
        kind = _TYPES.guess_type(name)[0] or "application/octet-stream"
        if kind.startswith("text/"):
            kind += "; charset=utf-8"  # the sample texts are UTF-8; without it browsers guess Latin-1
        return Response(200, "OK", [("Content-Type", kind), ("X-Content-Type-Options", "nosniff")], data)
