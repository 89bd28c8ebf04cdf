"""Show the code: the plain-Python socket program that does what a lab endpoint does.

Each program is what a textbook would print (socket/bind/listen/accept/recv/send, one thread per
client, sendto/recvfrom for UDP, the downloader that reads until EOF), runnable as shown with
`python3 prog.py [PORT]`. Every value taken from an endpoint (host, file name, reply, pattern) is
embedded with repr(), and nothing but the lab's own ids goes into a comment, so no value can
become code.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from .errors import BadInput
from .codegen_snippets import _WHAT, RECV_LOOP_COMMENT, FRAMERS, ANSWER_RULES, SAFE_PATH, FINISH, FILES_HANDLER, HTTP_HANDLER
from .spec import _port, _string  # the same checks, and sentences, as the specs

FILES_DIR = "./lab-files"
SERVER_MODES = {
    "tcp-server": ("echo", "reply", "manual", "file", "files", "relay", "http"),
    "udp-server": ("echo", "reply", "manual"),
}
FRAMINGS = ("raw", "line", "length")
_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")

def program_for(endpoint: dict[str, Any]) -> str:  # noqa: PLR0912, PLR0915 (one branch per mode and option, until each mode class carries its own text)
    """The plain socket program mirroring `endpoint` (what Endpoint.to_json() returns).

    Raises BadInput with a sentence when the endpoint object is not one the lab could have made.
    """
    if not isinstance(endpoint, dict):
        raise BadInput("An endpoint must be a JSON object.")
    kind = endpoint.get("kind")
    if kind not in ("tcp-server", "tcp-client", "udp-server", "udp-client"):
        raise BadInput(f"There is no program for an endpoint of kind {kind!r}.")
    server = kind.endswith("server")
    mode = _choice(endpoint, "mode", SERVER_MODES[kind]) if server else None
    framing = _choice(endpoint, "framing", FRAMINGS) if kind.startswith("tcp") else "raw"
    host, port = _address(endpoint.get("local" if server else "remote"), "local" if server else "remote")
    if kind == "tcp-server" and mode in ("file", "files", "http"):
        framing = "raw"  # these modes speak their own protocol on the stream
    framed_files = endpoint.get("protocol") == "framed" and mode in ("file", "files")
    rules = _rules(endpoint.get("rules")) if mode in ("echo", "reply", "manual", "relay") else []

    what = _WHAT[(kind, mode)]
    features = _features(kind, mode, framing, framed_files, endpoint) + (["rules"] if rules else [])
    mirrors = f"# Mirrors Socket Lab endpoint {_ep_id(endpoint)}({', '.join(features)})."
    usage = "# Run: python3 prog.py [PORT]" + ("" if server else " [MESSAGE]")
    constants = [f"HOST = {host!r}", f"PORT = {port}"]
    if not server:
        constants.append("MESSAGE = 'hello'")
    if mode == "reply":
        constants.append(f"REPLY = {_string(endpoint, 'reply', 'OK')!r}")
    if mode in ("file", "files", "http"):
        constants.append(f"FILES = {FILES_DIR!r}  # the folder the files are served from")
    if mode == "file":
        name = _string(endpoint, "file", max_length=1024)
        if not name:
            raise BadInput("A file server in mode 'file' needs the name of its file.")
        constants.append(f"FILE = {name!r}")
    if framing == "line":
        constants.append(f"DELIMITER = {_delimiter(endpoint)!r}")
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
    impair = endpoint.get("impair")
    if kind == "tcp-server":
        sections += _tcp_server(mode or "echo", framing, bool(rules), framed_files, family)
    elif kind == "udp-server":
        sections.append(_udp_server(mode or "echo", bool(rules), family, bool(impair)))
    elif kind == "tcp-client":
        sections.append(_tcp_client(framing, family))
    else:
        sections.append(_udp_client(family, bool(endpoint.get("broadcast")), bool(impair)))
    return _assemble([f"# {what}", mirrors, usage], sections)


def program_for_download(download: dict[str, Any]) -> str:
    """The classic downloader for a download object {"host", "port", "file", "protocol"}."""
    if not isinstance(download, dict):
        raise BadInput("A download must be a JSON object.")
    host, port = _address([download.get("host"), download.get("port")], "host and port")
    name = _string(download, "file", max_length=1024)
    if name is not None and ("\n" in name or "\r" in name):
        raise BadInput("The file name must be one line (no line breaks).")
    framed = _choice(download, "protocol", ("raw", "framed")) == "framed"
    what = f"# A downloader: connect{', ask for FILE' if name else ''}, save what arrives until the server closes."
    mirrors = f"# Mirrors Socket Lab download {_ep_id(download)}" + (
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

def _tcp_server(mode: str, framing: str, rules: bool, framed_files: bool, family: str) -> list[str]:
    sections: list[str] = []
    if mode == "file":
        sections.append("if not pathlib.Path(FILES, FILE).is_file():\n"
                        "    sys.exit(f'{FILE} is not in the folder {FILES}')")
    if mode in ("file", "files"):
        sections.append(FINISH)
    if mode in ("files", "http"):
        sections.append(SAFE_PATH)
    if mode == "file":
        header = ("        digest = hashlib.sha256(data).hexdigest()\n"
                  "        conn.sendall(f'OK {len(data)} {digest}\\n'.encode())  # the header: size and checksum\n"
                  if framed_files else "")
        sections.append("def handle(conn, addr):\n"
                        "    print(addr, 'connected', flush=True)\n"
                        "    with conn:\n"
                        "        data = pathlib.Path(FILES, FILE).read_bytes()\n"
                        f"{header}"
                        "        conn.sendall(data)\n"
                        "        finish(conn)")
    elif mode == "files":
        refuse = ("            conn.sendall(b'ERR no such file\\n')" if framed_files
                  else "            print(addr, 'no such file: closing', flush=True)")
        header = ("            digest = hashlib.sha256(data).hexdigest()\n"
                  "            conn.sendall(f'OK {len(data)} {digest}\\n'.encode())  # the header: size and checksum\n"
                  if framed_files else "")
        sections.append(FILES_HANDLER.replace("{refuse}", refuse).replace("{header}", header))
    elif mode == "http":
        sections.append(HTTP_HANDLER)
    else:
        sections.append(_message_handler(mode, framing, rules))
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


def _respond(mode: str, rules: bool, var: str, send: Callable[[str], str], wrap: Callable[[str], str]) -> list[str]:
    """What a server does with one message `var`: a matching rule answers first, else the mode does."""
    if mode == "echo":
        fallback = [send(var)]
    elif mode == "reply":
        fallback = [send("REPLY.encode()")]
    elif mode == "relay":
        fallback = ["with clients_lock:",
                    "    others = [c for c in clients if c is not conn]",
                    "for other in others:",
                    "    try:",
                    f"        other.sendall({wrap(var)})",
                    "    except OSError:",
                    "        pass  # that client is leaving: its own thread removes it"]
    else:
        fallback = ["# manual: nothing is sent back; the lab sends what you type on the dashboard"]
    if not rules:
        return fallback
    lines = [f"reply = answer({var})", "if reply is not None:", "    " + send("reply")]
    return lines if mode == "manual" else lines + ["else:"] + ["    " + line for line in fallback]


def _receive_loop(mode: str, framing: str, rules: bool) -> list[str]:
    """The recv loop of a TCP message mode, at the depth of a `with conn:` body."""
    wrap: Callable[[str], str] = (lambda data: data) if framing == "raw" else (lambda data: f"frame({data})")

    def respond(var: str) -> list[str]:
        return _respond(mode, rules, var, lambda data: f"conn.sendall({wrap(data)})", wrap)

    lines = ["while True:",
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


def _message_handler(mode: str, framing: str, rules: bool) -> str:
    if mode != "relay":
        return "\n".join(["def handle(conn, addr):",
                          "    print(addr, 'connected', flush=True)",
                          "    with conn:"]
                         + _receive_loop(mode, framing, rules)
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
                     + _receive_loop(mode, framing, rules)
                     + ["    finally:",
                        "        with clients_lock:",
                        "            clients.remove(conn)",
                        "        conn.close()",
                        "    print(addr, 'closed', flush=True)"])


# -- UDP and the clients -------------------------------------------------------------------------

IMPAIR_NOTE = ("# The lab can impair this endpoint (loss, duplicates, reordering, delay) before sending;\n"
               "# a plain socket does not, so on loopback every datagram arrives, once and in order.")


def _udp_server(mode: str, rules: bool, family: str, impair: bool) -> str:
    answer = _respond(mode, rules, "data", lambda data: f"sock.sendto({data}, addr)", lambda data: data)
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

MODULES = ("hashlib", "os", "pathlib", "re", "socket", "struct", "sys", "threading", "urllib.parse")


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


def _ep_id(endpoint: dict[str, Any]) -> str:
    ep_id = endpoint.get("id")
    return f"{ep_id} " if isinstance(ep_id, str) and _ID.fullmatch(ep_id) else ""


def _features(kind: str, mode: str | None, framing: str, framed_files: bool, endpoint: dict[str, Any]) -> list[str]:
    found = [kind] + ([f"mode {mode}"] if mode else [])
    if framing != "raw":
        found.append(f"{framing} framing")
    if framed_files:
        found.append("protocol framed")
    if endpoint.get("broadcast") and kind == "udp-client":
        found.append("broadcast")
    if endpoint.get("impair") and kind.startswith("udp"):
        found.append("impaired")
    return found


def _choice(obj: dict[str, Any], key: str, choices: tuple[str, ...]) -> str:
    return _string(obj, key, choices[0], choices=choices) or choices[0]


def _address(value: Any, what: str) -> tuple[str, int]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise BadInput(f"The endpoint has no {what} address to put in the program.")
    host = (_string({"host": value[0]}, "host", required=True, max_length=253) or "").strip()
    if not host:
        raise BadInput(f"The {what} host is empty: a program needs an address like 127.0.0.1.")
    return host, _port({"port": value[1]}, allow_zero=True)


def _delimiter(endpoint: dict[str, Any]) -> bytes:
    delimiter = _string(endpoint, "delimiter", "\n", max_length=8) or ""
    if not delimiter:
        raise BadInput("The delimiter is empty: line framing needs something to cut at.")
    return delimiter.encode("utf-8")


def _rules(value: Any) -> list[tuple[str, str]]:
    if not value:
        return []
    if not isinstance(value, list):
        raise BadInput("'rules' must be a list of {\"match\": pattern, \"reply\": template}.")
    rules = []
    for rule in value:
        if not isinstance(rule, dict) or not isinstance(rule.get("match"), str) or not isinstance(rule.get("reply"), str):
            raise BadInput("Each rule must be {\"match\": pattern, \"reply\": template}, both strings.")
        try:
            re.compile(rule["match"])
        except re.error as exc:
            raise BadInput(f"The rule pattern {rule['match']!r} is not a valid regular expression: {exc}.") from None
        rules.append((rule["match"], rule["reply"]))
    return rules
