"""Display names for the students of a stage: "Ann" on the lane instead of 10.77.0.2:53422.

A name is never required and never trusted: it is text a student typed, shown on a projector to
the whole room. So it must not pass for someone or something else:

- It is a nickname as RFC 8266 (PRECIS Nickname profile) defines one, enforced with `precis-i18n`:
  width and compatibility forms folded (NFKC: "Ａｎｎ" is "Ann"), spaces mapped and collapsed, and
  no character that is invisible or changes the text around it (controls, bidi overrides, zero-width
  spaces, Hangul fillers). The profile is the IETF's answer to exactly this question (what may a
  nickname hold), maintained with each Unicode version, so the rules here are its, not a list of ours.
- Two names of one stage differ when they look different: `name_key` compares them after case
  folding and Unicode TR39's confusables ("skeleton"), so "ann", "Аnn" (Cyrillic А) and "Ann" are one.
  The confusables data is the table `confusable-homoglyphs` ships (Unicode's confusables.txt as
  JSON, single characters, both directions): a pure-data package with no C code and no network, whose
  pairs are joined here into classes of look-alikes, each written as one representative (its ASCII
  member, else its lowest code point). TR39's own skeleton maps each character to one prototype; a
  class of look-alikes is a little stricter (it also joins two characters that both look like a
  third), which for names on a projector is the point.
- What RFC 8266 allows but a classroom must not: characters drawn as nothing (U+2800 BRAILLE
  PATTERN BLANK), a zero-width joiner anywhere but inside an emoji sequence (👩‍💻), more than two
  combining marks on one letter (a letter under twenty accents covers the rows above it), anything
  that reads as an address or host:port (also after a name: in a right-to-left name the address
  is drawn first), and the words of the people and programs the page speaks for ("Teacher", "老师",
  "admin", the log's "by peer"); the teacher may still give those (`reserved_ok`).

Markup is not refused: the page shows `<b>` as the four characters it is, always as text, and
every name is drawn in bidi isolation, so a right-to-left name cannot reorder what is around it.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import unicodedata
from importlib import resources
from typing import Any

import precis_i18n

from .errors import BadInput

MAX_CHARS = 24  # code points; about the width of a lane's label on the projector
MAX_BYTES = 96  # UTF-8 (emoji are four bytes each)
MAX_MARKS = 2  # combining marks on one letter: Vietnamese needs two (ệ decomposed), none needs more
ZWJ, VS16 = "\u200d", "\ufe0f"  # glue of emoji sequences (👩‍💻, ❤️): kept only between emoji
# Drawn as nothing, though RFC 8266 allows them (symbols and letters by category, blank in every font).
BLANK = frozenset("\u2800\u3164\u115f\u1160\uffa0\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a")
# Whole words (after name_key, so look-alikes and case count too) that speak for the teacher, the
# lab or the page, in the page's two languages. A student cannot take them; the teacher can give them.
RESERVED = ("teacher", "the teacher", "admin", "administrator", "moderator", "instructor", "professor", "system",
            "server", "dashboard", "socket lab", "socketlab", "everyone", "by peer", "by the peer",
            "老师", "教师", "管理员", "系统", "服务器", "助教", "所有人")
# What reads as an address: four dotted numbers, host:port (also "[::1]:80"), IPv6, "localhost".
# Matched on the name's key, where look-alike digits, dots and colons are already plain ASCII (and on
# the name itself, folded: the key writes look-alike letters as digits, "localhost" as "1oca1host").
ADDRESS = re.compile(r"\d+(?:\.\d+){2,}|:\d{1,5}\b|[0-9a-f]*:[0-9a-f]*:|localhost", re.ASCII)

_PROFILE = precis_i18n.get_profile("NicknameCasePreserved")


def clean_name(raw: Any, reserved_ok: bool = False) -> str:
    """The name to show (RFC 8266's enforced form), or a BadInput with a code saying what is wrong.
    `reserved_ok`: the teacher's renaming may give a reserved word ("Teacher")."""
    if not isinstance(raw, str):
        raise BadInput("name-not-text")
    if len(raw) > 4 * MAX_BYTES:  # checked first: a 10 KB name is refused without reading it through
        raise BadInput("name-too-long", max=MAX_CHARS)
    for ch in raw:  # (before spaces are collapsed: a line break or a tab is not a space in a name)
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            raise BadInput("name-bad-character", char=f"U+{ord(ch):04X}")
    name = " ".join(unicodedata.normalize("NFKC", raw).split())  # (the profile's own spaces rule, early)
    if not name:
        raise BadInput("name-empty")
    _check_characters(name)
    try:  # the glue was checked above; the profile refuses it anywhere, so it is checked without it
        _PROFILE.enforce(name.replace(ZWJ, "").replace(VS16, ""))
    except UnicodeEncodeError as exc:
        bad = name.replace(ZWJ, "").replace(VS16, "")[exc.start]
        raise BadInput("name-bad-character", char=f"U+{ord(bad):04X}") from None
    if len(name) > MAX_CHARS or len(name.encode()) > MAX_BYTES:
        raise BadInput("name-too-long", max=MAX_CHARS)
    key = name_key(name)
    if not key.strip():
        raise BadInput("name-invisible")
    found = ADDRESS.search(_digits(key)) or ADDRESS.search(_digits(name.casefold()))
    if found:
        raise BadInput("name-looks-like-address", found=found.group(0))
    if not reserved_ok:
        words = f" {_words(key)} "
        for word in _reserved_keys():
            if f" {word} " in words:
                raise BadInput("name-reserved", word=_reserved_keys()[word])
    return name


def name_key(name: str) -> str:
    """What two names are compared by: equal keys look alike (case, width, accents composed or not,
    look-alike letters of other scripts). For a cleaned name (clean_name's answer)."""
    plain = name.replace(ZWJ, "").replace(VS16, "")
    # the skeleton before and after folding: "AI" and "Al" look alike in capitals only
    folded = unicodedata.normalize("NFKC", _skeleton(unicodedata.normalize("NFD", plain))).casefold()
    return _skeleton(unicodedata.normalize("NFD", folded))


def _check_characters(name: str) -> None:
    """Blank characters, emoji glue outside emoji, and stacked combining marks."""
    marks = 0
    for i, ch in enumerate(name):
        if ch in BLANK:
            raise BadInput("name-bad-character", char=f"U+{ord(ch):04X}")
        if ch == ZWJ and not (0 < i < len(name) - 1 and _emoji_before(name, i) and _is_emoji(name[i + 1])):
            raise BadInput("name-bad-character", char="U+200D")
        if ch == VS16 and not (i > 0 and _is_emoji(name[i - 1])):
            raise BadInput("name-bad-character", char="U+FE0F")
    for ch in unicodedata.normalize("NFC", name):
        marks = marks + 1 if unicodedata.category(ch) in ("Mn", "Me") else 0
        if marks > MAX_MARKS:
            raise BadInput("name-too-many-marks", max=MAX_MARKS)


def _is_emoji(ch: str) -> bool:
    """A pictograph (Unicode's Extended_Pictographic, approximated by its categories: the standard
    library has no emoji property): a symbol drawn as a picture, or a regional indicator letter."""
    return unicodedata.category(ch) == "So" and ord(ch) >= 0x2190


def _emoji_before(name: str, i: int) -> bool:
    """The character before position `i` is an emoji, past its skin tone and presentation selector."""
    j = i - 1
    while j > 0 and (name[j] == VS16 or 0x1F3FB <= ord(name[j]) <= 0x1F3FF):
        j -= 1
    return _is_emoji(name[j])


def _digits(text: str) -> str:
    """Digits of every script as ASCII digits (an address typed in Arabic-Indic digits reads the same)."""
    return "".join(str(unicodedata.digit(ch)) if ch.isdigit() and unicodedata.digit(ch, None) is not None else ch
                   for ch in text)


def _words(key: str) -> str:
    """The key as words: punctuation as spaces (so "Teacher!" and "the-teacher" hold "teacher")."""
    return " ".join("".join(ch if ch.isalnum() else " " for ch in key).split())


@functools.cache
def _reserved_keys() -> dict[str, str]:
    return {_words(name_key(word)): word for word in RESERVED}


@functools.cache
def _look_alikes() -> dict[str, str]:
    """Each confusable character -> the representative of its class of look-alikes."""
    data = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))
    parent: dict[str, str] = {}

    def root(ch: str) -> str:
        while parent.get(ch, ch) != ch:
            parent[ch] = parent.get(parent[ch], parent[ch])
            ch = parent[ch]
        return ch

    for source, alikes in data.items():
        for alike in alikes:
            target = alike.get("c", "") if isinstance(alike, dict) else ""
            if len(source) == 1 and len(target) == 1:
                a, b = root(source), root(target)
                if a != b:
                    parent[max(a, b, key=_rank)] = min(a, b, key=_rank)
    return {ch: root(ch) for ch in parent}


def _rank(ch: str) -> tuple[bool, int]:
    """Which member writes a class: an ASCII one first, then the lowest code point."""
    return (not ch.isascii(), ord(ch))


def _skeleton(text: str) -> str:
    table = _look_alikes()
    return "".join(table.get(ch, ch) for ch in text)


def clean_address(raw: Any) -> str:
    """An IP address as the lab writes peers ("10.77.0.2", "::1"), or a BadInput."""
    try:
        return str(ipaddress.ip_address(str(raw).strip("[]")))
    except ValueError:
        raise BadInput("name-bad-address", address=str(raw)[:60]) from None
