"""Checking what a user asks for, before any socket is made: every mistake becomes a sentence."""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from typing import Any

from .errors import BadInput, TooLarge
from .events import Address

KINDS = ("tcp-server", "tcp-client", "udp-server", "udp-client")
MODES = {
    "tcp-server": ("echo", "reply", "manual", "file", "files"),
    "udp-server": ("echo", "reply", "manual"),
}
PROTOCOLS = ("raw", "framed")
ENCODINGS = ("utf-8", "hex")


def _object(body: Any, example: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadInput(f"The request body must be a JSON object, like {example}.")
    return body


def _string(body: dict[str, Any], key: str, default: str | None = None, *, required: bool = False,
            choices: tuple[str, ...] = (), max_length: int = 4096) -> str | None:
    value = body.get(key)
    if value is None:  # absent and null both mean "use the default"
        value = default
    if value is None:
        if required:
            raise BadInput(f"'{key}' is missing.")
        return None
    if not isinstance(value, str):
        raise BadInput(f"'{key}' must be a string, not {type(value).__name__}.")
    if choices and value not in choices:
        raise BadInput(f"'{value}' is not a valid {key}: use one of {', '.join(choices)}.")
    if len(value) > max_length:
        raise BadInput(f"'{key}' is too long (at most {max_length} characters).")
    return value


def _port(body: dict[str, Any], key: str = "port", *, allow_zero: bool) -> int:
    value = body.get(key)
    if value is None and allow_zero:
        value = 0
    if value is None:
        raise BadInput(f"'{key}' is missing: which port number?")
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput(f"The port must be a whole number, not {value!r}.")
    low = 0 if allow_zero else 1
    if not low <= value <= 65535:
        extra = " (0 lets the system choose)" if allow_zero else ""
        raise BadInput(f"Port {value} is out of range: a port is a number from {low} to 65535{extra}.")
    return value


def _host(body: dict[str, Any]) -> str:
    host = _string(body, "host", "127.0.0.1", max_length=253)
    assert host is not None
    host = host.strip()
    if not host:
        raise BadInput("The host is empty: give an address like 127.0.0.1.")
    return host


@dataclass(frozen=True)
class EndpointSpec:
    kind: str
    host: str
    port: int
    mode: str | None = None
    reply: str = "OK"
    file: str | None = None
    protocol: str = "raw"


def parse_endpoint(body: Any) -> EndpointSpec:
    body = _object(body, '{"kind": "tcp-server", "host": "127.0.0.1", "port": 0, "mode": "echo"}')
    kind = _string(body, "kind", required=True, choices=KINDS)
    assert kind is not None
    server = kind.endswith("server")
    host, port = _host(body), _port(body, allow_zero=server)
    if not server:
        return EndpointSpec(kind, host, port)
    mode = _string(body, "mode", "echo", choices=MODES[kind])
    assert mode is not None
    reply = _string(body, "reply", "OK") or ""
    protocol = _string(body, "protocol", "raw", choices=PROTOCOLS) or "raw"
    file = _string(body, "file", max_length=1024)
    if mode == "file" and not file:
        raise BadInput("Mode 'file' needs a 'file': the name of the file to send to every client.")
    return EndpointSpec(kind, host, port, mode, reply, file, protocol)


@dataclass(frozen=True)
class SendRequest:
    data: bytes
    conn: str | None
    to: Address | None


def decode_data(text: str, encoding: str) -> bytes:
    if encoding == "hex":
        try:
            return binascii.unhexlify("".join(text.split()).removeprefix("0x"))
        except (binascii.Error, ValueError):
            raise BadInput("The hex data is not valid: use pairs of hex digits, like '68 65 6c 6c 6f'.") from None
    return text.encode("utf-8", "replace")  # a lone surrogate from JSON becomes '?', never a crash


def parse_send(body: Any, max_bytes: int) -> SendRequest:
    body = _object(body, '{"data": "hello", "encoding": "utf-8"}')
    text = _string(body, "data", required=True, max_length=4 * max_bytes + 16)
    encoding = _string(body, "encoding", "utf-8", choices=ENCODINGS) or "utf-8"
    assert text is not None
    data = decode_data(text, encoding)
    if not data:
        raise BadInput("There is nothing to send: the data is empty.")
    if len(data) > max_bytes:
        raise TooLarge(f"One send may carry at most {max_bytes} bytes; this one has {len(data)}.")
    conn = body.get("conn")
    if conn is not None and not isinstance(conn, str):
        raise BadInput(f"'conn' must be a connection id string like 'c1', not {conn!r}.")
    to = body.get("to")
    if to is not None:
        if (not isinstance(to, list) or len(to) != 2 or not isinstance(to[0], str)
                or isinstance(to[1], bool) or not isinstance(to[1], int)):
            raise BadInput("'to' must be [host, port], like [\"127.0.0.1\", 9999].")
        to = (_host({"host": to[0]}), _port({"port": to[1]}, allow_zero=False))
    return SendRequest(data, conn, to)


@dataclass(frozen=True)
class DownloadRequest:
    host: str
    port: int
    file: str | None
    protocol: str


def parse_download(body: Any) -> DownloadRequest:
    body = _object(body, '{"host": "127.0.0.1", "port": 9000, "file": "hello.txt", "protocol": "framed"}')
    host, port = _host(body), _port(body, allow_zero=False)
    file = _string(body, "file", max_length=1024)
    if file is not None and not file.strip():
        file = None
    if file is not None and ("\n" in file or "\r" in file):
        raise BadInput("The file name must be one line (no line breaks).")
    protocol = _string(body, "protocol", "raw", choices=PROTOCOLS) or "raw"
    return DownloadRequest(host, port, file, protocol)
