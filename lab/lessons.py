"""The one registry of lessons: what each of the nine lessons makes, does and says, as data.

A lesson is built by the lab itself (lab/stage.py runs it), not by a page: so every page, a reload,
a second tab and a viewer see the same sockets, and a test can run a lesson ten times in a row.
Each lesson names the view that shows its point, its words in both languages, and its actions
(the banner's buttons). Builds and actions use only the Lab's public methods, as the REST API does.

Timing is never left to chance where the point depends on it: the sticky-packet lesson gives its
servers a slow reader (`recv_delay_ms`), the real cause the tutorials name for glued messages
(发送和接收速度不匹配: the receiver reads more slowly than the sender sends).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from .errors import BadInput, LabError, Refused
from .tcp import TcpServer

if TYPE_CHECKING:
    from .core import Lab

Ids = dict[str, Any]  # names -> endpoint ids (or lists of them) that a lesson made
Result = dict[str, Any]  # {"ok": True} or {"ok": True, "code": message code, "params": {...}}
Words = dict[str, str]  # {"en": ..., "zh": ...}

BROADCAST = "127.255.255.255"  # loopback's broadcast address: one machine, many receivers
HTTP_GET = "GET / HTTP/1.0\r\n\r\n"
SLOW_READER_MS = 200  # the sticky lesson's servers read this often: 20 sends pile up between two reads
BURST = {"data": "hello", "repeat": 20, "interval_ms": 0, "numbered": True}
VIEWS = ("log", "ladder", "split", "numbers", "compare")
ACCEPT_WAIT = 5.0  # seconds a build waits for its server to accept its clients (loopback: microseconds)


class Built(NamedTuple):
    """What a lesson's build made and what the page needs to show it."""

    ids: Ids
    prefill: dict[str, dict[str, Any]] | None = None  # endpoint id -> send box values (controller pages)
    link: str | None = None
    download: dict[str, Any] | None = None  # the Download form's preselection


class Action(NamedTuple):
    key: str
    label: Words
    run: Callable[[Lab, Ids, Any], Result]


class Lesson(NamedTuple):
    n: int
    key: str
    view: str  # the view that shows the point: log | ladder | split | numbers | compare
    text: dict[str, dict[str, str]]  # {"en": {"title", "do", "see"}, "zh": {...}}
    build: Callable[[Lab], Built]
    actions: tuple[Action, ...]

    def summary(self) -> dict[str, Any]:
        """The lesson as the menu needs it (GET /api/session "lessons")."""
        return {"n": self.n, "key": self.key, "view": self.view, "text": self.text,
                "actions": [{"key": a.key, "label": a.label} for a in self.actions]}


def _text(title: Words, do: Words, see: Words) -> dict[str, dict[str, str]]:
    return {lang: {"title": title[lang], "do": do[lang], "see": see[lang]} for lang in ("en", "zh")}


# -- what lessons do with the lab -----------------------------------------------------------------

def _make(lab: Lab, **spec: Any) -> str:
    return lab.create(spec).id


def _port(lab: Lab, ep_id: str) -> int:
    local = lab.endpoint(ep_id).local
    assert local is not None  # a server is bound once made
    return local[1]


def _clients(lab: Lab, server: str, count: int, **spec: Any) -> list[str]:
    """`count` TCP clients of `server`, returned once the server has accepted them all: a client's
    connect() returns before the server's accept(), and a lesson's next step (stop listening, a relayed
    line) must not depend on which came first."""
    endpoint = lab.endpoint(server)
    assert isinstance(endpoint, TcpServer)
    before = endpoint.accepted
    clients = [_make(lab, kind="tcp-client", port=_port(lab, server), **spec) for _ in range(count)]
    endpoint.wait_accepted(before + count, ACCEPT_WAIT)
    return clients


def _send(lab: Lab, ep_id: str, **body: Any) -> Result:
    lab.send(ep_id, body)
    return {"ok": True}


def _big_file(lab: Lab) -> str | None:
    """A sample file worth watching arrive: the 1 MiB one when the folder has it."""
    sizes = {str(f["name"]): int(str(f["size"])) for f in lab.files.listing()}
    if "random-1MB.bin" in sizes:
        return "random-1MB.bin"
    return max(sizes, key=lambda name: sizes[name]) if sizes else None


