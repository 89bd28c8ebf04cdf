"""Auto-reply rules: linear-time matching (RE2), patterns refused with sentences, $n captures, and
a reply capped at the send limit after expansion."""

from __future__ import annotations

import socket

import pytest

from lab import Lab
from lab.errors import BadInput, TooLarge
from lab.sockets.handlers import rule_answer
from lab.spec import Rule, parse_endpoint

from ..support import wait_until


def of(lab: Lab, endpoint: str, kind: str) -> list:
    return [e for e in lab.bus.since(0, 100_000)[0] if e.endpoint == endpoint and e.kind == kind]


def test_catastrophic_pattern_answers_at_once() -> None:
    # With Python's re this search backtracks 2**40 times while holding the GIL: every thread stops.
    rule = Rule.make("^(a+)+$", "matched")
    assert rule.answer("a" * 40 + "!", 1 << 20) is None
    assert rule.answer("a" * 4096, 1 << 20) == b"matched"


@pytest.mark.parametrize(("text", "expected"), [
    ("add 2 3", b"3 + 2 (add 2 3) $7"),
    ("add 2 3\n", b"3 + 2 (add 2 3) $7"),  # nc sends a final newline: `$` matches before it, as in Python
    ("add 2 x", None),
])
def test_captures_and_dollar_as_python_does(text: str, expected: bytes | None) -> None:
    assert Rule.make(r"^add (\d+) (\d+)$", "$2 + $1 ($0) $7").answer(text, 1 << 20) == expected


@pytest.mark.parametrize(("pattern", "words"), [
    ("a{99999999999}", "at most 1000 times"),
    ("a{2,5000}", "at most 1000 times"),
    ("(", "missing )"),
    ("(?=x)y", "look-arounds"),
    (r"(a)\1", "back-references"),
    (r"\pL", "Python's re"),  # RE2 knows it, the generated program's re does not
])
def test_patterns_the_lab_cannot_use_are_sentences(pattern: str, words: str) -> None:
    with pytest.raises(BadInput, match=r"The rule pattern") as caught:
        parse_endpoint({"kind": "tcp-server", "rules": [{"match": pattern, "reply": "x"}]})
    assert words in str(caught.value)


def test_reply_capped_after_expansion() -> None:
    rule = Rule.make(".+", "$0" * 2048)
    assert rule.answer("x" * 16, 1 << 20) == b"x" * 16 * 2048
    with pytest.raises(TooLarge, match="more than 1048576 bytes"):
        rule.answer("x" * 4096, 1 << 20)  # 4 KiB in would be 8 MiB out
    reported: list[str] = []
    assert rule_answer((rule,), b"x" * 4096, 1 << 20, lambda kind, detail, **fields: reported.append(f"{kind}: {detail}")) == (True, None)
    assert reported and reported[0].startswith("error: The reply of the rule")


def test_oversized_reply_sends_nothing_and_says_why(lab: Lab) -> None:
    server = lab.create({"kind": "tcp-server", "port": 0, "mode": "echo", "framing": "line",
                         "rules": [{"match": ".+", "reply": "$0" * 2048}, {"match": "^ping$", "reply": "pong"}]})
    with socket.create_connection(server.local, timeout=5) as s:
        s.sendall(b"y" * 4000 + b"\n")
        error = wait_until(lambda: of(lab, server.id, "error"))[0]
        assert "nothing was sent" in error.detail and error.conn == "c1"
        s.sendall(b"hi\n")  # the connection goes on: the next message is answered (8 KiB, under the cap)
        got = b""
        while len(got) < 2 * 2048 + 1:
            chunk = s.recv(65536)
            assert chunk
            got += chunk
        assert got == b"hi" * 2048 + b"\n"  # and the refused one added nothing before it


def test_a_slow_pattern_never_stops_the_server(lab: Lab) -> None:
    # Python's re needs minutes for each of these (and holds the GIL meanwhile); RE2 answers at once.
    server = lab.create({"kind": "udp-server", "port": 0, "mode": "manual",
                         "rules": [{"match": "^(a+)+$", "reply": "never"}, {"match": "^ping", "reply": "pong"}]})
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(10)
        for _ in range(20):
            s.sendto(b"a" * 40 + b"!", server.local)
        s.sendto(b"ping", server.local)
        assert s.recvfrom(100)[0] == b"pong"
