"""Show the code: the plain-Python socket program that does what a lab endpoint does.

Each program is what a textbook would print (socket/bind/listen/accept/recv/send, one thread per
client, sendto/recvfrom for UDP, the downloader that reads until EOF), runnable as shown with
`python3 prog.py [PORT]`. Every value taken from an endpoint (host, file name, reply, pattern) is
embedded with repr(), and nothing but the lab's own ids goes into a comment, so no value can
become code.
"""

from __future__ import annotations

import re
from typing import Callable

from .modes import PROGRAMS, ModeCode
from .snippets import ANSWER_RULES, CLIENTS, FRAMERS, RECV_LOOP_COMMENT
from ..events.bus import Address
from ..sockets.servermodes import REGISTRY
from ..spec import DownloadRequest, EndpointSpec

_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


def program_for(spec: EndpointSpec, address: Address, ep_id: str | None = None) -> str:
    """The plain socket program mirroring an endpoint: its checked `spec` and its live `address`
    (the bound local address of a server, the remote address of a client).

    Nothing is validated here: parse_endpoint() refused every spec the lab could not run.
    """
    kind, mode, server = spec.kind, spec.mode, spec.kind.endswith("server")
    host, port = address[0], address[1]
    framing = spec.framing if kind.startswith("tcp") else "raw"
    fields = REGISTRY[mode].fields if mode else ()
    text = PROGRAMS[mode] if mode else None
    framed_files = "protocol" in fields and spec.protocol == "framed"
    rules = [(rule.pattern, rule.reply) for rule in spec.rules] if "rules" in fields else []

    what = text.describe[kind] if text else CLIENTS[kind]
    features = _features(spec, framing, framed_files) + (["rules"] if rules else [])
    mirrors = f"# Mirrors Socket Lab endpoint {_ep_id(ep_id)}({', '.join(features)})."
    usage = "# Run: python3 prog.py [PORT]" + ("" if server else " [MESSAGE]")
    constants = [f"HOST = {host!r}", f"PORT = {port}"]
    if not server:
        constants.append("MESSAGE = 'hello'")
    if text:
        constants += text.constants(spec)
    if framing == "line":
        constants.append(f"DELIMITER = {spec.delimiter!r}")
    if rules:
        constants.append("RULES = [  # (pattern, reply): the first pattern that matches answers")
        constants += [f"    ({pattern!r}, {reply!r})," for pattern, reply in rules] + ["]"]
    overrides = ["if len(sys.argv) > 1:", "    PORT = int(sys.argv[1])"]
    if not server:
        overrides += ["if len(sys.argv) > 2:", "    MESSAGE = sys.argv[2]"]

    sections = ["\n".join(constants + overrides)]
    if framing != "raw":
        sections.append(FRAMERS[framing])
    if rules:
        sections.append(ANSWER_RULES)
    family = "socket.AF_INET6" if ":" in host else "socket.AF_INET"
    impair = spec.impair is not None
    if text and kind == "tcp-server":
        sections += _tcp_server(text, framing, bool(rules), framed_files, family, spec.recv_delay_ms)
    elif text:
        sections.append(_udp_server(text, bool(rules), family, impair))
    elif kind == "tcp-client":
        sections.append(_tcp_client(framing, family))
    else:
        sections.append(_udp_client(family, spec.broadcast, impair))
    return _assemble([f"# {what}", mirrors, usage, *_link_note(spec)], sections)


def _link_note(spec: EndpointSpec) -> list[str]:
    """A spec's `link` is applied by the lab's network namespace, not by any line below: say so, or a
    student running this program alone wonders where the loss went. Only checked numbers go in."""
    link = spec.link
    if link is None:
        return []
    parts = ([f"loss: {link.loss * 100:g}% of its packets dropped as they arrive (nftables)"] if link.loss else []) + (
        [f"rate: {int(link.rate_kbit)} kbit/s at most (tc tbf)"] if link.rate_kbit else [])
    dropped = "TCP retransmits what is dropped" if spec.kind.startswith("tcp") else "a dropped datagram is simply gone"
    return ["# Link: applied by the lab's network namespace, in the kernel, not by this program:",
            f"#   {'; '.join(parts)}.",
            f"#   Run alone, this program sees none of it; on that link {dropped}."]


