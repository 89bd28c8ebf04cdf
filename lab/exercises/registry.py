"""The one registry of exercises: what the student writes, what the lab does, and each check, as data.

An exercise is a student's own program, traced (python -m agent.trace), while the lab either serves it
(`role` "serves": the student writes a client) or connects to it as one or more clients ("connects": the
student writes a server). Each check is a stable code with a sentence saying what passing means and a
hint shown when it fails, both in English and Chinese, like the lessons' words (lab/lessons/registry.py).

A check is read from one of three places (`side`): the program's own traced calls ("trace",
lab/exercises/trace.py), the lab acting as the program's peer ("peer", lab/exercises/peer.py), or what a
lab server of the exercise saw from the student's client ("lab": the name it got, the file's checksum the
program printed); the page shows every check of an exercise the same way, whatever its side.

A failed peer check also carries a `reason` (REASONS): what the lab saw, with its values, so a hint
("loop around recv()") comes with the evidence ("got 5 of 31 bytes, then the connection closed").
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..errors import BadInput, render

Words = dict[str, str]  # {"en": ..., "zh": ...}

LANGUAGES = ("en", "zh")
SIDES = ("trace", "peer", "lab")
ROLES = ("serves", "connects")  # what the lab does: serves the student's client, or connects to their server


class Check(NamedTuple):
    code: str
    side: str  # trace | peer | lab
    text: Words  # what passing means
    hint: Words  # what a failure tells the student to do

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "side": self.side, "text": self.text, "hint": self.hint}


class Exercise(NamedTuple):
    n: int
    key: str
    title: Words
    writes: Words  # what the student writes
    lab_does: Words  # what the lab does meanwhile
    role: str  # serves | connects
    clients: int  # how many clients the lab connects at once to the student's server (0 when it serves)
    checks: tuple[Check, ...]

    def check(self, code: str) -> Check:
        return next(c for c in self.checks if c.code == code)

    def summary(self) -> dict[str, Any]:
        """The exercise as GET /api/exercises lists it (CONTRACT: key, n, title, checks with code and text)."""
        return {"key": self.key, "n": self.n, "title": self.title, "writes": self.writes, "lab_does": self.lab_does,
                "role": self.role, "clients": self.clients, "checks": [c.to_json() for c in self.checks]}


def _w(en: str, zh: str) -> Words:
    return {"en": en, "zh": zh}


def _check(code: str, side: str, text: tuple[str, str], hint: tuple[str, str]) -> Check:
    return Check(code, side, _w(*text), _w(*hint))


# -- the checks shared by several exercises (one code, one meaning, wherever it appears) ------------

SERVER_ORDER = _check(
    "server-call-order", "trace",
    ("socket(), bind(), listen(), then accept() for each client, and recv() on the socket accept() returned.",
     "依次调用 socket()、bind()、listen()，然后为每个客户端调用 accept()，并在 accept() 返回的套接字上 recv()。"),
    ("A server calls socket(), bind() and listen() once, then accept() in a loop; it never receives on the "
     "listening socket.",
     "服务器先各调用一次 socket()、bind() 和 listen()，再循环调用 accept()；绝不在监听套接字上接收数据。"))
CLIENT_ORDER = _check(
    "client-call-order", "trace",
    ("socket(), then connect() to the lab's server before any send() or recv().",
     "先 socket()，再 connect() 到实验室的服务器，然后才 send() 或 recv()。"),
    ("Create the socket, connect() it to the address and port the exercise gives, then send and receive.",
     "创建套接字，用 connect() 连接到练习给出的地址和端口，然后再发送和接收。"))
RECV_LOOP = _check(
    "recv-loop", "trace",
    ("recv() in a loop until it returns b'' (the peer closed), whatever pieces the bytes came in.",
     "循环调用 recv()，直到它返回 b''（对方已关闭），无论字节分成几段到达。"),
    ("One recv() for a message sent in pieces: recv() returns what has arrived so far. Call it in a loop until it "
     "returns b''.",
     "一次 recv() 读取分成几段发送的消息：recv() 只返回目前已到达的数据。请循环调用，直到它返回 b''。"))
CLOSED = _check(
    "closed", "trace",
    ("Every socket is closed with close() (or a `with` block).",
     "每个套接字都用 close()（或 `with` 语句块）关闭。"),
    ("A socket never closed: call close() on each socket when you are done (or use `with socket.socket() as s:`), "
     "so the peer sees the end of the stream.",
     "有套接字一直没有关闭：用完每个套接字都要调用 close()（或使用 `with socket.socket() as s:`），让对方看到数据流结束。"))
SENDS_BYTES = _check(
    "sends-bytes", "trace",
    ("send() and sendall() are given bytes.",
     "send() 和 sendall() 收到的是字节（bytes）。"),
    ("send() of a str: sockets carry bytes. Encode the text first: sock.sendall(text.encode()).",
     "send() 了一个 str：套接字传送的是字节。请先编码：sock.sendall(text.encode())。"))
THREAD_PER_CLIENT = _check(
    "thread-per-client", "trace",
    ("Clients are served at once: a new client is served while another is still connected (a thread per client).",
     "同时服务多个客户端：另一个客户端仍连着时，新客户端也得到服务（每个客户端一个线程）。"),
    ("One client at a time: the others wait until the first one leaves. Start a thread for each accepted "
     "connection (threading.Thread(target=serve, args=(conn,)).start()).",
     "一次只服务一个客户端：其他客户端要等第一个离开。请为每个 accept() 得到的连接启动一个线程"
     "（threading.Thread(target=serve, args=(conn,)).start()）。"))
THREE_AT_ONCE = _check(
    "three-clients", "peer",
    ("Three lab clients connected at once each get their own answer.",
     "实验室同时连接的三个客户端各自得到应答。"),
    ("Only the first client is answered while it stays connected: serve each connection in its own thread.",
     "第一个客户端连着时只有它得到应答：请在各自的线程中服务每个连接。"))


EXERCISES: dict[str, Exercise] = {e.key: e for e in (
    Exercise(1, "echo-server", _w("Echo server", "回显服务器"),
             _w("A TCP server that sends back exactly the bytes each client sends, to several clients at once.",
                "一个 TCP 服务器：把每个客户端发来的字节原样发回，并能同时服务多个客户端。"),
             _w("Connects to your server as one client, then as three at once, and sends messages whole, glued "
                "together and split into pieces.",
                "先以一个客户端连接你的服务器，再同时连接三个；消息有整条发送的、粘在一起的、也有拆成几段的。"),
             "connects", 3,
             (SERVER_ORDER,
              _check("echo-exact", "peer",
                     ("One message comes back byte for byte.", "一条消息逐字节原样返回。"),
                     ("The answer differs from what was sent: send back exactly the bytes recv() returned, "
                      "with sendall().",
                      "应答与发送的内容不同：请用 sendall() 原样发回 recv() 返回的字节。")),
              _check("echo-glued", "peer",
                     ("Several messages sent in one send() all come back.", "一次 send() 发出的几条消息全部返回。"),
                     ("Messages glued into one piece were not all sent back: echo every byte recv() returns, "
                      "however many messages it holds.",
                      "粘在一起的几条消息没有全部返回：recv() 返回多少字节就发回多少，不管里面有几条消息。")),
              _check("echo-split", "peer",
                     ("One message sent in pieces, with pauses, comes back whole.",
                      "分几段、中间有停顿发送的一条消息完整返回。"),
                     ("Only the first piece came back: keep calling recv() in a loop until it returns b''.",
                      "只返回了第一段：请循环调用 recv()，直到它返回 b''。")),
              THREE_AT_ONCE, THREAD_PER_CLIENT, RECV_LOOP, CLOSED, SENDS_BYTES)),
    Exercise(2, "client", _w("Client", "客户端"),
             _w("A TCP client that connects to the lab's server, sends your name, prints the reply and closes.",
                "一个 TCP 客户端：连接实验室的服务器，发送你的名字，打印应答，然后关闭。"),
             _w("Serves you: a server that answers each name with a greeting.",
                "为你提供服务：一个用问候语回答每个名字的服务器。"),
             "serves", 0,
             (CLIENT_ORDER, SENDS_BYTES,
              _check("name-received", "lab",
                     ("The lab's server received your name.", "实验室的服务器收到了你的名字。"),
                     ("The lab's server got nothing: sendall() your name, encoded, after connect().",
                      "实验室的服务器什么也没收到：请在 connect() 之后用 sendall() 发送编码后的名字。")),
              CLOSED)),
    Exercise(3, "downloader", _w("Downloader", "下载器"),
             _w("A TCP client that receives a file from the lab until the server closes, saves it and prints "
                "its SHA-256.",
                "一个 TCP 客户端：从实验室接收文件直到服务器关闭，保存下来，并打印它的 SHA-256。"),
             _w("Serves you: a server that sends a file, then closes the connection.",
                "为你提供服务：一个发送文件然后关闭连接的服务器。"),
             "serves", 0,
             (CLIENT_ORDER, RECV_LOOP,
              _check("file-size", "lab",
                     ("Your program received every byte of the file.", "你的程序收到了文件的每一个字节。"),
                     ("Bytes are missing: keep calling recv() until it returns b'', and write every piece to the file.",
                      "缺少字节：请一直调用 recv() 直到它返回 b''，并把每一段都写入文件。")),
              _check("file-sha256", "lab",
                     ("The SHA-256 your program printed is the file's.", "你的程序打印的 SHA-256 与文件的一致。"),
                     ("The checksum differs: hash the bytes exactly as received (open the file with 'wb').",
                      "校验和不一致：请对收到的原始字节计算哈希（用 'wb' 打开文件）。")),
              CLOSED)),
    Exercise(4, "file-request", _w("File request", "请求文件"),
             _w("A TCP client that asks the lab's files server for a file by name and saves what comes back.",
                "一个 TCP 客户端：按文件名向实验室的文件服务器请求文件，并保存返回的内容。"),
             _w("Serves you: a files server that reads one line, the file's name, and sends that file.",
                "为你提供服务：一个文件服务器，读取一行（文件名），然后发送该文件。"),
             "serves", 0,
             (CLIENT_ORDER, SENDS_BYTES,
              _check("request-line", "lab",
                     ("The server got the file's name on one line, ending with a newline.",
                      "服务器收到了以换行结尾的一行文件名。"),
                     ("The server waits for the end of the line: send the name followed by '\\n'.",
                      "服务器在等待这一行的结尾：请在文件名后面加上 '\\n' 再发送。")),
              RECV_LOOP,
              _check("file-sha256", "lab",
                     ("The saved file is the one asked for, byte for byte.", "保存的文件与所请求的文件逐字节一致。"),
                     ("The saved file differs: write every piece recv() returns, in binary mode.",
                      "保存的文件不一致：请以二进制方式写入 recv() 返回的每一段。")),
              CLOSED)),
    Exercise(5, "line-reader", _w("Line reader", "逐行读取"),
             _w("A TCP client that prints each line the lab sends, whatever pieces the lines arrive in.",
                "一个 TCP 客户端：打印实验室发来的每一行，不管这些行被拆成什么样的片段到达。"),
             _w("Serves you: a server that sends lines cut at random places, some glued together, then closes.",
                "为你提供服务：一个服务器，发送在随机位置被切开、有的粘在一起的若干行，然后关闭。"),
             "serves", 0,
             (CLIENT_ORDER, RECV_LOOP,
              _check("lines-whole", "lab",
                     ("Every line was printed whole, once, in order.", "每一行都完整地、按顺序打印了一次。"),
                     ("A line was printed in pieces or two lines as one: keep a buffer, add each recv() to it, and "
                      "print only up to each '\\n'.",
                      "有一行被分段打印，或两行被当成一行：请维护一个缓冲区，把每次 recv() 的数据加进去，只打印到每个 '\\n' 为止。")),
              CLOSED)),
    Exercise(6, "udp-retry", _w("UDP with retries", "UDP 超时重传"),
             _w("A UDP client that asks the lab's server N questions over a lossy link, with a timeout and retries "
                "until every answer is in.",
                "一个 UDP 客户端：通过会丢包的链路向实验室的服务器提出 N 个问题，设置超时并重试，直到收齐所有答案。"),
             _w("Serves you: a UDP server that answers each question, over a link that drops some datagrams "
                "(seeded, the same ones every run).",
                "为你提供服务：一个回答每个问题的 UDP 服务器，链路会丢弃一些数据报（由种子决定，每次丢的都一样）。"),
             "serves", 0,
             (_check("sets-timeout", "trace",
                     ("settimeout() is called before waiting for an answer.", "等待应答之前调用了 settimeout()。"),
                     ("No timeout: a lost datagram leaves recvfrom() waiting forever. Call sock.settimeout(1.0) "
                      "and catch socket.timeout.",
                      "没有设置超时：数据报一旦丢失，recvfrom() 就会永远等下去。请调用 sock.settimeout(1.0) 并捕获 socket.timeout。")),
              _check("retries", "trace",
                     ("After a timeout the question is sent again.", "超时之后重新发送了问题。"),
                     ("A timeout ended the program: when recvfrom() times out, send the same question again.",
                      "一次超时就让程序结束了：recvfrom() 超时后，请再次发送同一个问题。")),
              _check("every-answer", "lab",
                     ("Every question got its answer despite the losses.", "尽管有丢包，每个问题都得到了答案。"),
                     ("Some answers never came: retry each question until its answer arrives.",
                      "有些答案始终没有收到：请对每个问题重试，直到收到它的答案。")),
              SENDS_BYTES, CLOSED)),
    Exercise(7, "relay", _w("Chat relay", "聊天中继"),
             _w("A TCP chat server: every message from one client reaches all the other clients.",
                "一个 TCP 聊天服务器：一个客户端发来的每条消息都转发给其他所有客户端。"),
             _w("Connects to your server as three clients; one of them talks, the other two listen.",
                "以三个客户端连接你的服务器；其中一个发言，另外两个收听。"),
             "connects", 3,
             (SERVER_ORDER,
              _check("relay-others", "peer",
                     ("A message from one of three clients reaches the other two.",
                      "三个客户端之一发出的消息到达了另外两个。"),
                     ("The message did not reach every other client: keep a list of the connected sockets and "
                      "sendall() each message to all of them but the sender.",
                      "消息没有到达其他每个客户端：请保存所有已连接的套接字列表，把每条消息 sendall() 给除发送者以外的所有人。")),
              _check("relay-not-sender", "peer",
                     ("The sender does not get its own message back.", "发送者不会收到自己的消息。"),
                     ("The sender got its own message back: skip the socket the message came from.",
                      "发送者收到了自己的消息：转发时请跳过消息来源的那个套接字。")),
              THREAD_PER_CLIENT, CLOSED, SENDS_BYTES)),
    Exercise(8, "http-server", _w("HTTP server by hand", "手写 HTTP 服务器"),
             _w("A TCP server that answers a GET with a valid HTTP/1.0 response, written by hand: a status line, "
                "headers, a blank line, the body, then close().",
                "一个 TCP 服务器：手写一个合法的 HTTP/1.0 响应来回答 GET：状态行、头部、一个空行、正文，然后 close()。"),
             _w("Connects to your server as a browser would: sends GET / and reads the response.",
                "像浏览器一样连接你的服务器：发送 GET / 并读取响应。"),
             "connects", 1,
             (SERVER_ORDER,
              _check("http-status-line", "peer",
                     ("The response starts with a status line such as HTTP/1.0 200 OK.",
                      "响应以状态行开头，例如 HTTP/1.0 200 OK。"),
                     ("The first line must be the version, a three-digit status and a reason, ending with \\r\\n: "
                      "b'HTTP/1.0 200 OK\\r\\n'.",
                      "第一行必须是版本、三位数的状态码和原因短语，并以 \\r\\n 结尾：b'HTTP/1.0 200 OK\\r\\n'。")),
              _check("http-headers", "peer",
                     ("Header lines of the form Name: value, then a blank line.", "形如 Name: value 的头部行，然后是一个空行。"),
                     ("Each header is 'Name: value\\r\\n', and the headers end with an empty line ('\\r\\n') before "
                      "the body.",
                      "每个头部是 'Name: value\\r\\n'，头部之后、正文之前必须有一个空行（'\\r\\n'）。")),
              _check("http-body-length", "peer",
                     ("The body has as many bytes as Content-Length says.", "正文的字节数与 Content-Length 一致。"),
                     ("Content-Length must count the body's bytes (len(body) of the encoded body, not of the str).",
                      "Content-Length 必须是正文的字节数（编码后正文的 len(body)，而不是 str 的长度）。")),
              _check("http-closes", "peer",
                     ("The server closes the connection after the response (HTTP/1.0).",
                      "服务器在响应之后关闭连接（HTTP/1.0）。"),
                     ("The browser keeps waiting: close() the connection once the response is sent.",
                      "浏览器一直在等：响应发送完后请 close() 这个连接。")),
              CLOSED, SENDS_BYTES)),
)}


# What the lab saw when a peer check failed: a sentence in both languages, `{name}` filled from its params.
REASONS: dict[str, Words] = {
    "no-answer": _w("No answer within {seconds} s: the connection was accepted but nothing came back.",
                    "{seconds} 秒内没有应答：连接已被接受，但什么也没有返回。"),
    "not-listening": _w("Could not connect to {address}: nothing is listening there any more.",
                        "无法连接到 {address}：那里已经没有程序在监听。"),
    "connection-reset": _w("The server reset the connection (it closed with bytes it never read).",
                           "服务器重置了连接（它在还有未读字节时关闭了连接）。"),
    "wrong-bytes": _w("Sent {sent} bytes, got back {got} bytes that differ from them.",
                      "发送了 {sent} 字节，收回的 {got} 字节与之不同。"),
    "cut-short": _w("Got back {got} of {sent} bytes, then the server closed the connection.",
                    "收回 {sent} 字节中的 {got} 字节后，服务器关闭了连接。"),
    "too-long": _w("The answer went on past {limit} bytes: the lab stopped reading.",
                   "应答超过了 {limit} 字节：实验室停止了读取。"),
    "answered": _w("Answered {answered} of {clients} clients connected at once.",
                   "同时连接的 {clients} 个客户端中，有 {answered} 个得到了应答。"),
    "not-relayed": _w("The message from client {sender} did not reach client {client} within {seconds} s.",
                      "客户端 {sender} 的消息在 {seconds} 秒内没有到达客户端 {client}。"),
    "echoed-to-sender": _w("Client {sender} got its own message back.", "客户端 {sender} 收到了自己的消息。"),
    "bad-status-line": _w("The first line is not a status line: {line}", "第一行不是状态行：{line}"),
    "no-blank-line": _w("The headers never ended with an empty line.", "头部始终没有以空行结束。"),
    "bad-header": _w("This header line has no 'Name: value' form: {line}", "这一行头部不是“Name: value”的形式：{line}"),
    "length-mismatch": _w("Content-Length says {declared} bytes, the body has {actual}.",
                          "Content-Length 写的是 {declared} 字节，正文却有 {actual} 字节。"),
    "not-closed": _w("The connection stayed open {seconds} s after the response.", "响应之后连接又保持打开了 {seconds} 秒。"),
    "call-failed": _w("{call}() failed in your program ({problem}).", "你的程序中 {call}() 失败了（{problem}）。"),
    "sent-str": _w("{call}() was given a str.", "{call}() 收到的是 str。"),
    "never-closed": _w("Socket {socket} was never closed.", "套接字 {socket} 一直没有关闭。"),
    "missed-pieces": _w("Socket {socket} was closed with {unread} bytes never read.",
                        "套接字 {socket} 关闭时还有 {unread} 字节从未读取。"),
    "stopped-reading": _w("Socket {socket} was closed after {recvs} recv() calls, before the peer closed.",
                          "套接字 {socket} 在对方关闭之前、调用了 {recvs} 次 recv() 之后就被关闭了。"),
    "recv-on-listener": _w("recv() on the listening socket {socket}.", "在监听套接字 {socket} 上调用了 recv()。"),
    "listen-without-bind": _w("listen() on {socket} without bind(): the port is a random one.",
                              "{socket} 没有 bind() 就 listen()：端口是随机的。"),
    "one-at-a-time": _w("{accepted} clients, each accepted only after the previous one left.",
                        "{accepted} 个客户端，每个都要等前一个离开后才被 accept()。"),
    "no-timeout": _w("recvfrom() on {socket} with no timeout set.", "{socket} 上调用 recvfrom() 时没有设置超时。"),
    "moved-on": _w("After a timeout on {socket}, the next datagram was \"{next}\", not \"{question}\" again.",
                   "{socket} 超时后，下一个数据报是“{next}”，而不是再次发送“{question}”。"),
    "gave-up": _w("Socket {socket} timed out and was closed without sending again.",
                  "套接字 {socket} 超时后没有再次发送就被关闭了。"),
    # the lab could not reach the student's listener from where the checker stands (lab/exercises/checker.py)
    "listener-unreachable": _w("Your server listens on {address} only, and the lab connects from another machine "
                               "to {host}: bind to '' (every address) so the lab can connect.",
                               "你的服务器只在 {address} 上监听，而实验室从另一台机器连接 {host}："
                               "请绑定到 ''（所有地址），让实验室能够连接。"),
    # what the lab's own servers saw of a student's client (lab/exercises/serving.py)
    "no-name": _w("The lab's server got no name: the connection closed after {received} bytes.",
                  "实验室的服务器没有收到名字：连接在收到 {received} 字节后就关闭了。"),
    "file-cut-short": _w("Your program received {got} of the file's {size} bytes.",
                         "你的程序只收到了文件 {size} 字节中的 {got} 字节。"),
    "sha256-differs": _w("Your program printed {printed}…, but the file's SHA-256 begins {expected}.",
                         "你的程序打印的是 {printed}…，而文件的 SHA-256 以 {expected} 开头。"),
    "sha256-not-printed": _w("Your program ended without printing a SHA-256 (64 hexadecimal digits).",
                             "你的程序结束了，却没有打印 SHA-256（64 位十六进制数字）。"),
    "file-differs": _w("The {got} bytes your program received are not the file's {size} bytes.",
                       "你的程序收到的 {got} 字节与文件的 {size} 字节不一致。"),
    "no-newline": _w("Your program sent {sent} bytes with no newline: the server still waits for the end of the line.",
                     "你的程序发送了 {sent} 字节，但没有换行符：服务器仍在等待这一行的结尾。"),
    "line-broken": _w("Line {n} (\"{line}\") was not printed whole on a line of its own.",
                      "第 {n} 行（“{line}”）没有作为完整的一行打印出来。"),
    "line-repeated": _w("Line {n} (\"{line}\") was printed {times} times.", "第 {n} 行（“{line}”）被打印了 {times} 次。"),
    "answers-missing": _w("Got {got} of {questions} answers; still missing: {missing}.",
                          "{questions} 个答案中收到了 {got} 个；仍缺少：{missing}。"),
}


def reason_text(reason: str, params: dict[str, Any], lang: str) -> str:
    """The sentence of a failed check's `reason` in `lang` ("en" | "zh"), its values filled in."""
    return render(REASONS[reason][lang], params)


def exercise(key: Any) -> Exercise:
    """The exercise named `key`, or a BadInput sentence."""
    if not isinstance(key, str) or key not in EXERCISES:
        raise BadInput("not-a-choice", value=str(key)[:40], field="exercise", choices=", ".join(EXERCISES))
    return EXERCISES[key]