# -- 1. TCP echo --------------------------------------------------------------------------------

def _build_echo(lab: Lab) -> Built:
    server = _make(lab, kind="tcp-server", port=0, mode="echo")
    [client] = _clients(lab, server, 1)  # accepted before "Send hello": connect, accept, then the data
    return Built({"server": server, "client": client}, prefill={client: {"data": "hello"}})


# -- 2. many clients ------------------------------------------------------------------------------

def _build_clients(lab: Lab) -> Built:
    server = _make(lab, kind="tcp-server", port=0, mode="echo")
    clients = _clients(lab, server, 3)
    return Built({"server": server, "clients": clients},
                 prefill={c: {"data": f"client {i}"} for i, c in enumerate(clients, 1)})


def _one_more(lab: Lab, ids: Ids, _: Any) -> Result:
    ids["clients"] += _clients(lab, ids["server"], 1)
    return {"ok": True}


def _send_all(lab: Lab, ids: Ids, _: Any) -> Result:
    for i, client in enumerate(ids["clients"], 1):
        lab.send(client, {"data": f"client {i}"})
    return {"ok": True}


# -- 3. stop listening vs stop --------------------------------------------------------------------

def _build_stop(lab: Lab) -> Built:
    server = _make(lab, kind="tcp-server", port=0, mode="echo")
    first, second = _clients(lab, server, 2)  # both accepted before "Stop listening" can be pressed
    return Built({"server": server, "port": _port(lab, server), "first": first, "second": second},
                 prefill={first: {"data": "still here?"}})


def _try_client(lab: Lab, ids: Ids, _: Any) -> Result:
    """A new client after stop-listening: refused, which is the point (an answer, not an error)."""
    try:
        ids.setdefault("tried", []).append(_make(lab, kind="tcp-client", port=ids["port"]))
    except Refused as exc:
        # `cause`: the refusal as data, so a page words it in its own language
        return {"ok": True, "code": "lesson-refused", "params": {"reason": str(exc)},
                "cause": {"code": exc.code, "params": exc.params}}
    return {"ok": True, "code": "lesson-accepted", "params": {}}


def _stop_listening(lab: Lab, ids: Ids, _: Any) -> Result:
    lab.stop_listening(ids["server"])
    return {"ok": True}


def _stop_server(lab: Lab, ids: Ids, _: Any) -> Result:
    lab.remove(ids["server"])
    return {"ok": True}


# -- 4. sticky packets ----------------------------------------------------------------------------

def _build_sticky(lab: Lab) -> Built:
    # the two servers first, so their cards sit side by side; both read slowly, as a busy program does
    raw = _make(lab, kind="tcp-server", port=0, mode="manual", recv_delay_ms=SLOW_READER_MS)
    line = _make(lab, kind="tcp-server", port=0, mode="manual", framing="line", recv_delay_ms=SLOW_READER_MS)
    [raw_client] = _clients(lab, raw, 1)
    [line_client] = _clients(lab, line, 1, framing="line")
    box = {"data": "hello", "repeat": 20, "interval": 0, "numbered": True}
    return Built({"raw": raw, "line": line, "rawClient": raw_client, "lineClient": line_client},
                 prefill={raw_client: box, line_client: box})


def _burst(lab: Lab, ids: Ids, _: Any) -> Result:
    lab.send(ids["rawClient"], BURST)
    lab.send(ids["lineClient"], BURST)
    return {"ok": True}


# -- 5. file download -----------------------------------------------------------------------------

def _build_files(lab: Lab) -> Built:
    file = _big_file(lab)
    if file is None:
        raise Refused("lesson-no-files")
    raw = _make(lab, kind="tcp-server", port=0, mode="file", file=file)
    framed = _make(lab, kind="tcp-server", port=0, mode="files", protocol="framed")
    return Built({"raw": raw, "framed": framed, "file": file},
                 download={"server": framed, "file": file, "protocol": "framed"})


def _download(protocol: str) -> Callable[[Lab, Ids, Any], Result]:
    def run(lab: Lab, ids: Ids, _: Any) -> Result:
        server = lab.endpoint(ids[protocol])
        assert server.local is not None
        body: dict[str, Any] = {"host": server.local[0], "port": server.local[1], "protocol": protocol}
        if protocol == "framed":
            body["file"] = ids["file"]
        ids.setdefault("downloads", []).append(lab.start_download(body).id)
        return {"ok": True}
    return run


