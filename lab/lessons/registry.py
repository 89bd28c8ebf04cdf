"""The one registry of lessons: each lesson's number, view, words in both languages and buttons, as data.

A lesson is built by the lab itself (lab/stage.py runs it), not by a page: so every page, a reload,
a second tab and a viewer see the same sockets, and a test can run a lesson ten times in a row.
Each lesson names the view that shows its point, its words in both languages, and its actions
(the banner's buttons); what each build and action does with the lab is lab/lessons/steps.py.

Timing is never left to chance where the point depends on it: the sticky-packet lesson gives its
servers a slow reader (`recv_delay_ms`), the real cause the tutorials name for glued messages
(发送和接收速度不匹配: the receiver reads more slowly than the sender sends).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from ..errors import BadInput
from .steps import (SLOW_READER_MS, Built, Ids, Result, broadcast, build_broadcast, build_clients,
                           build_compare, build_echo, build_files, build_http, build_relay, build_sticky,
                           build_stop, burst, compare_run, download, get_by_hand, one_more, relay_first,
                           send_from, send_all, stop_listening, stop_server, try_client)
from .wire import (build_close, build_handshake, build_loss, build_mss, build_reset, client_closes, close_unread,
                          connect_closed, handshake_connect, loss_run, send_big, server_closes)

if TYPE_CHECKING:
    from ..core import Lab

Words = dict[str, str]  # {"en": ..., "zh": ...}

VIEWS = ("log", "ladder", "split", "numbers", "compare")
NEEDS = (None, "capture", "link")  # what a lesson needs beyond sockets: the capture (packets), or real loss
IMPAIRMENTS = (None, "seeded", "link")  # the loss a lesson uses: the lab's seeded UDP impairment, or the kernel's


class Action(NamedTuple):
    key: str
    label: Words
    run: Callable[[Lab, Ids, Any], Result]


class Point(NamedTuple):
    """What carries a lesson's point on screen, as data the page reads (GET /api/session "lessons", the
    stage's lesson): `rows`, the event kinds whose rows (of the diagram, the log) must be in view after
    the lesson's buttons, so the newest rows give way to them; `cards`, the kinds of card whose chips
    come first in the projector's chip row (a chip row that is full hides the others, never these)."""
    rows: tuple[str, ...]
    cards: tuple[str, ...] = ()

    def to_json(self) -> dict[str, list[str]]:
        return {"rows": list(self.rows), "cards": list(self.cards)}


class Lesson(NamedTuple):
    n: int
    key: str
    view: str  # the view that shows the point: log | ladder | split | numbers | compare
    text: dict[str, dict[str, str]]  # {"en": {"title", "do", "see"}, "zh": {...}}
    build: Callable[[Lab], Built]
    actions: tuple[Action, ...]
    # Without capture a "capture" lesson still runs (its socket calls show, the packets do not, and the
    # session's why-not sentence says so); a "link" lesson refuses to build, with the reason as its error.
    needs: str | None = None
    impairment: str | None = None  # the page says which loss a lesson uses: "seeded" (reproducible) or "link" (real)
    point: Point = Point(())

    @property
    def packets(self) -> bool:
        """Does the page draw packets in this lesson? Only in the wire lessons: elsewhere the socket calls are
        the point, and a capturing lab's packets would push them off the screen (the reader may still show them)."""
        return self.needs is not None

    def summary(self) -> dict[str, Any]:
        """The lesson as the menu needs it (GET /api/session "lessons")."""
        return {"n": self.n, "key": self.key, "view": self.view, "text": self.text, "needs": self.needs,
                "impairment": self.impairment, "point": self.point.to_json(), "packets": self.packets,
                "actions": [{"key": a.key, "label": a.label} for a in self.actions]}


