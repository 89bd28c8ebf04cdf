"""Checking what a user asks for, before any socket is made: every mistake becomes a sentence."""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field
from typing import Any

import re2  # google-re2: linear-time matching for rules

from .sockets import servermodes
from .errors import BadInput, TooLarge
from .events.bus import Address

KINDS = ("tcp-server", "tcp-client", "udp-server", "udp-client")
FRAMINGS = servermodes.FRAMINGS
MAX_RULES = 20
PROTOCOLS = ("raw", "framed")
ENCODINGS = ("utf-8", "hex")

# The fields each request takes; anything else is refused by name.
CLIENT_FIELDS = ("kind", "host", "port", "framing", "delimiter", "impair", "broadcast", "link")
SERVER_COMMON = ("kind", "host", "port", "mode", "framing", "delimiter", "impair", "recv_delay_ms", "link")  # + what the modes read
RULE_FIELDS = ("match", "reply")
IMPAIR_FIELDS = ("loss", "duplicate", "reorder", "delay_ms", "jitter_ms", "seed")
LINK_FIELDS = ("loss", "rate_kbit")
RATE_KBIT = (8, 10_000_000)  # 1 kB/s (slow enough to watch) .. 10 Gbit/s (loopback's own speed)
SEND_FIELDS = ("data", "encoding", "conn", "to", "repeat", "interval_ms", "numbered")
DOWNLOAD_FIELDS = ("host", "port", "file", "protocol")


def _object(body: Any, example: str, fields: tuple[str, ...] = (), unknown: str = "unknown-request-field",
            **about: Any) -> dict[str, Any]:
    """`body` as a JSON object; with `fields`, a key outside them is refused by name, so that a
    typo such as `recv_delay` is a sentence, not a setting silently ignored (`unknown`: the code
    of that sentence, `about`: its other params)."""
    if not isinstance(body, dict):
        raise BadInput("not-an-object", example=example)
    if fields:
        strangers = [key for key in body if key not in fields]
        if strangers:
            name = str(strangers[0])[:40]
            raise BadInput(unknown, field=name, fields=", ".join(fields), **about)
    return body


def _string(body: dict[str, Any], key: str, default: str | None = None, *, required: bool = False,
            choices: tuple[str, ...] = (), max_length: int = 4096, lenient: bool = False) -> str | None:
    value = body.get(key)
    if value is None:  # absent and null both mean "use the default"
        value = default
    if value is None:
        if required:
            raise BadInput("field-missing", field=key)
        return None
    if not isinstance(value, str):
        raise BadInput("not-a-string", field=key, type=type(value).__name__)
    if choices and value not in choices:
        raise BadInput("not-a-choice", value=value[:40], field=key, choices=", ".join(choices))
    if len(value) > max_length:
        raise BadInput("string-too-long", field=key, limit=max_length)
    if not lenient and not _is_text(value):
        raise BadInput("not-text", field=key)
    return value


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _port(body: dict[str, Any], key: str = "port", *, allow_zero: bool) -> int:
    value = body.get(key)
    if value is None and allow_zero:
        value = 0
    if value is None:
        raise BadInput("port-missing", field=key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput("port-not-a-number", value=repr(value)[:40])
    low = 0 if allow_zero else 1
    if not low <= value <= 65535:
        raise BadInput("port-out-of-range-zero" if allow_zero else "port-out-of-range", port=value, low=low)
    return value


def _number(body: dict[str, Any], key: str, default: float, low: float, high: float, *, whole: bool = False) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and not isinstance(value, int)):
        raise BadInput("not-a-whole-number" if whole else "not-a-number", field=key, value=repr(value)[:40])
    if not low <= value <= high:
        raise BadInput("number-out-of-range", field=key, low=low, high=high)
    return value


def _host(body: dict[str, Any]) -> str:
    host = _string(body, "host", "127.0.0.1", max_length=253)
    assert host is not None
    host = host.strip()
    if not host:
        raise BadInput("host-empty")
    return host


RULE_REPEAT_MAX = 1000  # the largest {n} a rule may use: RE2's own limit
RULE_MEMORY = 256 << 10  # bytes RE2 may use per rule (program and DFA cache); past it, it matches slower, not bigger
_COUNTS = re.compile(r"\{(\d+)(?:,(\d*))?\}")  # {n}, {n,}, {n,m}: fixed, linear, ours
_TEMPLATE = re.compile(r"\$(\d)")