def program_for_download(request: DownloadRequest, dl_id: str | None = None) -> str:
    """The classic downloader for a download's checked request (parse_download() refused the rest)."""
    host, port, name = request.host, request.port, request.file
    framed = request.protocol == "framed"
    what = f"# A downloader: connect{', ask for FILE' if name else ''}, save what arrives until the server closes."
    mirrors = f"# Mirrors Socket Lab download {_ep_id(dl_id)}" + (
        "(protocol framed: 'OK <size> <sha256>' comes first)." if framed else "(protocol raw: the bytes and nothing else).")
    usage = "# Run: python3 prog.py [PORT]" + (" [FILE]" if name else "")
    constants = [f"HOST = {host!r}", f"PORT = {port}"]
    overrides = ["if len(sys.argv) > 1:", "    PORT = int(sys.argv[1])"]
    if name:
        constants.append(f"FILE = {name!r}")
        overrides += ["if len(sys.argv) > 2:", "    FILE = sys.argv[2]",
                      "SAVE_AS = os.path.basename(FILE) or 'download.bin'  # never outside this folder"]
    else:
        overrides.append("SAVE_AS = 'download.bin'")
    lines = [f"sock = socket.socket({'socket.AF_INET6' if ':' in host else 'socket.AF_INET'}, socket.SOCK_STREAM)",
             "sock.connect((HOST, PORT))"]
    if name:
        lines.append("sock.sendall(FILE.encode() + b'\\n')  # the request: the file name on one line")
    if framed:
        lines += [
            "buffer = b''",
            "while b'\\n' not in buffer:  # first the header line: OK <size> <sha256>, or ERR <reason>",
            "    data = sock.recv(1024)",
            "    if not data:",
            "        sys.exit('the server closed the connection before sending a header')",
            "    buffer += data",
            "header, _, data = buffer.partition(b'\\n')",
            "words = header.decode('utf-8', 'replace').split()",
            "if len(words) != 3 or words[0] != 'OK':",
            "    sys.exit('the server refused: ' + header.decode('utf-8', 'replace'))",
            "size, expected = int(words[1]), words[2]",
            "digest = hashlib.sha256(data)",
            "with open(SAVE_AS + '.part', 'wb') as f:",
            "    f.write(data)  # what came with the header",
        ]
    else:
        lines.append("with open(SAVE_AS + '.part', 'wb') as f:")
    lines += ["    while True:",
              "        data = sock.recv(65536)",
              "        if not data:  # b'': the server closed, so the file is complete",
              "            break",
              "        f.write(data)"]
    if framed:
        lines.append("        digest.update(data)")
    lines += ["    received = f.tell()", "sock.close()"]
    if framed:
        lines += ["if received != size or digest.hexdigest() != expected:",
                  "    os.remove(SAVE_AS + '.part')",
                  "    sys.exit(f'broken download: {received} of {size} bytes, or the sha256 differs')"]
    verified = " (sha256 verified)" if framed else ""
    lines += ["os.replace(SAVE_AS + '.part', SAVE_AS)  # only a complete file gets the real name",
              "print(f'saved {received} bytes to {SAVE_AS}" + verified + "')"]
    sections = ["\n".join(constants + overrides), "\n".join(lines)]
    return _assemble([what, mirrors, usage], sections)


# -- the pieces of a TCP server ------------------------------------------------------------------