def _text(title: Words, do: Words, see: Words) -> dict[str, dict[str, str]]:
    return {lang: {"title": title[lang], "do": do[lang], "see": see[lang]} for lang in ("en", "zh")}


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
        build_echo, (_act("sendHello", "Send hello", "发送 hello",
                           lambda lab, ids, _: send_from(lab, ids["client"], data="hello")),),
        point=Point(("send", "recv"))),
    Lesson(2, "clients", "ladder", _text(
        {"en": "Many clients, one server", "zh": "一个服务器，多个客户端"},
        {"en": "Look at the lanes, then press “Connect one more client”.",
         "zh": "观察各条泳道，然后点击“再连接一个客户端”。"},
        {"en": "One listening socket, and one accepted socket per client (c1, c2, c3…), each with its own client port.",
         "zh": "只有一个监听套接字；每个客户端各有一个已接受的套接字（c1、c2、c3…），各自使用不同的客户端端口。"}),
        build_clients, (_act("oneMore", "Connect one more client", "再连接一个客户端", one_more),
                         _act("sendAll", "Send from every client", "每个客户端各发一次", send_all)),
        point=Point(("connect", "accept"))),
    Lesson(3, "stop", "ladder", _text(
        {"en": "Stop listening vs stop", "zh": "停止监听 与 停止"},
        {"en": "Press “Stop listening”, then “Try a new client”, then “Send from client 1”, and last “Stop the server”.",
         "zh": "依次点击“停止监听”、“尝试新客户端”、“从客户端 1 发送”，最后点击“停止服务器”。"},
        {"en": "New clients are refused, but c1 and c2 still echo. Stop closes every socket: the clients' recv() returns 0.",
         "zh": "新客户端被拒绝，但 c1 和 c2 仍然回显。停止会关闭所有套接字：客户端的 recv() 返回 0。"}),
        build_stop, (_act("stopListening", "Stop listening", "停止监听", stop_listening),
                      _act("newClient", "Try a new client", "尝试新客户端", try_client),
                      _act(*SEND_FIRST, lambda lab, ids, _: send_from(lab, ids["first"], data="still here?")),
                      _act("stopServer", "Stop the server", "停止服务器", stop_server)),
        point=Point(("refuse", "close"))),
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
        build_sticky, (_act("burst", "Send the burst on both", "两个客户端同时连发", burst),),
        point=Point(("message",))),
    Lesson(5, "files", "log", _text(
        {"en": "File download: raw vs framed", "zh": "文件下载：原始 与 带帧头"},
        {"en": "Press “Download raw”, then “Download framed” (the Download form is filled in too).",
         "zh": "点击“原始下载”，再点击“带帧头下载”（下载表单也已填好）。"},
        {"en": "Raw: bytes until the server closes, nothing to check them against. Framed: OK <size> <sha256> first, "
               "a progress bar, “checksum verified”.",
         "zh": "原始：一直读到服务器关闭，无从核对。带帧头：先收到 OK <大小> <sha256>，有进度条，并显示“校验和已验证”。"}),
        build_files, (_act("downloadRaw", "Download raw", "原始下载", download("raw")),
                       _act("downloadFramed", "Download framed", "带帧头下载", download("framed"))),
        point=Point(("header", "done"), cards=("download",))),
    Lesson(6, "relay", "ladder", _text(
        {"en": "Relay chat", "zh": "中继聊天"},
        {"en": "Press “Send from client 1”, then type in the other clients' boxes.",
         "zh": "点击“从客户端 1 发送”，然后在其他客户端的输入框中输入。"},
        {"en": "The server relays each line to all the other clients (a relay event); the sender does not get its own "
               "line back.",
         "zh": "服务器把每一行中继给其他所有客户端（relay 事件）；发送者自己收不到这一行。"}),
        build_relay, (_act(*SEND_FIRST, relay_first),), point=Point(("relay", "recv"))),
    Lesson(7, "http", "log", _text(
        {"en": "HTTP by hand", "zh": "手写 HTTP"},
        {"en": "Open the link in a new tab, then press “Send GET / by hand”.",
         "zh": "在新标签页中打开链接，然后点击“手动发送 GET /”。"},
        {"en": "A request is plain text on a socket (http events); the answer is a text header, a blank line, the "
               "page, then close().",
         "zh": "请求就是套接字上的纯文本（http 事件）；应答是文本头部、一个空行、网页，然后 close()。"}),
        build_http, (_act("getByHand", "Send GET / by hand", "手动发送 GET /", get_by_hand),),
        point=Point(("http", "recv"))),
    Lesson(8, "compare", "compare", _text(
        {"en": "UDP vs TCP under loss", "zh": "丢包时的 UDP 与 TCP"},
        {"en": "In the panel press Run; run it again with the same seed; then change the seed.",
         "zh": "在面板中点击运行；用同一个种子再运行一次；然后换一个种子。"},
        {"en": "TCP: every message, in order. UDP: lost, duplicated and reordered datagrams, the same ones on every "
               "run with the same seed.",
         "zh": "TCP：每条消息都按顺序到达。UDP：有丢包、重复和乱序，而且同一个种子每次都是同样的那几个。"}),
        build_compare, (_act("run", "Run", "运行", compare_run),), impairment="seeded"),
    Lesson(9, "broadcast", "log", _text(
        {"en": "Broadcast", "zh": "广播"},
        {"en": "Press “Broadcast one datagram”.", "zh": "点击“广播一个数据报”。"},
        {"en": "One sendto() to 127.255.255.255 reaches all three servers sharing the port; without SO_BROADCAST the "
               "OS refuses.",
         "zh": "一次 sendto() 发往 127.255.255.255，共享同一端口的三个服务器全部收到；没有 SO_BROADCAST 时操作系统会拒绝。"}),
        build_broadcast, (_act("broadcast", "Broadcast one datagram", "广播一个数据报", broadcast),),
        point=Point(("send", "recv"))),
    Lesson(10, "handshake", "ladder", _text(
        {"en": "The three-way handshake", "zh": "三次握手"},
        {"en": "Press “Connect a client”, and watch the thin packet arrows under connect() and accept().",
         "zh": "点击“连接一个客户端”，观察 connect() 和 accept() 下方的细箭头（数据包）。"},
        {"en": "Before connect() returns, three packets: SYN (client → server), SYN,ACK (server → client), ACK. "
               "accept() only hands over a connection the kernel has already made.",
         "zh": "connect() 返回之前有三个数据包：SYN（客户端 → 服务器）、SYN,ACK（服务器 → 客户端）、ACK。"
               "accept() 只是交出内核已经建立好的连接。"}),
        build_handshake, (_act("connect", "Connect a client", "连接一个客户端", handshake_connect),), needs="capture",
        point=Point(("packet", "connect"))),
    Lesson(11, "close", "ladder", _text(
        {"en": "The four-way close and TIME_WAIT", "zh": "四次挥手与 TIME_WAIT"},
        {"en": "Press “Client closes first”, then “Server closes first”.",
         "zh": "点击“客户端先关闭”，然后点击“服务器先关闭”。"},
        {"en": "After close(): FIN, ACK one way, FIN, ACK the other. The side that closed first keeps its socket in "
               "TIME_WAIT (about 60 s), read from the kernel's own table.",
         "zh": "close() 之后：一个方向 FIN、ACK，另一个方向 FIN、ACK。先关闭的一方，其套接字会停留在 TIME_WAIT"
               "（约 60 秒），这是从内核自己的表里读出来的。"}),
        build_close, (_act("clientCloses", "Client closes first", "客户端先关闭", client_closes),
                      _act("serverCloses", "Server closes first", "服务器先关闭", server_closes)), needs="capture",
        point=Point(("close", "packet"))),
    Lesson(12, "reset", "ladder", _text(
        {"en": "RST: the connection refused, and the abrupt close", "zh": "RST：拒绝连接与强行关闭"},
        {"en": "Press “Connect to a closed port”, then “Close with unread data”.",
         "zh": "点击“连接一个关闭的端口”，然后点击“带着未读数据关闭”。"},
        {"en": "No listener: the SYN gets an RST back, connect() fails. A server that closes with bytes it never "
               "read sends RST, not FIN: the client's connection is reset.",
         "zh": "没有监听者：SYN 换来一个 RST，connect() 失败。服务器带着从未读取的字节关闭时，发出的是 RST 而不是 FIN："
               "客户端的连接被重置。"}),
        build_reset, (_act("connectClosed", "Connect to a closed port", "连接一个关闭的端口", connect_closed),
                      _act("closeUnread", "Close with unread data", "带着未读数据关闭", close_unread)), needs="capture",
        point=Point(("error", "packet"))),
    Lesson(13, "mss", "ladder", _text(
        {"en": "A send larger than the MSS", "zh": "大于 MSS 的一次发送"},
        {"en": "Press “Send 200 000 bytes”: one send() call.", "zh": "点击“发送 200 000 字节”：只调用一次 send()。"},
        {"en": "One send(), several segments on the wire, each small enough for the path's MTU (65 536 bytes on "
               "loopback; on Ethernet 1 500, an MSS of about 1 460); the server's recv() calls return pieces of "
               "their own size.",
         "zh": "一次 send()，线路上却是好几个报文段，每个都放得进路径的 MTU（回环接口上是 65 536 字节；以太网上是 1 500，"
               "MSS 约 1 460）；服务器的 recv() 返回的块大小又各不相同。"}),
        build_mss, (_act("sendBig", "Send 200 000 bytes", "发送 200 000 字节", send_big),), needs="capture",
        point=Point(("send", "packet"))),
    Lesson(14, "loss", "compare", _text(
        {"en": "TCP vs UDP under real loss", "zh": "真实丢包下的 TCP 与 UDP"},
        {"en": "Press Run: 200 numbered messages over TCP and over UDP, on a link whose kernel drops 20% of packets.",
         "zh": "点击运行：在内核丢弃 20% 数据包的链路上，分别用 TCP 和 UDP 发送 200 条编号消息。"},
        {"en": "UDP: some messages never arrive, counted on both sides. TCP: every one, in order, at the cost of "
               "retransmitted segments (marked on the wire, and counted in TCP_INFO) and extra time.",
         "zh": "UDP：有些消息始终没有到达，两端都计了数。TCP：每条都按顺序到达，代价是重传的报文段"
               "（在线路上有标记，也记在 TCP_INFO 里）和多花的时间。"}),
        build_loss, (_act("run", "Run", "运行", loss_run),), needs="link", impairment="link"),
)}


def lesson(n: Any) -> Lesson:
    """The lesson numbered `n`, or a BadInput sentence."""
    if isinstance(n, bool) or not isinstance(n, int) or n not in LESSONS:
        raise BadInput("no-such-lesson", low=min(LESSONS), high=max(LESSONS))
    return LESSONS[n]