def _re2_options() -> Any:
    options = re2.Options()
    options.log_errors = False  # a bad pattern is a sentence for the user, not a line on stderr
    options.max_mem = RULE_MEMORY
    return options


@dataclass(frozen=True)
class Rule:
    """An auto-reply rule: when `pattern` matches a message, answer `reply` with $1-style captures.

    Matching uses RE2 (google-re2): its time grows linearly with the message whatever the pattern,
    so no rule can freeze the lab (Python's re backtracks: `^(a+)+$` against 41 bytes runs for
    minutes while holding the GIL). A pattern must also compile with Python's re, because the
    generated program (lab/codegen/programs.py) matches with it.
    """

    pattern: str
    reply: str
    compiled: Any = field(compare=False, repr=False)  # an re2 pattern (the module has no type hints)
    pieces: tuple[str, ...] = field(compare=False, repr=False)  # reply split at $n: text, digit, text, ...

    @classmethod
    def make(cls, pattern: str, reply: str) -> Rule:
        """Raises BadInput with a sentence for a pattern RE2 or Python's re cannot compile."""
        for found in _COUNTS.finditer(pattern):
            if any(n and int(n) > RULE_REPEAT_MAX for n in found.groups()):
                raise BadInput("rule-repeat-too-large", pattern=pattern, found=found.group(0), limit=RULE_REPEAT_MAX)
        try:
            compiled = re2.compile(pattern, _re2_options())
        except re2.error as exc:
            reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
            raise BadInput("rule-not-linear", pattern=pattern, reason=reason) from None
        try:
            re.compile(pattern)
        except (re.error, OverflowError, RecursionError) as exc:
            raise BadInput("rule-not-python", pattern=pattern, reason=str(exc)) from None
        return cls(pattern, reply, compiled, tuple(_TEMPLATE.split(reply)))

    def answer(self, text: str, limit: int) -> bytes | None:
        """The reply (UTF-8) when the pattern matches `text`, else None.

        Raises TooLarge when the reply after $n expansion would pass `limit` bytes: "$0" 2048 times
        would turn 4 KiB in into 8 MiB out, so the size is counted before anything is joined.
        """
        match = self._search(text)
        if match is None:
            return None
        groups = [match.group(0), *(g or "" for g in match.groups())]
        out: list[bytes] = []
        size = 0
        for i, piece in enumerate(self.pieces):
            filled = piece
            if i % 2:  # a $n: what the n-th (...) matched, or "$n" itself when there is no such group
                n = int(piece)
                filled = groups[n] if n < len(groups) else "$" + piece
            data = filled.encode("utf-8")
            size += len(data)
            if size > limit:
                raise TooLarge("rule-reply-too-large", pattern=self.pattern, limit=limit)
            out.append(data)
        return b"".join(out)

    def _search(self, text: str) -> Any:
        # RE2's `$` matches only at the very end; Python's also before a final "\n" (what nc sends).
        # For a pattern with `$`, trying the message without that "\n" first answers as Python does.
        if "$" in self.pattern and text.endswith("\n"):
            match = self.compiled.search(text[:-1])
            if match is not None:
                return match
        return self.compiled.search(text)

    def to_json(self) -> dict[str, str]:
        return {"match": self.pattern, "reply": self.reply}


@dataclass(frozen=True)
class ImpairSpec:
    """Network impairment the lab applies to its own outgoing datagrams; fractions are 0..1."""

    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    seed: int = 1

    def to_json(self) -> dict[str, float]:
        return {"loss": self.loss, "duplicate": self.duplicate, "reorder": self.reorder,
                "delay_ms": self.delay_ms, "jitter_ms": self.jitter_ms, "seed": self.seed}


@dataclass(frozen=True)
class LinkSpec:
    """Real impairment of the lab's own link (lab/wire/link.py): kernel drops on input and a tbf rate.
    Unlike ImpairSpec it is not seeded: the kernel decides, so TCP really loses and retransmits."""

    loss: float = 0.0  # fraction 0..1 of the endpoint's packets dropped on arrival, both directions
    rate_kbit: int = 0  # 0: no rate limit

    def to_json(self) -> dict[str, float]:
        return {"loss": self.loss, "rate_kbit": self.rate_kbit}