# -- 6. relay chat ----------------------------------------------------------------------------------

def _build_relay(lab: Lab) -> Built:
    server = _make(lab, kind="tcp-server", port=0, mode="relay", framing="line")
    clients = _clients(lab, server, 3, framing="line")  # the relay knows all three before anyone sends
    first = "hello, class!"
    return Built({"server": server, "clients": clients},
                 prefill={c: {"data": first if i == 1 else f"hi from client {i}"} for i, c in enumerate(clients, 1)})


def _relay_first(lab: Lab, ids: Ids, _: Any) -> Result:
    return _send(lab, ids["clients"][0], data="hello, class!")


# -- 7. HTTP by hand --------------------------------------------------------------------------------

def _build_http(lab: Lab) -> Built:
    server = _make(lab, kind="tcp-server", port=0, mode="http")
    local = lab.endpoint(server).local
    assert local is not None
    host, port = local
    shown = f"[{host}]" if ":" in host else host
    return Built({"server": server}, link=f"http://{shown}:{port}/")


def _get_by_hand(lab: Lab, ids: Ids, _: Any) -> Result:
    local = lab.endpoint(ids["server"]).local
    assert local is not None
    client = _make(lab, kind="tcp-client", host=local[0], port=local[1])
    ids.setdefault("clients", []).append(client)
    return _send(lab, client, data=HTTP_GET)


# -- 8. UDP vs TCP under loss -----------------------------------------------------------------------

COMPARE_FIELDS = {"loss": (0, 100), "duplicate": (0, 100), "reorder": (0, 100), "seed": (-(2**31), 2**31),
                  "count": (1, 1000), "interval": (0, 2000)}
COMPARE_DEFAULTS = {"loss": 20, "duplicate": 5, "reorder": 10, "seed": 1, "count": 30, "interval": 50}


