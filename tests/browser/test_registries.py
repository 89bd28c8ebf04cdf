"""One home per concept: no list of event kinds or server modes outside their registries
(lab/events/kinds.py, lab/sockets/servermodes.py). Every other module asks the registry (the page through
GET /api/session), so a kind or mode added in one place can never be missed in another.
(No browser needed: it reads the source of the page and of the two Python packages.)"""

from __future__ import annotations

import re
from pathlib import Path

from lab.sockets import servermodes
from lab.events.kinds import KINDS

ROOT = Path(__file__).resolve().parents[2]
REGISTRIES = {ROOT / "lab" / "events" / "kinds.py", ROOT / "lab" / "sockets" / "servermodes.py"}
# A bracketed group with no brackets inside: an array, a tuple, a set or an argument list.
GROUP = re.compile(r"[\[({]([^\[\](){}]*)[\])}]")
# A string literal used as a value: a mapping's key ("listen": "listen on", an action's words in
# lab/messages.py) names something else that happens to share the word.
STRING = re.compile(r"""(["'])([A-Za-z_-]+)\1(?!\s*:)""")


def sources() -> list[Path]:
    found = sorted((ROOT / "static" / "js").rglob("*.js"))
    for package in ("lab", "webapp"):
        found += sorted((ROOT / package).rglob("*.py"))
    return [path for path in found if path not in REGISTRIES]


def lists_of(names: set[str], text: str) -> list[str]:
    """Every bracketed group naming three or more of `names` as string literals."""
    hits = []
    for group in GROUP.finditer(text):
        named = {m.group(2) for m in STRING.finditer(group.group(1))} & names
        if len(named) >= 3:
            hits.append(group.group(0)[:120])
    return hits


def test_the_scan_finds_a_list_when_there_is_one() -> None:
    assert lists_of(set(KINDS), 'const DATA = new Set(["send", "recv", "progress"]);') == ['(["send", "recv", "progress"])'[1:-1]]
    assert lists_of({"file", "files", "http"}, "BYTE_MODES = ('file', 'files', 'http')")
    assert not lists_of(set(KINDS), 'if (ev.kind === "send" || ev.kind === "recv") {}')


def test_no_kind_or_mode_list_outside_the_registries() -> None:
    kinds = set(KINDS)
    modes = {mode for names in servermodes.session_info()["modes"].values() for mode in names}
    found = []
    for path in sources():
        text = path.read_text(encoding="utf-8")
        for what, names in (("kinds", kinds), ("modes", modes)):
            found += [f"{path.relative_to(ROOT)}: {what} {hit}" for hit in lists_of(names, text)]
    assert found == [], "lists that belong in a registry:\n" + "\n".join(found)