@dataclass(frozen=True)
class EndpointSpec:
    kind: str
    host: str
    port: int
    mode: str | None = None
    reply: str = "OK"
    file: str | None = None
    protocol: str = "raw"
    framing: str = "raw"
    delimiter: bytes = b"\n"
    rules: tuple[Rule, ...] = ()
    broadcast: bool = False
    impair: ImpairSpec | None = None
    recv_delay_ms: int = 0  # a slow reader: wait this long before each recv() (tcp-server)
    link: LinkSpec | None = None  # real loss and rate on the endpoint's port (lab/wire/link.py)


def _framing(body: dict[str, Any], kind: str, mode: str | None) -> tuple[str, bytes]:
    framing = _string(body, "framing", "raw", choices=FRAMINGS) or "raw"
    delimiter_text = _string(body, "delimiter", "\n", max_length=8)
    if framing != "raw" and not kind.startswith("tcp"):
        raise BadInput("framing-for-udp")
    if mode is not None and framing not in servermodes.REGISTRY[mode].framings:
        raise BadInput("framing-with-byte-mode", mode=mode, framing=framing)
    delimiter = (delimiter_text or "").encode("utf-8")
    if framing == "line" and not delimiter:
        raise BadInput("delimiter-missing")
    return framing, delimiter


def _rules(body: dict[str, Any]) -> tuple[Rule, ...]:
    raw = body.get("rules")
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_RULES:
        raise BadInput("rules-invalid", limit=MAX_RULES)
    rules = []
    for entry in raw:
        item = _object(entry, '{"match": "^hello (\\w+)", "reply": "hi $1"}', RULE_FIELDS, "unknown-rule-field")
        pattern = _string(item, "match", required=True, max_length=200) or ""
        reply = _string(item, "reply", required=True, max_length=4096) or ""
        rules.append(Rule.make(pattern, reply))
    return tuple(rules)


def _impair(body: dict[str, Any], kind: str) -> ImpairSpec | None:
    raw = body.get("impair")
    if raw is None:
        return None
    if not kind.startswith("udp"):
        raise BadInput("impair-for-tcp")
    raw = _object(raw, '{"loss": 0.2, "seed": 1}', IMPAIR_FIELDS, "unknown-impair-field")
    return ImpairSpec(
        loss=_number(raw, "loss", 0.0, 0, 1), duplicate=_number(raw, "duplicate", 0.0, 0, 1),
        reorder=_number(raw, "reorder", 0.0, 0, 1), delay_ms=_number(raw, "delay_ms", 0.0, 0, 10_000),
        jitter_ms=_number(raw, "jitter_ms", 0.0, 0, 10_000), seed=int(_number(raw, "seed", 1, -2**63, 2**63 - 1, whole=True)))


def _link(body: dict[str, Any]) -> LinkSpec | None:
    """The "link" field: None when absent or when it asks for nothing (loss 0, no rate)."""
    raw = body.get("link")
    if raw is None:
        return None
    raw = _object(raw, '{"loss": 0.2, "rate_kbit": 800}', LINK_FIELDS, "unknown-link-field")
    loss = _number(raw, "loss", 0.0, 0, 1)
    rate = int(_number(raw, "rate_kbit", 0, 0, RATE_KBIT[1], whole=True))
    if 0 < rate < RATE_KBIT[0]:
        raise BadInput("number-out-of-range", field="rate_kbit", low=RATE_KBIT[0], high=RATE_KBIT[1])
    return LinkSpec(float(loss), rate) if loss or rate else None


