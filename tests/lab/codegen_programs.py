"""Every program the code generator can write, by a name that says what was asked for.

The endpoint programs go over every server mode and client kind with every framing, delimiter,
protocol, rule set, slow-reader delay and reply/file value that interact with a program's body;
then over the values that reach only its head (host, link, impairment, broadcast, the lab's id) on
a few bodies. The downloads go over file, protocol, host and id. Specs the lab refuses are skipped,
as the API refuses them.

`python -m tests.lab.codegen_programs DIR` writes each program to DIR/<name>.py and prints one
sha256 over them all: run it before and after a change to the generator and compare the folders
(`diff -r`); tests/lab/test_codegen_golden.py compares the hashes.
"""

from __future__ import annotations

import hashlib
import itertools
import sys
from pathlib import Path
from typing import Any, Iterator

from lab import BadInput
from lab.codegen.programs import program_for, program_for_download
from lab.spec import parse_download, parse_endpoint

MODES = {"tcp-server": ("echo", "reply", "manual", "file", "files", "relay", "http", "greet", "lines"),
         "udp-server": ("echo", "reply", "manual")}
RULES: dict[str, list[dict[str, str]] | None] = {
    "norules": None,
    "onerule": [{"match": r"^add (\d+) (\d+)$", "reply": "$1 + $2"}],
    "tworules": [{"match": "ping", "reply": ""}, {"match": "(?i)^hi (\\w+)", "reply": "hello $1, $9"}],
}
FRAMINGS = {"raw": {"framing": "raw"}, "line": {"framing": "line"}, "crlf": {"framing": "line", "delimiter": "\r\n"},
            "length": {"framing": "length"}}
VALUES = {"plain": {"reply": "OK", "file": "hello.txt"},
          "odd": {"reply": "你好 'quoted' \"twice\"\n", "file": "a file's name.bin"}}
HOSTS = {"v4": "127.0.0.1", "any": "0.0.0.0", "v6": "::1", "name": "lab.example"}
LINKS: dict[str, dict[str, Any] | None] = {"nolink": None, "loss": {"loss": 0.2}, "rate": {"rate_kbit": 64},
                                           "both": {"loss": 0.055, "rate_kbit": 800}}
IDS = {"id": "e7", "noid": None, "badid": "e 7\nimport os"}


def _endpoint(name: str, body: dict[str, Any], address: tuple[str, int], ep_id: str | None) -> Iterator[tuple[str, str]]:
    try:
        spec = parse_endpoint(body)
    except BadInput:
        return  # refused by the lab (e.g. framing on a file server): no program exists
    yield name, program_for(spec, address, ep_id)


def every_program() -> Iterator[tuple[str, str]]:
    """(name, program) for every program, each name once."""
    for kind, modes in MODES.items():
        framings = FRAMINGS if kind == "tcp-server" else {"raw": {}}
        delays = (0, 250) if kind == "tcp-server" else (0,)
        for mode, (fname, framing), protocol, (rname, rules), delay, (vname, values) in itertools.product(
                modes, framings.items(), ("raw", "framed"), RULES.items(), delays, VALUES.items()):
            body = {"kind": kind, "port": 0, "mode": mode, "protocol": protocol, "rules": rules, **framing, **values}
            if delay:
                body["recv_delay_ms"] = delay
            yield from _endpoint(f"{kind}-{mode}-{fname}-{protocol}-{rname}-delay{delay}-{vname}", body,
                                 ("127.0.0.1", 5000), "e1")
    for kind, base in (("tcp-server", {"mode": "echo"}), ("tcp-server", {"mode": "http"}), ("udp-server", {"mode": "reply"}),
                       ("tcp-client", {"framing": "line"}), ("tcp-client", {}), ("udp-client", {})):
        server = kind.endswith("server")
        extras: dict[str, dict[str, Any]] = {"": {}}
        if kind.startswith("udp"):
            extras["impaired"] = {"impair": {"loss": 0.5, "seed": 3}}
        if kind == "udp-client":
            extras["broadcast"] = {"broadcast": True}
        for (hname, host), (lname, link), (iname, ep_id), (xname, extra) in itertools.product(
                HOSTS.items(), LINKS.items(), IDS.items(), extras.items()):
            body = {"kind": kind, "host": host, "port": 0 if server else 9, **base, "link": link, **extra}
            name = "-".join(filter(None, (kind, base.get("mode") or base.get("framing", "raw"), hname, lname, iname, xname)))
            yield from _endpoint(name, body, (host, 5000 if server else 9), ep_id)
    for (fname, file), protocol, (hname, host), (iname, dl_id) in itertools.product(
            (("file", "hello.txt"), ("nofile", None), ("oddfile", "../a 'b'.txt")), ("raw", "framed"),
            HOSTS.items(), IDS.items()):
        request = parse_download({"host": host, "port": 9000, "file": file, "protocol": protocol})
        yield f"download-{fname}-{protocol}-{hname}-{iname}", program_for_download(request, dl_id)


def digests() -> dict[str, str]:
    """name -> the first 16 hex digits of the program's sha256."""
    found: dict[str, str] = {}
    for name, program in every_program():
        assert name not in found, name
        found[name] = hashlib.sha256(program.encode("utf-8")).hexdigest()[:16]
    return found


def main(folder: str) -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    whole = hashlib.sha256()
    count = 0
    for name, program in every_program():
        (out / f"{name}.py").write_text(program, encoding="utf-8")
        whole.update(name.encode() + b"\0" + program.encode("utf-8") + b"\0")
        count += 1
    print(f"{count} programs, sha256 {whole.hexdigest()}")


if __name__ == "__main__":
    main(sys.argv[1])