def compare_settings(body: Any) -> dict[str, int]:
    """The comparison's settings from a run body (defaults for what is left out), or a BadInput."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise BadInput("not-an-object", example='{"loss": 20, "seed": 1}')
    unknown = sorted(set(body) - set(COMPARE_FIELDS))
    if unknown:
        raise BadInput("unknown-field", kind="comparison run", field=str(unknown[0])[:40], fields=", ".join(COMPARE_FIELDS))
    settings = {}
    for name, (low, high) in COMPARE_FIELDS.items():
        value = body.get(name, COMPARE_DEFAULTS[name])
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise BadInput("number-out-of-range", field=name, low=low, high=high)
        settings[name] = int(value)
    return settings


def _compare_run(lab: Lab, ids: Ids, body: Any) -> Result:
    """One run: a TCP echo pair (line framing) and a UDP echo pair whose client goes through a
    seeded bad network, both sending the same numbered messages (the page tallies the echoes)."""
    s = compare_settings(body)
    for old in (ids.get("run") or {}).get("ids", {}).values():
        try:
            lab.remove(old)
        except LabError:
            pass  # already gone (stopped from its card)
    ids["run"] = None
    tcp_server = _make(lab, kind="tcp-server", port=0, mode="echo", framing="line")
    tcp_client = _make(lab, kind="tcp-client", port=_port(lab, tcp_server), framing="line")
    udp_server = _make(lab, kind="udp-server", port=0, mode="echo")
    impair = {"loss": s["loss"] / 100, "duplicate": s["duplicate"] / 100, "reorder": s["reorder"] / 100,
              "seed": s["seed"]}
    udp_client = _make(lab, kind="udp-client", port=_port(lab, udp_server), impair=impair)
    ids["run"] = {"ids": {"tcpServer": tcp_server, "tcpClient": tcp_client, "udpServer": udp_server,
                          "udpClient": udp_client}, "settings": s, "started": time.time()}
    burst = {"data": "ping", "repeat": s["count"], "interval_ms": s["interval"], "numbered": True}
    lab.send(tcp_client, burst)
    lab.send(udp_client, burst)
    return {"ok": True}


def _build_compare(lab: Lab) -> Built:
    return Built({"run": None})


# -- 9. broadcast -----------------------------------------------------------------------------------

def _build_broadcast(lab: Lab) -> Built:
    first = _make(lab, kind="udp-server", host=BROADCAST, port=0, mode="manual")
    port = _port(lab, first)
    servers = [first] + [_make(lab, kind="udp-server", host=BROADCAST, port=port, mode="manual") for _ in range(2)]
    client = _make(lab, kind="udp-client", host=BROADCAST, port=port, broadcast=True)
    return Built({"servers": servers, "client": client}, prefill={client: {"data": "hello, everyone"}})


def _broadcast(lab: Lab, ids: Ids, _: Any) -> Result:
    return _send(lab, ids["client"], data="hello, everyone")


# -- the registry -----------------------------------------------------------------------------------

def _act(key: str, en: str, zh: str, run: Callable[[Lab, Ids, Any], Result]) -> Action:
    return Action(key, {"en": en, "zh": zh}, run)


SEND_FIRST = ("sendFirst", "Send from client 1", "从客户端 1 发送")

LESSONS: dict[int, Lesson] = {lesson.n: lesson for lesson in (
    Lesson(1, "echo", "ladder", _text(
        {"en": "TCP echo", "zh": "TCP 回显"},
        {"en": "Press “Send hello” (or type in the client's box and press Send).",
         "zh": "点击“发送 hello”（或在客户端的输入框中输入文字后点击发送）。"},
        {"en": "connect → accept, then send → recv on each side: the server sends back exactly what it got.",
         "zh": "connect → accept，然后两端各自 send → recv：服务器原样发回收到的内容。"}),
        _build_echo, (_act("sendHello", "Send hello", "发送 hello",
                           lambda lab, ids, _: _send(lab, ids["client"], data="hello")),)),
    Lesson(2, "clients", "ladder", _text(
        {"en": "Many clients, one server", "zh": "一个服务器，多个客户端"},
        {"en": "Look at the lanes, then press “Connect one more client”.",
         "zh": "观察各条泳道，然后点击“再连接一个客户端”。"},
        {"en": "One listening socket, and one accepted socket per client (c1, c2, c3…), each with its own client port.",
         "zh": "只有一个监听套接字；每个客户端各有一个已接受的套接字（c1、c2、c3…），各自使用不同的客户端端口。"}),
        _build_clients, (_act("oneMore", "Connect one more client", "再连接一个客户端", _one_more),
                         _act("sendAll", "Send from every client", "每个客户端各发一次", _send_all))),
    Lesson(3, "stop", "ladder", _text(
        {"en": "Stop listening vs stop", "zh": "停止监听 与 停止"},
        {"en": "Press “Stop listening”, then “Try a new client”, then “Send from client 1”, and last “Stop the server”.",
         "zh": "依次点击“停止监听”、“尝试新客户端”、“从客户端 1 发送”，最后点击“停止服务器”。"},
        {"en": "New clients are refused, but c1 and c2 still echo. Stop closes every socket: the clients' recv() returns 0.",
         "zh": "新客户端被拒绝，但 c1 和 c2 仍然回显。停止会关闭所有套接字：客户端的 recv() 返回 0。"}),
        _build_stop, (_act("stopListening", "Stop listening", "停止监听", _stop_listening),
                      _act("newClient", "Try a new client", "尝试新客户端", _try_client),
                      _act(*SEND_FIRST, lambda lab, ids, _: _send(lab, ids["first"], data="still here?")),
                      _act("stopServer", "Stop the server", "停止服务器", _stop_server))),
    Lesson(4, "sticky", "numbers", _text(
        {"en": "Sticky packets and framing", "zh": "粘包与分帧"},
        {"en": f"Press “Send the burst on both”: each client calls send() 20 times, back to back. "
               f"Both servers read slowly (every {SLOW_READER_MS} ms), like a busy program.",
         "zh": f"点击“两个客户端同时连发”：每个客户端连续调用 20 次 send()。"
               f"两个服务器都读得慢（每 {SLOW_READER_MS} 毫秒读一次），就像一个忙碌的程序。"},
        {"en": "The receiver reads more slowly than the sender sends, so the bytes pile up: the raw server gets "
               "fewer recv() than send(), the messages glued together. Line framing: the same few recv(), "
               "and all 20 messages back.",
         "zh": "发送和接收速度不匹配：接收方读得比发送方发得慢，字节堆积在缓冲区里。原始服务器的 recv() 比 send() 少，"
               "消息粘在一起。按行分帧：同样只有几次 recv()，却还原出全部 20 条消息。"}),
        _build_sticky, (_act("burst", "Send the burst on both", "两个客户端同时连发", _burst),)),
    Lesson(5, "files", "log", _text(
        {"en": "File download: raw vs framed", "zh": "文件下载：原始 与 带帧头"},
        {"en": "Press “Download raw”, then “Download framed” (the Download form is filled in too).",
         "zh": "点击“原始下载”，再点击“带帧头下载”（下载表单也已填好）。"},
        {"en": "Raw: bytes until the server closes, nothing to check them against. Framed: OK <size> <sha256> first, "
               "a progress bar, “checksum verified”.",
         "zh": "原始：一直读到服务器关闭，无从核对。带帧头：先收到 OK <大小> <sha256>，有进度条，并显示“校验和已验证”。"}),
        _build_files, (_act("downloadRaw", "Download raw", "原始下载", _download("raw")),
                       _act("downloadFramed", "Download framed", "带帧头下载", _download("framed")))),
    Lesson(6, "relay", "ladder", _text(
        {"en": "Relay chat", "zh": "中继聊天"},
        {"en": "Press “Send from client 1”, then type in the other clients' boxes.",
         "zh": "点击“从客户端 1 发送”，然后在其他客户端的输入框中输入。"},
        {"en": "The server relays each line to all the other clients (a relay event); the sender does not get its own "
               "line back.",
         "zh": "服务器把每一行中继给其他所有客户端（relay 事件）；发送者自己收不到这一行。"}),
        _build_relay, (_act(*SEND_FIRST, _relay_first),)),
    Lesson(7, "http", "log", _text(
        {"en": "HTTP by hand", "zh": "手写 HTTP"},
        {"en": "Open the link in a new tab, then press “Send GET / by hand”.",
         "zh": "在新标签页中打开链接，然后点击“手动发送 GET /”。"},
        {"en": "A request is plain text on a socket (http events); the answer is a text header, a blank line, the "
               "page, then close().",
         "zh": "请求就是套接字上的纯文本（http 事件）；应答是文本头部、一个空行、网页，然后 close()。"}),
        _build_http, (_act("getByHand", "Send GET / by hand", "手动发送 GET /", _get_by_hand),)),
    Lesson(8, "compare", "compare", _text(
        {"en": "UDP vs TCP under loss", "zh": "丢包时的 UDP 与 TCP"},
        {"en": "In the panel press Run; run it again with the same seed; then change the seed.",
         "zh": "在面板中点击运行；用同一个种子再运行一次；然后换一个种子。"},
        {"en": "TCP: every message, in order. UDP: lost, duplicated and reordered datagrams, the same ones on every "
               "run with the same seed.",
         "zh": "TCP：每条消息都按顺序到达。UDP：有丢包、重复和乱序，而且同一个种子每次都是同样的那几个。"}),
        _build_compare, (_act("run", "Run", "运行", _compare_run),)),
    Lesson(9, "broadcast", "log", _text(
        {"en": "Broadcast", "zh": "广播"},
        {"en": "Press “Broadcast one datagram”.", "zh": "点击“广播一个数据报”。"},
        {"en": "One sendto() to 127.255.255.255 reaches all three servers sharing the port; without SO_BROADCAST the "
               "OS refuses.",
         "zh": "一次 sendto() 发往 127.255.255.255，共享同一端口的三个服务器全部收到；没有 SO_BROADCAST 时操作系统会拒绝。"}),
        _build_broadcast, (_act("broadcast", "Broadcast one datagram", "广播一个数据报", _broadcast),)),
)}


def lesson(n: Any) -> Lesson:
    """The lesson numbered `n`, or a BadInput sentence."""
    if isinstance(n, bool) or not isinstance(n, int) or n not in LESSONS:
        raise BadInput("no-such-lesson", low=min(LESSONS), high=max(LESSONS))
    return LESSONS[n]
