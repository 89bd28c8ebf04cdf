"""One table of problems (lab/messages.py): every code raised or published exists there, every code
has an English and a Chinese `err.<code>` entry with the same placeholders, and the API answers
with the code and params of what went wrong."""

from __future__ import annotations

import ast
import errno
import json
import pickle
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from lab.errors import BadInput, LabError, Problem, Refused, os_problem, render
from lab.messages import ACTIONS, MESSAGES, to_js

from ..webapp.test_api import BAD_CREATES

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*ROOT.glob("lab/*.py"), *ROOT.glob("webapp/*.py"), *ROOT.glob("agent/*.py")])
ERROR_CLASSES = {"LabError", "BadInput", "NotFound", "Refused", "TooLarge", "Forbidden", "ProtocolError", "Problem"}
CODE = re.compile(r"[a-z0-9]+(-[a-z0-9_]+)*")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
ENTRY = re.compile(r'^\s*("err\.[^"]+")\s*:\s*("(?:[^"\\]|\\.)*"),\s*$')


def _name(node: ast.expr) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def _codes(node: ast.expr) -> list[str] | None:
    """The codes a code expression can take: a literal, either side of `a if c else b`, or an
    f-string over the ACTIONS tokens ("policy-forbids-{self.what}"); None when it is anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, orelse = _codes(node.body), _codes(node.orelse)
        return None if body is None or orelse is None else body + orelse
    if isinstance(node, ast.JoinedStr):
        pattern = "".join(re.escape(v.value) if isinstance(v, ast.Constant) else "[a-z]+" for v in node.values)
        found = [code for code in MESSAGES if re.fullmatch(pattern, code)]
        return found or [pattern]  # an f-string matching no code: reported as itself
    return None


def code_sites() -> list[tuple[str, str]]:
    """(where, code) for every error constructed, and every `code="..."` passed, in lab/ and webapp/."""
    sites = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            exprs = [kw.value for kw in node.keywords if kw.arg == "code"]
            if _name(node.func) in ERROR_CLASSES and node.args:
                exprs.append(node.args[0])
            for expr in exprs:
                codes = _codes(expr)
                if codes is not None:
                    sites += [(where, code) for code in codes]
    return sites


def test_every_error_is_constructed_from_a_code_not_a_sentence() -> None:
    """A raise carries a code and its values, never an English sentence (`BadInput(f"Port {value} is ...")`):
    the page could not word that in Chinese. The first argument is a code."""
    sentences = [(where, code) for where, code in code_sites() if not CODE.fullmatch(code)]
    assert not sentences, sentences


def test_every_code_used_in_lab_and_webapp_is_in_the_table() -> None:
    sites = code_sites()
    assert len(sites) > 100  # the walk really found the raise sites
    missing = [(where, code) for where, code in sites if code not in MESSAGES]
    assert not missing, missing


def test_templates_have_only_named_placeholders() -> None:
    """`{name}` is the one syntax shared by render(), str.format and static/js/i18n.js; any other
    brace would mean different things in each."""
    for code, template in MESSAGES.items():
        assert CODE.fullmatch(code), code
        assert "{" not in PLACEHOLDER.sub("", template) and "}" not in PLACEHOLDER.sub("", template), code


def test_no_code_is_written_twice() -> None:
    """A literal key equal to another, or to a generated per-action code ("download-failed"),
    would silently replace it: the dict keeps the last one."""
    tree = ast.parse((ROOT / "lab" / "messages.py").read_text())
    table = next(node.value for node in tree.body if isinstance(node, ast.AnnAssign)
                 and _name(node.target) == "MESSAGES" and isinstance(node.value, ast.Dict))
    assert isinstance(table, ast.Dict)
    literal = [key.value for key in table.keys if isinstance(key, ast.Constant) and isinstance(key.value, str)]
    generated = {f"{token}-{family}" for token in ACTIONS for family in
                 ("timed-out", "port-needs-root", "address-not-local", "datagram-too-large", "failed")}
    assert len(literal) == len(set(literal)), sorted(k for k in literal if literal.count(k) > 1)
    assert not generated & set(literal), generated & set(literal)


def _js_table(name: str) -> dict[str, str]:
    table = {}
    for line in (ROOT / "static" / "i18n" / name).read_text(encoding="utf-8").splitlines():
        match = ENTRY.match(line)
        if match:
            table[json.loads(match.group(1))] = json.loads(match.group(2))
    return table


def test_english_js_is_generated_from_the_table() -> None:
    assert (ROOT / "static" / "i18n" / "errors-en.js").read_text(encoding="utf-8") == to_js(), \
        "run: .venv/bin/python -m lab.messages > static/i18n/errors-en.js"


@pytest.mark.parametrize("name", ["errors-en.js", "errors-zh.js"])
def test_every_code_has_a_translation_with_the_same_placeholders(name: str) -> None:
    table = _js_table(name)
    assert set(table) == {f"err.{code}" for code in MESSAGES}, set(table) ^ {f"err.{code}" for code in MESSAGES}
    for code, template in MESSAGES.items():
        assert set(PLACEHOLDER.findall(table[f"err.{code}"])) == set(PLACEHOLDER.findall(template)), code


def test_chinese_sentences_are_chinese() -> None:
    for key, text in _js_table("errors-zh.js").items():
        assert re.search(r"[\u4e00-\u9fff]", text), key


# Every branch of os_problem: the OSError, the action, and the code it must give.
OS_CASES = [
    (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "connect to", "host-not-found"),
    (TimeoutError("timed out"), "connect to", "connect-timed-out"),
    (OSError(errno.EADDRINUSE, "Address already in use"), "listen on", "port-in-use"),
    (OSError(errno.EACCES, "Permission denied"), "send to", "broadcast-not-allowed"),
    (OSError(errno.EACCES, "Permission denied"), "listen on", "listen-port-needs-root"),
    (OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address"), "bind", "bind-address-not-local"),
    (OSError(errno.ECONNREFUSED, "Connection refused"), "download from", "connection-refused"),
    (OSError(errno.EHOSTUNREACH, "No route to host"), "connect to", "host-unreachable"),
    (OSError(errno.ECONNRESET, "Connection reset by peer"), "receive from", "connection-reset"),
    (OSError(errno.EPIPE, "Broken pipe"), "send to", "peer-closed"),
    (OSError(errno.EMSGSIZE, "Message too long"), "send", "send-datagram-too-large"),
    (OSError(errno.EINVAL, "Invalid argument"), "reach", "reach-failed"),
]


@pytest.mark.parametrize(("exc", "action", "code"), OS_CASES)
def test_os_problems_have_codes_and_full_sentences(exc: OSError, action: str, code: str) -> None:
    problem = os_problem(exc, action, "::1", 9)
    assert problem.code == code
    assert problem.params["address"] == "[::1]:9" and problem.params["port"] == 9
    assert "{" not in problem.sentence and problem.sentence == MESSAGES[code].format(**problem.params)
    json.dumps(problem.params)  # params travel in API bodies and events


def test_every_action_phrase_has_its_codes() -> None:
    families = ("timed-out", "port-needs-root", "address-not-local", "datagram-too-large", "failed")
    for token, phrase in ACTIONS.items():
        for family in families:
            assert f"{token}-{family}" in MESSAGES
        assert os_problem(TimeoutError(), phrase, "h", 1) == os_problem(TimeoutError(), token, "h", 1)


def test_lab_errors_carry_code_params_and_the_sentence() -> None:
    exc = BadInput("port-out-of-range", port=70000, low=0)
    assert (exc.code, exc.params) == ("port-out-of-range", {"port": 70000, "low": 0})
    assert str(exc) == "Port 70000 is out of range: a port is a number from 0 to 65535."
    assert Refused.of(exc.problem).problem == Problem("port-out-of-range", {"port": 70000, "low": 0})
    assert render("{a} and {b:x}", {"a": 1.5}) == "1.5 and {b:x}"  # only {name} is a placeholder
    with pytest.raises(KeyError):
        BadInput("no-such-code-at-all")  # a typo in a code fails in its first test
    with pytest.raises(KeyError):
        BadInput("port-out-of-range", port=1)  # so does a missing param


def test_lab_errors_survive_pickling() -> None:
    again = pickle.loads(pickle.dumps(Refused("no-such-endpoint", endpoint="e9")))
    assert isinstance(again, Refused) and isinstance(again, LabError)
    assert (again.code, again.params, str(again)) == ("no-such-endpoint", {"endpoint": "e9"}, str(again))


@pytest.mark.parametrize(("spec", "status", "words"), BAD_CREATES)
def test_api_errors_carry_the_code_and_params_of_the_table(client: Any, spec: Any, status: int, words: str) -> None:
    answer = client.post("/api/endpoints", json=spec)
    body = answer.get_json()
    assert answer.status_code == status, body
    assert body["code"] in MESSAGES, body
    assert isinstance(body["params"], dict) and "category" in body, body
    assert body["error"] == MESSAGES[body["code"]].format(**body["params"]), body  # the page can rebuild it
    assert words in body["error"], body


@pytest.mark.parametrize(("method", "path", "kwargs", "code"), [
    ("post", "/api/endpoints", {"data": b"{", "content_type": "application/json"}, "invalid-json"),
    ("post", "/api/endpoints", {"data": b" ", "content_type": "application/json"}, "no-body"),
    ("get", "/api/events?after=x", {}, "query-not-a-whole-number"),
    ("get", "/api/endpoints/e404", {}, "no-such-endpoint"),
    ("get", "/api/downloads/d404", {}, "no-such-download"),
    ("get", "/api/nowhere", {}, "no-such-route"),
])
def test_api_errors_outside_specs(client: Any, method: str, path: str, kwargs: dict[str, Any], code: str) -> None:
    body = getattr(client, method)(path, **kwargs).get_json()
    assert body["code"] == code and body["error"] == MESSAGES[code].format(**body["params"]), body
