"""The text pieces the code generator (codegen.py) assembles into programs: descriptions, framers,
and the bodies of the per-client handlers. Plain strings, no logic."""

from __future__ import annotations

CLIENTS = {  # what a client's program does (a server's text: lab/codegen/modes.py)
    "tcp-client": "A TCP client: connect, send one message, print the reply, close.",
    "udp-client": "A UDP client: send one datagram, then wait up to 2 s for a reply.",
}

RECV_LOOP_COMMENT = "# a recv() may return part of a send, or several: that is why we frame"

FRAMERS = {
    "line": '''\
def frame(message):
    return message + DELIMITER


def unframe(buffer):
    """Cut the whole messages off the front of buffer: (messages, the rest)."""
    messages = []
    while DELIMITER in buffer:
        message, buffer = buffer.split(DELIMITER, 1)
        messages.append(message)
    return messages, buffer''',
    "length": '''\
def frame(message):
    return struct.pack('!I', len(message)) + message  # a 4-byte big-endian length first


def unframe(buffer):
    """Cut the whole messages off the front of buffer: (messages, the rest)."""
    messages = []
    while len(buffer) >= 4:
        size = struct.unpack('!I', buffer[:4])[0]
        if len(buffer) < 4 + size:
            break  # the rest of this message has not arrived yet
        messages.append(buffer[4:4 + size])
        buffer = buffer[4 + size:]
    return messages, buffer''',
}

ANSWER_RULES = '''\
def answer(message):
    """The reply of the first rule whose pattern matches, or None. In a reply, $1 stands for what
    the first (...) of the pattern matched, $2 the second, ..., and $0 the whole match."""
    text = message.decode('utf-8', 'replace')
    for pattern, template in RULES:
        found = re.search(pattern, text)
        if found:
            groups = [found.group(0)] + [group or '' for group in found.groups()]
            pieces = re.split(r'\\$(\\d)', template)  # text, digit, text, digit, ..., text
            for i in range(1, len(pieces), 2):
                n = int(pieces[i])
                pieces[i] = groups[n] if n < len(groups) else '$' + pieces[i]
            return ''.join(pieces).encode()
    return None'''

SAFE_PATH = '''\
def safe_path(name):
    """The path of a file in FILES, or None: a client must never reach outside the folder,
    not even through a symbolic link that points out of it."""
    if not name or name.startswith('.') or '/' in name or '\\\\' in name or '\\0' in name:
        return None
    folder = pathlib.Path(FILES).resolve()
    path = (folder / name).resolve()  # follows every link, so the check below sees the real place
    if path.parent != folder or not path.is_file():
        return None
    return path'''

FINISH = '''\
def finish(conn):
    conn.shutdown(socket.SHUT_WR)  # done sending: the client's recv() now returns b''
    while conn.recv(1024):  # read what the client still sends, so close() never resets
        pass'''

FILES_HANDLER = '''\
def handle(conn, addr):
    with conn:
        request = b''
        while b'\\n' not in request and len(request) <= 1024:  # one line: the file name
            data = conn.recv(1024)
            if not data:
                return
            request += data
        name = request.split(b'\\n')[0].rstrip(b'\\r').decode('utf-8', 'replace')
        print(addr, 'asked for', repr(name), flush=True)
        path = safe_path(name)
        if path is None:
{refuse}
        else:
            data = path.read_bytes()
{header}            conn.sendall(data)
        finish(conn)'''

HTTP_HANDLER = '''\
PAGE = b'<!doctype html><h1>Hello from a plain socket</h1><p>Try /hello.txt</p>'


def handle(conn, addr):
    with conn:
        request = b''
        while b'\\r\\n\\r\\n' not in request:  # the request ends with an empty line
            data = conn.recv(1024)
            if not data or len(request) > 8192:
                return
            request += data
        line = request.split(b'\\r\\n')[0].decode('latin-1')  # like 'GET /hello.txt HTTP/1.0'
        print(addr, line, flush=True)
        words = line.split()
        path = urllib.parse.unquote(words[1]) if len(words) == 3 else ''
        file = safe_path(path[1:])
        if path == '/':
            status, kind, body = '200 OK', 'text/html; charset=utf-8', PAGE
        elif file:
            status, kind, body = '200 OK', 'application/octet-stream', file.read_bytes()
        else:
            status, kind, body = '404 Not Found', 'text/plain', b'not found\\n'
        head = f'HTTP/1.0 {status}\\r\\nContent-Type: {kind}\\r\\nContent-Length: {len(body)}\\r\\n\\r\\n'
        conn.sendall(head.encode() + body)  # HTTP/1.0: one answer, then close'''
