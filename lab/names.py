"""Display names for the students of a stage: "Ann" on the lane instead of 10.77.0.2:53422.

A name is never required and never trusted: it is text a student typed, shown on a projector to
the whole room. So it is short, one line, and free of characters that change how the text around
it is shown (bidirectional overrides can make "Ann" render as someone else's name, or flip a
whole log row). Markup is not refused: the page shows `<b>` as the four characters it is.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from typing import Any

from .errors import BadInput

MAX_CHARS = 24  # code points; about the width of a lane's label on the projector
MAX_BYTES = 96  # UTF-8 (emoji are four bytes each)
# Format characters that a name may keep: the joiner inside emoji such as 👩‍💻.
ALLOWED_FORMAT = {"\u200d"}
# Unicode categories that are never text one can see: controls, format (bidi overrides,
# isolates, zero-width spaces...), surrogates, private use, unassigned, line/paragraph separators.
REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def clean_name(raw: Any) -> str:
    """The name to show, or a BadInput sentence saying what is wrong with it."""
    if not isinstance(raw, str):
        raise BadInput("name-not-text")
    if len(raw) > 4 * MAX_BYTES:  # checked first: a 10 KB name is refused without reading it through
        raise BadInput("name-too-long", max=MAX_CHARS)
    name = unicodedata.normalize("NFC", raw).strip()
    if not name:
        raise BadInput("name-empty")
    for ch in name:
        if unicodedata.category(ch) in REFUSED_CATEGORIES and ch not in ALLOWED_FORMAT:
            raise BadInput("name-bad-character", char=f"U+{ord(ch):04X}")
    if len(name) > MAX_CHARS or len(name.encode()) > MAX_BYTES:
        raise BadInput("name-too-long", max=MAX_CHARS)
    return " ".join(name.split())  # one line, single spaces


def clean_address(raw: Any) -> str:
    """An IP address as the lab writes peers ("10.77.0.2", "::1"), or a BadInput."""
    try:
        return str(ipaddress.ip_address(str(raw).strip("[]")))
    except ValueError:
        raise BadInput("name-bad-address", address=str(raw)[:60]) from None
