"""The HTTP/1.0 server protocol, sans-I/O: request parsing tables (whole, one byte at a time, at
random splits, with trailing data), responses, and the Site over a temporary files folder, including
a path-traversal corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lab.files import SAMPLE_TEXT, FileStore
from lab.protocols.http import (MAX_FILE, MAX_HEAD, MAX_HEADERS, STATUS, Request, RequestParser, Response, Site,
                           bad_request_response, error_response)
from lab.protocols.sansio import END, NEED_DATA, PAUSED, ProtocolError

from .parsing import check_every_cut, run

Parsed = tuple[str, str, str, list[tuple[str, str]]] | int  # a Request's fields, or the status of its error page
TRAILING = b"GET /second HTTP/1.0\r\n\r\n"  # bytes after the head: a body, or a second request


def summary(event: Request) -> Parsed:
    return event.method, event.target, event.version, event.headers


def outcome(seen: list[Any]) -> Parsed | None:
    """What the connection gets: the request's fields, the error page's status, or nothing (no request)."""
    if isinstance(seen[-1], tuple) and seen[-1][0] == "error":
        assert len(seen) == 1
        return STATUS.get(seen[-1][1], 400)
    if seen == ["END"]:
        return None
    assert len(seen) == 2 and seen[1] == "PAUSED", seen  # one request, then nothing more is read
    parsed: Parsed = seen[0]
    return parsed


def parse(data: bytes) -> list[Any]:
    """Every event and the ending of `data` fed whole, then EOF."""
    return run(RequestParser(), [data])


def long_head(size: int) -> bytes:
    """A complete head of exactly `size` bytes."""
    start, end = b"GET / HTTP/1.0\r\nX-Pad: ", b"\r\n\r\n"
    return start + b"a" * (size - len(start) - len(end)) + end


def many_headers(count: int) -> bytes:
    return b"GET / HTTP/1.0\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(count)) + b"\r\n"


PARSE_TABLE: list[tuple[bytes, Parsed | None]] = [
    # request line variants
    (b"GET / HTTP/1.0\r\n\r\n", ("GET", "/", "HTTP/1.0", [])),
    (b"GET /files/hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
     ("GET", "/files/hello.txt", "HTTP/1.1", [("Host", "127.0.0.1")])),
    (b"HEAD /?x=1 HTTP/1.0\r\n\r\n", ("HEAD", "/?x=1", "HTTP/1.0", [])),
    (b"POST /upload HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc", ("POST", "/upload", "HTTP/1.0", [("Content-Length", "3")])),
    (b"get / HTTP/1.0\r\n\r\n", ("get", "/", "HTTP/1.0", [])),  # methods are case-sensitive: Site says 405
    (b"GET http://example.com:8080/files/a?b HTTP/1.1\r\n\r\n", ("GET", "http://example.com:8080/files/a?b", "HTTP/1.1", [])),
    ("GET /files/你好.txt HTTP/1.0\r\n\r\n".encode(), ("GET", "/files/你好.txt", "HTTP/1.0", [])),
    # bare "\n" line endings, as `nc` sends, and a mix
    (b"GET / HTTP/1.0\n\n", ("GET", "/", "HTTP/1.0", [])),
    (b"GET / HTTP/1.0\nHost: x\nAccept: */*\n\n", ("GET", "/", "HTTP/1.0", [("Host", "x"), ("Accept", "*/*")])),
    (b"GET / HTTP/1.0\r\nHost: x\n\r\n", ("GET", "/", "HTTP/1.0", [("Host", "x")])),
    # headers: optional whitespace around the value is not part of it; names keep their case
    (b"GET / HTTP/1.0\r\nx-Thing:   two words \t\r\nEmpty:\r\n\r\n", ("GET", "/", "HTTP/1.0", [("x-Thing", "two words"), ("Empty", "")])),
    (b"GET / HTTP/1.0\r\nA: 1\r\nA: 2\r\n\r\n", ("GET", "/", "HTTP/1.0", [("A", "1"), ("A", "2")])),
    (b"GET / HTTP/1.0\r\nX-Latin: caf\xe9\r\n\r\n", ("GET", "/", "HTTP/1.0", [("X-Latin", "caf\xe9")])),
    # HTTP/0.9: one line, no version, no headers, answered as soon as the line ends
    (b"GET /\r\n\r\n", ("GET", "/", "HTTP/0.9", [])),
    (b"GET /files/hello.txt\n", ("GET", "/files/hello.txt", "HTTP/0.9", [])),
    # bad request lines
    (b"HELLO\r\n\r\n", 400),
    (b"\r\n\r\n", 400),
    (b"GET\r\n\r\n", 400),
    (b"GET  / HTTP/1.0\r\n\r\n", 400),
    (b"GET / HTTP/1.0 extra\r\n\r\n", 400),
    (b"GET / HTTP/1.0 \r\n\r\n", 400),
    (b"GET / HTTX/1.0\r\n\r\n", 400),
    (b"GET / HTTP/1\r\n\r\n", 400),
    (b"G(T / HTTP/1.0\r\n\r\n", 400),
    (b"GET /a\x01b HTTP/1.0\r\n\r\n", 400),
    (b"GET /\xff HTTP/1.0\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\n\r\n", 505),
    (b"GET / HTTP/0.9\r\n\r\n", 505),
    # bad headers: folded, no colon, space before the colon, empty name, control characters
    (b"GET / HTTP/1.0\r\nA: b\r\n c\r\n\r\n", 400),
    (b"GET / HTTP/1.0\r\n\tA: b\r\n\r\n", 400),
    (b"GET / HTTP/1.0\r\nno colon here\r\n\r\n", 400),
    (b"GET / HTTP/1.0\r\nHost : x\r\n\r\n", 400),
    (b"GET / HTTP/1.0\r\n: x\r\n\r\n", 400),
    (b"GET / HTTP/1.0\r\nA: b\x00c\r\n\r\n", 400),
    (b"GET / HTTP/1.0\r\nA: b\rc\r\n\r\n", 400),
    # limits
    (long_head(MAX_HEAD), ("GET", "/", "HTTP/1.0", [("X-Pad", "a" * (MAX_HEAD - 27))])),
    (long_head(MAX_HEAD + 1), 431),
    (b"GET / HTTP/1.0\r\nX-Pad: " + b"a" * MAX_HEAD, 431),  # no end in sight
    (b"GET /" + b"a" * MAX_HEAD, 431),  # not even the end of the first line
    (b"GET /" + b"a" * MAX_HEAD + b"\r\n\r\n", 431),
    (many_headers(MAX_HEADERS), ("GET", "/", "HTTP/1.0", [(f"X-{i}", "v") for i in range(MAX_HEADERS)])),
    (many_headers(MAX_HEADERS + 1), 431),
    # EOF before the blank line; EOF with nothing received is no request at all
    (b"GET / HTTP/1.0\r\nHost: x\r\n", 400),
    (b"GET / HTTP/1.0\r\n\r", 400),
    (b"GE", 400),
    (b"", None),
]


@pytest.mark.parametrize(("data", "expected"), PARSE_TABLE, ids=[repr(d[:30]) for d, _ in PARSE_TABLE])
def test_parse_table(data: bytes, expected: Parsed | None) -> None:
    check_every_cut(RequestParser, data, [expected], show=summary, merge=lambda seen: [outcome(seen)])
    if isinstance(expected, tuple):  # a complete request: what follows its head changes nothing
        check_every_cut(RequestParser, data + TRAILING, [expected], show=summary, merge=lambda seen: [outcome(seen)])


def test_head_is_the_raw_bytes_up_to_the_blank_line() -> None:
    request, _ = parse(b"GET / HTTP/1.0\r\nHost: x\r\n\r\nbody bytes")
    assert isinstance(request, Request)
    assert request.head == b"GET / HTTP/1.0\r\nHost: x\r\n\r\n"
    simple, _ = parse(b"GET /\r\n\r\n")
    assert isinstance(simple, Request) and simple.head == b"GET /\r\n"
    bare, _ = parse(b"GET / HTTP/1.0\nA: b\n\n")
    assert isinstance(bare, Request) and bare.head == b"GET / HTTP/1.0\nA: b\n\n"


def test_eof_sentence_and_one_request_per_connection() -> None:
    with pytest.raises(ProtocolError) as cut:
        parser = RequestParser()
        parser.receive_data(b"GET / HTTP/1.0\r\n")
        parser.receive_data(b"")
        parser.next_event()
    assert cut.value.code == "http-cut-by-eof"
    assert str(cut.value) == "the connection closed before the request was complete"
    parser = RequestParser()
    parser.receive_data(b"GET / HTTP/1.0\r\n")
    assert parser.next_event() is NEED_DATA
    parser.receive_data(b"\r\nGET /again HTTP/1.0\r\n\r\n")
    request = parser.next_event()
    assert isinstance(request, Request) and request.target == "/"
    assert parser.next_event() is PAUSED
    parser.receive_data(b"GET /more HTTP/1.0\r\n\r\n")
    parser.receive_data(b"")
    assert parser.next_event() is PAUSED
    silent = RequestParser()
    silent.receive_data(b"")
    assert silent.next_event() is END  # connected and closed without a byte: no request, no error
    bad = RequestParser()
    bad.receive_data(b"NOPE\r\n")  # a bad first line is refused at once, without waiting for the head
    with pytest.raises(ProtocolError) as refused:
        bad.next_event()
    assert refused.value.code == "http-request-line"
    with pytest.raises(ProtocolError):  # and stays refused
        bad.next_event()


def test_response_encoding() -> None:
    response = Response(200, "OK", [("Content-Type", "text/plain")], b"hi")
    assert response.encode() == (b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                                 b"Content-Length: 2\r\nConnection: close\r\n\r\nhi")
    assert response.head() == response.encode()[:-2]
    head_only = Response(200, "OK", [("Content-Length", "10")])  # what HEAD sends: the length it leaves out
    assert head_only.encode() == b"HTTP/1.0 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize(("status", "phrase"), [(400, b"Bad Request"), (431, b"Request Header Fields Too Large"),
                                                (505, b"HTTP Version Not Supported")])
def test_bad_request_pages(status: int, phrase: bytes) -> None:
    data = error_response(status, "the header <X> & 'y' is wrong").encode()
    assert data.startswith(b"HTTP/1.0 %d %s\r\n" % (status, phrase))
    assert b"Content-Type: text/html; charset=utf-8\r\n" in data and b"Connection: close\r\n" in data
    assert b"The header &lt;X&gt; &amp; &#x27;y&#x27; is wrong.</p>" in data and b"<X>" not in data


@pytest.mark.parametrize(("error", "status"), [
    (ProtocolError("http-version", version="HTTP/2.0"), 505), (ProtocolError("http-head-too-long", limit=MAX_HEAD), 431),
    (ProtocolError("http-too-many-headers", limit=MAX_HEADERS), 431), (ProtocolError("http-method"), 400)])
def test_a_refused_request_gets_the_status_of_its_code(error: ProtocolError, status: int) -> None:
    data = bad_request_response(error).encode()
    assert data.startswith(b"HTTP/1.0 %d " % status) and str(error)[1:].encode() in data


# -- the site -------------------------------------------------------------------------------------

SECRET = b"TOP-SECRET-OUTSIDE-THE-FOLDER"


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    (tmp_path / "secret.txt").write_bytes(SECRET)
    return FileStore(tmp_path / "files")


@pytest.fixture
def site(store: FileStore) -> Site:
    return Site(store.resolve, store.listing)


def ask(site: Site, target: str, method: str = "GET") -> Response:
    """The whole path a request takes: bytes, parser, site."""
    request, _ = parse(f"{method} {target} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
    assert isinstance(request, Request)
    return site.respond(request)


def header(response: Response, name: str) -> str | None:
    return next((value for key, value in response.headers if key.lower() == name.lower()), None)


def test_index_lists_the_files_with_escaped_names(site: Site, store: FileStore) -> None:
    (store.root / "<b>&\"x y.txt").write_bytes(b"odd")
    (store.root / "你好.txt").write_bytes(b"hello")
    response = ask(site, "/")
    assert response.status == 200 and header(response, "Content-Type") == "text/html; charset=utf-8"
    page = response.body.decode()
    assert "<title>Socket Lab HTTP by hand</title>" in page and "TCP socket" in page
    for name in ("hello.txt", "random-1MB.bin", "gradient.png"):
        assert f'href="/files/{name}"' in page
    assert "1.0 MiB" in page
    assert 'href="/files/%3Cb%3E%26%22x%20y.txt"' in page and "&lt;b&gt;&amp;&quot;x y.txt" in page
    assert "<b>" not in page
    assert 'href="/files/%E4%BD%A0%E5%A5%BD.txt"' in page
    assert ask(site, "/files/%E4%BD%A0%E5%A5%BD.txt").body == b"hello"  # the links work
    assert ask(site, "/files/%3Cb%3E%26%22x%20y.txt").body == b"odd"


@pytest.mark.parametrize(("name", "kind"), [("hello.txt", "text/plain; charset=utf-8"), ("gradient.png", "image/png"),
                                            ("random-1MB.bin", "application/octet-stream")])
def test_files_are_served_with_their_bytes_and_type(site: Site, store: FileStore, name: str, kind: str) -> None:
    response = ask(site, f"/files/{name}")
    assert response.status == 200
    assert response.body == (store.root / name).read_bytes()
    assert header(response, "Content-Type") == kind
    assert f"Content-Length: {len(response.body)}\r\n".encode() in response.encode()


def test_targets_query_strings_and_absolute_form(site: Site) -> None:
    hello = SAMPLE_TEXT.encode()
    assert ask(site, "/files/hello.txt?download=1").body == hello
    assert ask(site, "http://127.0.0.1:8080/files/hello.txt").body == hello
    assert ask(site, "HTTP://example/files/hello.txt?x#y").body == hello
    assert ask(site, "/?x=1").status == 200 and ask(site, "http://example").status == 200
    simple, _ = parse(b"GET /\r\n\r\n")
    assert isinstance(simple, Request)
    assert site.respond(simple).encode().startswith(b"HTTP/1.0 200 OK\r\n")  # HTTP/0.9 answered as 1.0


def test_head_is_get_without_the_body(site: Site) -> None:
    for target in ("/", "/files/gradient.png", "/nope"):
        get, head = ask(site, target), ask(site, target, "HEAD")
        assert head.body == b"" and head.status == get.status
        assert head.encode() == get.head()  # same headers, Content-Length included


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "get"])
def test_other_methods_get_405(site: Site, method: str) -> None:
    response = ask(site, "/files/hello.txt", method)
    assert response.status == 405 and response.reason == "Method Not Allowed"
    assert header(response, "Allow") == "GET, HEAD"
    assert b"only answers GET and HEAD" in response.body


@pytest.mark.parametrize("target", ["/nope", "/index.html", "/files", "/<script>alert(1)</script>", "*", "hello.txt"])
def test_unknown_paths_get_404(site: Site, target: str) -> None:
    response = ask(site, target)
    assert response.status == 404 and header(response, "Content-Type") == "text/html; charset=utf-8"
    assert b"<script>" not in response.body


def test_missing_file_and_too_large_file(site: Site, store: FileStore) -> None:
    missing = ask(site, "/files/nothing-here.txt")
    assert missing.status == 404 and b"There is no file named" in missing.body
    with open(store.root / "huge.bin", "wb") as f:
        f.truncate(MAX_FILE + 1)  # sparse: no 16 MiB written to disk
    huge = ask(site, "/files/huge.bin")
    assert huge.status == 413 and b"larger than 16 MiB" in huge.body


TRAVERSAL = [
    "/files/..%2fsecret.txt",
    "/files/..%2Fsecret.txt",
    "/files/%2e%2e/secret.txt",
    "/files/%2e%2e%2fsecret.txt",
    "/files/../secret.txt",
    "/../secret.txt",
    "/secret.txt",
    "//secret.txt",
    "/files//secret.txt",
    "/files/..",
    "/files/%2e%2e",
    "/files/..%5csecret.txt",
    "/files/..\\secret.txt",
    "/files/%252e%252e%252fsecret.txt",  # decoded once: "%2e%2e%2f" stays text, and resolve refuses it
    "/files/hello%252etxt",
    "/files/%00",
    "/files/hello.txt%00.png",
    "/files/%c0%afsecret.txt",
    "/files/%ff",
    "/files/",
    "/files/" + "a" * 300,
    "/files/link-out.txt",
    "/files/link-dir%2fsecret.txt",
    "http://x/files/..%2fsecret.txt",
    "http://x/../secret.txt",
]


@pytest.mark.parametrize("target", TRAVERSAL)
def test_traversal_is_refused_and_never_leaks(site: Site, store: FileStore, target: str) -> None:
    (store.root / "link-out.txt").symlink_to(store.root.parent / "secret.txt")
    (store.root / "link-dir").symlink_to(store.root.parent)
    # a bad name in the files folder is a bad request (400); any other path is just no page (404)
    expected = 400 if "/files/" in target else 404
    for method in ("GET", "HEAD"):
        response = ask(site, target, method)
        assert response.status == expected, (method, response.status)
        assert SECRET not in response.encode()


@pytest.mark.parametrize("target", ["/files/..%2fsecret.txt", "/files/../secret.txt", "/files/..%5csecret.txt"])
def test_site_refuses_separators_even_if_resolve_would_not(store: FileStore, target: str) -> None:
    naive = Site(lambda name: store.root / name, store.listing)  # a resolve that checks nothing
    response = ask(naive, target)
    assert response.status == 400 and SECRET not in response.encode()
