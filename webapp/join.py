"""Joining the class: the view link as students can reach it, and a short code that stands for it.

The view link carries a long token; nobody types that from a projector. So the dashboard also has
a short link (`http://<LAN address>:<port>/join`) and a six-character code the student types once
there: the code is traded for the view token (POST /api/join), never for the control token.
Wrong codes are counted per address and refused for a minute after ten, so the code space
(31^6, about 900 million) cannot be walked through.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from lab.errors import Refused
from lab.interfaces import machine_addresses

from .auth import Access, is_loopback

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off a projector, typed on a phone
CODE_LENGTH = 6
TRIES = 10  # wrong codes an address may type per WINDOW
WINDOW = 60.0
MAX_TRACKED = 10_000  # addresses whose wrong codes are remembered (a flood of forged ones clears it)
WILDCARDS = ("", "0.0.0.0", "::")


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise(code: Any) -> str:
    """What a student typed, as the code is written: case and separators do not matter."""
    return "".join(ch for ch in str(code)[:64].upper() if ch.isalnum())


@dataclass
class JoinDesk:
    code: str
    _wrong: dict[str, tuple[int, float]]
    _lock: threading.Lock

    @classmethod
    def create(cls, code: str | None = None) -> "JoinDesk":
        return cls(code or new_code(), {}, threading.Lock())

    def trade(self, address: str, typed: Any, access: Access) -> str | None:
        """The view token for the right code (None when the dashboard needs no token: loopback
        only); Refused after too many wrong codes from `address`."""
        now = time.monotonic()
        with self._lock:
            count, since = self._wrong.get(address, (0, now))
            if now - since >= WINDOW:
                count, since = 0, now
            if count >= TRIES:
                raise Refused("join-too-many-tries")
            if hmac.compare_digest(normalise(typed).encode(), self.code.encode()):
                self._wrong.pop(address, None)
                return access.view
            if len(self._wrong) >= MAX_TRACKED:
                self._wrong.clear()
            self._wrong[address] = (count + 1, since)
        raise Refused("join-wrong-code")


def join_info(access: Access, bind: str, port: int, code: str) -> dict[str, Any]:
    """Where students reach this dashboard: its addresses (LAN first), the view link, the short link."""
    hosts = [h.strip().strip("[]") for h in bind.split(",") if h.strip()] or ["127.0.0.1"]
    addresses: list[dict[str, object]] = []
    for host in hosts:
        if host in WILDCARDS:
            addresses += [a.to_json() for a in machine_addresses((4,) if host == "0.0.0.0" else (4, 6))]
        else:
            addresses.append({"interface": "", "address": host, "family": 6 if ":" in host else 4,
                              "kind": "loopback" if is_loopback(host) else "lan"})
    lan = [a for a in addresses if a["kind"] == "lan"]
    loopback_only = not lan
    chosen = str((lan or addresses or [{"address": "127.0.0.1"}])[0]["address"])
    base = f"http://{'[' + chosen + ']' if ':' in chosen else chosen}:{port}/"
    view_url = f"{base}?token={access.view}" if access.view else base
    return {"loopback_only": loopback_only, "addresses": addresses, "host": chosen, "port": port,
            "view_url": view_url, "short_url": f"{base}join", "code": code,
            "needs_code": access.view is not None}


def qr_svg(text: str) -> str:
    """The QR code of `text` as an SVG that scales to any size (segno: a maintained, pure-Python
    encoder; the page shows it big enough for a phone at the back of the room)."""
    import io

    import segno

    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=1, border=4, xmldecl=False, nl=False,
                                     omitsize=True, dark="#000", light="#fff", title="QR code: view link")
    return out.getvalue().decode()