def _tcp_server(text: type[ModeCode], framing: str, rules: bool, framed_files: bool, family: str,
                delay_ms: int = 0) -> list[str]:
    own = text.sections(framed_files)  # a mode with its own protocol brings its own handle()
    sections = own if own is not None else [_message_handler(text, framing, rules, delay_ms)]
    sections.append("\n".join([
        f"server = socket.socket({family}, socket.SOCK_STREAM)",
        "server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart at once on the same port",
        "server.bind((HOST, PORT))",
        "server.listen()",
        "host, port = server.getsockname()[:2]",
        "print(f'listening on {host}:{port}', flush=True)",
        "while True:",
        "    conn, addr = server.accept()  # a new socket for this client; `server` keeps listening",
        "    threading.Thread(target=handle, args=(conn, addr), daemon=True).start()",
    ]))
    return sections


def _respond(text: type[ModeCode], rules: bool, var: str, send: Callable[[str], str], wrap: Callable[[str], str]) -> list[str]:
    """What a server does with one message `var`: a matching rule answers first, else the mode does."""
    fallback = text.answer(var, send, wrap)
    if not rules:
        return fallback
    lines = [f"reply = answer({var})", "if reply is not None:", "    " + send("reply")]
    silent = fallback[0].startswith("#")  # a mode that answers nothing itself: no else branch
    return lines if silent else lines + ["else:"] + ["    " + line for line in fallback]


def _receive_loop(text: type[ModeCode], framing: str, rules: bool, delay_ms: int = 0) -> list[str]:
    """The recv loop of a TCP message mode, at the depth of a `with conn:` body."""
    wrap: Callable[[str], str] = (lambda data: data) if framing == "raw" else (lambda data: f"frame({data})")

    def respond(var: str) -> list[str]:
        return _respond(text, rules, var, lambda data: f"conn.sendall({wrap(data)})", wrap)

    slow = [f"    time.sleep({delay_ms / 1000:g})  # a slow reader: sends pile up, one recv() takes them all"] if delay_ms else []
    lines = ["while True:", *slow,
             "    data = conn.recv(1024)",
             "    if not data:  # b'' means the client closed the connection",
             "        break"]
    if framing == "raw":
        lines += ["    print(addr, 'sent', data, flush=True)"] + ["    " + line for line in respond("data")]
    else:
        lines = ["buffer = b''"] + lines + [
            "    " + RECV_LOOP_COMMENT,
            "    messages, buffer = unframe(buffer + data)",
            "    for message in messages:",
            "        print(addr, 'sent', message, flush=True)"] + ["        " + line for line in respond("message")]
    return ["        " + line for line in lines]


def _message_handler(text: type[ModeCode], framing: str, rules: bool, delay_ms: int = 0) -> str:
    if not text.shares_clients:
        return "\n".join(["def handle(conn, addr):",
                          "    print(addr, 'connected', flush=True)",
                          "    with conn:"]
                         + _receive_loop(text, framing, rules, delay_ms)
                         + ["    print(addr, 'closed', flush=True)"])
    return "\n".join(["clients = []  # the socket of every connected client",
                      "clients_lock = threading.Lock()",
                      "",
                      "",
                      "def handle(conn, addr):",
                      "    with clients_lock:",
                      "        clients.append(conn)",
                      "    print(addr, 'connected', flush=True)  # only now can it hear the others",
                      "    try:"]
                     + _receive_loop(text, framing, rules, delay_ms)
                     + ["    finally:",
                        "        with clients_lock:",
                        "            clients.remove(conn)",
                        "        conn.close()",
                        "    print(addr, 'closed', flush=True)"])


# -- UDP and the clients -------------------------------------------------------------------------

IMPAIR_NOTE = ("# The lab can impair this endpoint (loss, duplicates, reordering, delay) before sending;\n"
               "# a plain socket does not, so on loopback every datagram arrives, once and in order.")


