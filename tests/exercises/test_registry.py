"""The one registry of exercises: the eight keys, every exercise and check worded in both languages, every
reason a check can give has both sentences with the same placeholders, and every check is computed somewhere
or says where it will be (side "lab": the lab's own servers of the exercise)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from lab import BadInput
from lab.exercises.peer import PROBES
from lab.exercises.registry import EXERCISES, LANGUAGES, REASONS, ROLES, SIDES, exercise, reason_text
from lab.exercises.results import FAIL, PASS, PENDING, every_check, failed, passed, row
from lab.exercises.trace import RULES

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{(\w+)\}")
KEYS = ["echo-server", "client", "downloader", "file-request", "line-reader", "udp-retry", "relay", "http-server"]


def test_the_eight_exercises_of_the_tutorials_are_there_in_order() -> None:
    assert list(EXERCISES) == KEYS
    assert [e.n for e in EXERCISES.values()] == list(range(1, len(KEYS) + 1))


@pytest.mark.parametrize("key", KEYS)
def test_an_exercise_and_each_of_its_checks_speak_both_languages(key: str) -> None:
    ex = EXERCISES[key]
    assert ex.key == key and ex.role in ROLES and (ex.clients > 0) == (ex.role == "connects")
    for words in (ex.title, ex.writes, ex.lab_does):
        assert set(words) == set(LANGUAGES) and all(words[lang].strip() for lang in LANGUAGES), words
    codes = [c.code for c in ex.checks]
    assert len(codes) == len(set(codes)) and codes
    for check in ex.checks:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", check.code) and check.side in SIDES
        for words in (check.text, check.hint):
            assert set(words) == set(LANGUAGES) and all(words[lang].strip() for lang in LANGUAGES), (key, check.code)
            assert "{" not in words["en"] + words["zh"]  # (a check's words are fixed; values go in its reason)


def test_a_check_code_means_one_thing_across_exercises() -> None:
    seen: dict[str, object] = {}
    for ex in EXERCISES.values():
        for check in ex.checks:
            if check.code in seen and check.side == "trace":
                assert seen[check.code] == check, check.code
            seen.setdefault(check.code, check)


def test_every_trace_check_has_a_rule_and_every_peer_check_a_probe() -> None:
    for ex in EXERCISES.values():
        for check in ex.checks:
            if check.side == "trace":
                assert check.code in RULES, check.code
            if check.side == "peer":
                assert ex.key in PROBES, (ex.key, check.code)
    assert set(PROBES) == {e.key for e in EXERCISES.values() if e.role == "connects"}


def test_every_reason_has_both_sentences_with_the_same_placeholders() -> None:
    for reason, words in REASONS.items():
        assert set(words) == set(LANGUAGES), reason
        assert set(PLACEHOLDER.findall(words["en"])) == set(PLACEHOLDER.findall(words["zh"])), reason
        params = {name: 7 for name in PLACEHOLDER.findall(words["en"])}
        assert "{" not in reason_text(reason, params, "en") + reason_text(reason, params, "zh")


def test_every_reason_the_checks_give_is_in_the_table_with_the_values_its_sentence_needs() -> None:
    given = 0
    for path in (ROOT / "lab" / "exercises").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "failed" and len(node.args) >= 2:
                reason = node.args[1]
                if isinstance(reason, ast.Constant):
                    given += 1
                    assert reason.value in REASONS, (path.name, reason.value)
                    named = {k.arg for k in node.keywords}
                    if None not in named:  # (a **params call is checked by the tests that run it)
                        assert named == set(PLACEHOLDER.findall(REASONS[reason.value]["en"])), reason.value
    assert given >= 20


def test_the_summary_is_what_the_contract_lists() -> None:
    summary = exercise("echo-server").summary()
    assert {"key", "n", "title", "checks"} <= set(summary)
    assert all({"code", "text"} <= set(c) for c in summary["checks"])
    with pytest.raises(BadInput) as bad:
        exercise("echo")
    assert bad.value.code == "not-a-choice" and "echo-server" in str(bad.value)


def test_a_students_row_holds_every_check_whatever_side_said_it() -> None:
    ex = exercise("echo-server")
    trace = {"recv-loop": failed("recv-loop", "stopped-reading", socket="s2@ann", recvs=1)}
    peer = {"echo-exact": passed("echo-exact")}
    results = every_check(ex, trace, peer)
    assert list(results) == [c.code for c in ex.checks]
    assert row(results) == {"checks": {c.code: {"recv-loop": FAIL, "echo-exact": PASS}.get(c.code, PENDING)
                                       for c in ex.checks}, "hints": ["recv-loop"]}
