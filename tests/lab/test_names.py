"""Names that must not pass for someone or something else (lab/names.py): every attack name is
refused with its code, real names in every script are kept, and names that look alike are one."""

from __future__ import annotations

import pytest

from lab import BadInput
from lab.messages import MESSAGES
from lab.names import clean_name, name_key

ATTACKS = [
    ("Ann\u200d", "name-bad-character"),  # a joiner outside an emoji: a second "Ann" that is not equal
    ("\u3164", "name-bad-character"),  # HANGUL FILLER: a name drawn as nothing
    ("\u2800\u2800", "name-bad-character"),  # BRAILLE PATTERN BLANK x2: the same
    ("\uffa0Ann", "name-bad-character"),  # HALFWIDTH HANGUL FILLER before a name
    ("Ann\u00ad", "name-bad-character"),  # SOFT HYPHEN: invisible
    ("\u200dAnn", "name-bad-character"),
    ("Ann\ufe0f", "name-bad-character"),  # a presentation selector after a letter
    ("a" + "\u0301" * 20, "name-too-many-marks"),  # a letter under 20 combining marks covers the rows above
    ("Zo\u0308\u0301\u0300\u0302", "name-too-many-marks"),  # ö (composed) under three more
    ("127.0.0.1:46077", "name-looks-like-address"),
    ("\u05d3\u05e0\u05d9 127.0.0.1:46077", "name-looks-like-address"),  # Hebrew: the address is drawn first
    ("\u0661\u0662\u0667.\u0660.\u0660.\u0661", "name-looks-like-address"),  # in Arabic-Indic digits
    ("10.77.0.2", "name-looks-like-address"),
    ("[::1]:5000", "name-looks-like-address"),
    ("fe80::1", "name-looks-like-address"),
    ("Ann :8080", "name-looks-like-address"),
    ("localhost", "name-looks-like-address"),
    ("Teacher", "name-reserved"),
    ("TEACHER", "name-reserved"),
    ("T\u0435acher", "name-reserved"),  # a Cyrillic е inside
    ("the teacher!", "name-reserved"),
    ("Lehrer Admin", "name-reserved"),
    ("老师", "name-reserved"),
    ("管理员", "name-reserved"),
    ("close by peer \u2714 \U0001f512", "name-reserved"),  # reads as the log's own words
    ("Ann\u202eevil", "name-bad-character"),
    ("Ann\nBob", "name-bad-character"),
    ("   ", "name-empty"),
    (42, "name-not-text"),
    ("A" * 10_000, "name-too-long"),
]

REAL = ["小明", "José", "Ann 🐱", "Zoë", "محمد", "प्रिया", "민준", "さくら", "山田太郎", "Nguyễn Thị Minh", "O'Brien",
        "Jean-Luc", "👩\u200d💻 Ana", "Ann ❤\ufe0f", "Ann 👍🏽", "Łukasz", "Αλέξανδρος", "Иван", "Peer", "ทองดี",
        "<b>Ann</b>", "Lab Partner", "Dr. Who", "Ann 2"]


@pytest.mark.parametrize(("name", "code"), ATTACKS)
def test_every_attack_name_is_refused_with_its_code(name: object, code: str) -> None:
    with pytest.raises(BadInput) as refused:
        clean_name(name)
    assert refused.value.code == code and code in MESSAGES
    assert str(refused.value) and len(str(refused.value)) < 200


@pytest.mark.parametrize("name", REAL)
def test_real_names_in_every_script_are_kept(name: str) -> None:
    assert clean_name(name) == name


def test_names_are_folded_as_rfc_8266_enforces_them() -> None:
    assert clean_name("  Li \u3000 Wei ") == "Li Wei"
    assert clean_name("\uff21\uff4e\uff4e") == "Ann"  # fullwidth
    assert clean_name("Zo\u0065\u0308") == "Zoë"  # composed


@pytest.mark.parametrize("alike", ["Ann", "ann", "ANN", "\u0410nn", "A\u043f\u043f"[:1] + "nn", "\uff21nn",
                                   "Ann\u200b"[:3]])
def test_names_that_look_alike_have_one_key(alike: str) -> None:
    assert name_key(clean_name(alike)) == name_key("Ann")


@pytest.mark.parametrize(("one", "other"), [("Al", "AI"), ("B0b", "BOb"), ("Zoe\u0308", "Zoë"), ("Jose\u0301", "José")])
def test_look_alike_pairs_share_a_key(one: str, other: str) -> None:
    assert name_key(clean_name(one)) == name_key(clean_name(other))


@pytest.mark.parametrize(("one", "other"), [("Ann", "Anna"), ("Zoe", "Zoë"), ("José", "Jose"), ("小明", "小红"),
                                            ("Ann 🐱", "Ann 🐶")])
def test_different_names_keep_different_keys(one: str, other: str) -> None:
    assert name_key(clean_name(one)) != name_key(clean_name(other))


def test_the_teacher_may_give_a_reserved_word() -> None:
    assert clean_name("Teacher", reserved_ok=True) == "Teacher"
    with pytest.raises(BadInput):
        clean_name("127.0.0.1", reserved_ok=True)  # an address is never a name