def _udp_server(text: type[ModeCode], rules: bool, family: str, impair: bool) -> str:
    answer = _respond(text, rules, "data", lambda data: f"sock.sendto({data}, addr)", lambda data: data)
    return "\n".join([f"sock = socket.socket({family}, socket.SOCK_DGRAM)",
                      "sock.bind((HOST, PORT))",
                      "host, port = sock.getsockname()[:2]",
                      "print(f'listening on {host}:{port}', flush=True)  # UDP has no listen() and no accept()"]
                     + ([IMPAIR_NOTE] if impair else [])
                     + ["while True:",
                        "    data, addr = sock.recvfrom(65535)  # one whole datagram, and who sent it",
                        "    print(addr, 'sent', data, flush=True)"]
                     + ["    " + line for line in answer])


def _tcp_client(framing: str, family: str) -> str:
    head = (f"sock = socket.socket({family}, socket.SOCK_STREAM)\n"
            "sock.connect((HOST, PORT))  # no bind(): the OS picks this side's port\n")
    if framing == "raw":
        return head + ("sock.sendall(MESSAGE.encode())\n"
                       "data = sock.recv(1024)  # what has arrived so far: up to 1024 bytes\n"
                       "print('received:', data.decode('utf-8', 'replace'))\n"
                       "sock.close()")
    return head + ("sock.sendall(frame(MESSAGE.encode()))\n"
                   "buffer, messages = b'', []\n"
                   "while not messages:\n"
                   "    data = sock.recv(1024)\n"
                   "    if not data:\n"
                   "        break\n"
                   f"    {RECV_LOOP_COMMENT}\n"
                   "    messages, buffer = unframe(buffer + data)\n"
                   "if messages:\n"
                   "    print('received:', messages[0].decode('utf-8', 'replace'))\n"
                   "else:\n"
                   "    print('the server closed the connection without a reply')\n"
                   "sock.close()")


def _udp_client(family: str, broadcast: bool, impair: bool) -> str:
    return (f"sock = socket.socket({family}, socket.SOCK_DGRAM)\n"
            + ("sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)  # allowed to send to a broadcast address\n"
               if broadcast else "")
            + (IMPAIR_NOTE + "\n" if impair else "")
            + "sock.sendto(MESSAGE.encode(), (HOST, PORT))  # no bind(): the OS picks our port now\n"
            "sock.settimeout(2)\n"
            "try:\n"
            "    data, addr = sock.recvfrom(65535)\n"
            "    print('received:', data.decode('utf-8', 'replace'))\n"
            "except socket.timeout:\n"
            "    print('no reply (UDP does not guarantee delivery)')\n"
            "sock.close()")


# -- assembling and checking ---------------------------------------------------------------------

MODULES = ("hashlib", "os", "pathlib", "re", "socket", "struct", "sys", "threading", "time", "urllib.parse")


def _assemble(comment: list[str], sections: list[str]) -> str:
    """The comment, the imports the code uses, then the sections; two blank lines around a def."""
    body = sections[0]
    for before, section in zip(sections, sections[1:], strict=False):
        around_def = _has_def(before) or _has_def(section)
        body += ("\n\n\n" if around_def else "\n\n") + section
    imports = [f"import {name}" for name in MODULES if re.search(rf"\b{re.escape(name)}\.", body)]
    return "\n".join(comment + imports) + "\n\n" + body + "\n"


def _has_def(section: str) -> bool:
    return any(line.startswith("def ") for line in section.splitlines())


def _ep_id(ep_id: str | None) -> str:
    """The lab's id, for the comment: only when it is one the lab makes, so no value becomes code."""
    return f"{ep_id} " if ep_id is not None and _ID.fullmatch(ep_id) else ""


def _features(spec: EndpointSpec, framing: str, framed_files: bool) -> list[str]:
    found = [spec.kind] + ([f"mode {spec.mode}"] if spec.mode else [])
    if framing != "raw":
        found.append(f"{framing} framing")
    if framed_files:
        found.append("protocol framed")
    if spec.broadcast and spec.kind == "udp-client":
        found.append("broadcast")
    if spec.impair is not None and spec.kind.startswith("udp"):
        found.append("impaired")
    return found