def parse_endpoint(body: Any) -> EndpointSpec:
    body = _object(body, '{"kind": "tcp-server", "host": "127.0.0.1", "port": 0, "mode": "echo"}')
    kind = _string(body, "kind", required=True, choices=KINDS)
    assert kind is not None
    server = kind.endswith("server")
    _object(body, "", SERVER_COMMON + servermodes.server_fields() if server else CLIENT_FIELDS, "unknown-field", kind=kind)
    host, port = _host(body), _port(body, allow_zero=server)
    mode = _string(body, "mode", "echo", choices=servermodes.modes_for(kind)) if server else None
    framing, delimiter = _framing(body, kind, mode)
    impair, link = _impair(body, kind), _link(body)
    broadcast = body.get("broadcast", False)
    if not isinstance(broadcast, bool):
        raise BadInput("not-a-boolean", field="broadcast")
    if broadcast and kind != "udp-client":
        raise BadInput("broadcast-not-udp-client")
    if not server:
        return EndpointSpec(kind, host, port, framing=framing, delimiter=delimiter, broadcast=broadcast, impair=impair,
                            link=link)
    reply = _string(body, "reply", "OK") or ""
    protocol = _string(body, "protocol", "raw", choices=PROTOCOLS) or "raw"
    file = _string(body, "file", max_length=1024)
    recv_delay_ms = int(_number(body, "recv_delay_ms", 0, 0, 10_000, whole=True))
    if recv_delay_ms and kind != "tcp-server":
        raise BadInput("recv-delay-for-tcp-server")
    spec = EndpointSpec(kind, host, port, mode, reply, file, protocol, framing, delimiter, _rules(body), impair=impair,
                        recv_delay_ms=recv_delay_ms, link=link)
    for name, code in servermodes.REGISTRY[spec.mode or "echo"].needs.items():
        if not getattr(spec, name):
            raise BadInput(code)
    return spec


@dataclass(frozen=True)
class SendRequest:
    data: bytes
    conn: str | None
    to: Address | None
    repeat: int = 1
    interval_ms: int = 0
    numbered: bool = False


def decode_data(text: str, encoding: str) -> bytes:
    if encoding == "hex":
        try:
            return binascii.unhexlify("".join(text.split()).removeprefix("0x"))
        except (binascii.Error, ValueError):
            raise BadInput("hex-invalid") from None
    return text.encode("utf-8", "replace")  # a lone surrogate from JSON becomes '?', never a crash


def parse_send(body: Any, max_bytes: int) -> SendRequest:
    body = _object(body, '{"data": "hello", "encoding": "utf-8"}', SEND_FIELDS, "unknown-send-field")
    text = _string(body, "data", required=True, max_length=4 * max_bytes + 16, lenient=True)
    encoding = _string(body, "encoding", "utf-8", choices=ENCODINGS) or "utf-8"
    assert text is not None
    data = decode_data(text, encoding)
    if not data:
        raise BadInput("send-empty")
    if len(data) > max_bytes:
        raise TooLarge("send-too-large", limit=max_bytes, size=len(data))
    conn = body.get("conn")
    if conn is not None and not isinstance(conn, str):
        raise BadInput("conn-not-a-string", value=repr(conn)[:40])
    to = body.get("to")
    if to is not None:
        if (not isinstance(to, list) or len(to) != 2 or not isinstance(to[0], str)
                or isinstance(to[1], bool) or not isinstance(to[1], int)):
            raise BadInput("to-invalid")
        to = (_host({"host": to[0]}), _port({"port": to[1]}, allow_zero=False))
    repeat = int(_number(body, "repeat", 1, 1, 10_000, whole=True))
    interval_ms = int(_number(body, "interval_ms", 0, 0, 60_000, whole=True))
    numbered = body.get("numbered", False)
    if not isinstance(numbered, bool):
        raise BadInput("not-a-boolean", field="numbered")
    return SendRequest(data, conn, to, repeat, interval_ms, numbered)


@dataclass(frozen=True)
class DownloadRequest:
    host: str
    port: int
    file: str | None
    protocol: str


def parse_download(body: Any) -> DownloadRequest:
    body = _object(body, '{"host": "127.0.0.1", "port": 9000, "file": "hello.txt", "protocol": "framed"}', DOWNLOAD_FIELDS,
                   "unknown-download-field")
    host, port = _host(body), _port(body, allow_zero=False)
    file = _string(body, "file", max_length=1024)
    if file is not None and not file.strip():
        file = None
    if file is not None and ("\n" in file or "\r" in file):
        raise BadInput("file-name-multiline")
    protocol = _string(body, "protocol", "raw", choices=PROTOCOLS) or "raw"
    return DownloadRequest(host, port, file, protocol)
