"""The page speaks Chinese all the way down: after a full lesson (echo, sticky packets, file
download, HTTP, broadcast, a refused connect, a reset), no English sentence is left anywhere on
the page, in the log, its detail panel and the diagram included. Screenshots go to test-artifacts/."""

from __future__ import annotations

import socket
import struct
import urllib.request
from pathlib import Path
from typing import Any

from ..support import wait_until
from .test_classroom import lab_of, show
from .test_lessons import SHOTS, start_lesson
from .ui import expect, log_rows

ROOT = Path(__file__).resolve().parents[2]

# Latin words the Chinese page may show: socket calls (written with their parentheses) and
# constants, errno and TCP state names (all capitals), protocol names, ids (e1, c2, d1), hex,
# file names, and what users typed (previews sit in .col-text/.col-hex and “quotes”).
LATIN_LEFT = """roots => {
  const allowed = /^(TCP|UDP|HTTP|IP|FIN|RST|SYN|ACK|GET|OK|Socket|Lab|JSON|Lines|CSV|UTF|GBK|Latin|Esc|MB|kB|GB|B|µs|ms|[A-Z][A-Z0-9_]+|[ecd]\\d+|[0-9a-f]+|[ptnfl])$/;
  const found = [];
  for (const root of roots) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!el || !el.checkVisibility() || el.closest("script, style, option, .col-text, .col-hex, .detail-text, .detail-hex, .dl-file, [data-testid=download-file], [data-testid=code-text]")) continue;
      const text = node.textContent
        .replace(/“[^”]*”|"[^"]*"/g, "")              // user payloads and file names, quoted
        .replace(/[A-Za-z_]+\\([^()]*\\)/g, "")        // socket calls: recv(65536), sendall()
        .replace(/[\\w.-]+\\.(txt|bin|html|png|jpg|csv|jsonl|py)\\b/g, "") // file names
        .replace(/\\[?[0-9a-f:.]+\\]?:\\d+/g, "")          // addresses
        .replace(/https?:\\/\\/\\S+/g, "")
        .replace(/HTTP\\/1\\.[01]|\\/\\S*/g, "");       // versions and paths of HTTP requests
      for (const word of text.match(/[A-Za-z][A-Za-z_0-9]*/g) || []) {
        if (!allowed.test(word)) found.push(`${word} in: ${el.outerHTML.slice(0, 160)}`);
      }
    }
  }
  return found;
}"""


def free_port() -> int:
    """A loopback port nobody listens on (bound, then closed: a connect there is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def english_left(page: Any) -> list[str]:
    return page.locator("body").evaluate_all(LATIN_LEFT)


def test_a_full_lesson_in_chinese_leaves_no_english(open_page: Any, live_server: Any) -> None:
    page = open_page()
    page.get_by_test_id("lang-select").select_option("zh")
    lab = lab_of(live_server)

    banner = start_lesson(page, 1)  # echo
    show(page, "split")  # the lesson opens its own view; the log is read here too
    banner.get_by_test_id("lesson-action").first.click()
    expect(log_rows(page, "recv", "e2", 5)).to_have_count(1)

    banner = start_lesson(page, 4)  # sticky packets
    show(page, "split")  # the lesson opens its own view; the log is read here too
    banner.get_by_test_id("lesson-action").first.click()
    expect(log_rows(page, "message").first).to_be_visible()

    banner = start_lesson(page, 5)  # file download, raw and framed
    for i in range(2):
        banner.get_by_test_id("lesson-action").nth(i).click()
    downloads = page.get_by_test_id("download-state")
    expect(downloads).to_have_count(2)
    for i in range(2):
        expect(downloads.nth(i)).to_have_attribute("data-state", "done")

    banner = start_lesson(page, 7)  # HTTP on a raw socket
    server = next(ep for ep in lab.endpoints.values() if ep.mode == "http")
    with urllib.request.urlopen(f"http://127.0.0.1:{server.local[1]}/", timeout=5) as answer:
        assert answer.status == 200
    expect(log_rows(page, "http").first).to_be_visible()

    banner = start_lesson(page, 9)  # broadcast
    show(page, "split")  # the lesson opens its own view; the log is read here too
    before = lab.bus.last_seq
    banner.get_by_test_id("lesson-action").first.click()
    wait_until(lambda: any(e.seq > before and e.proto == "udp" and e.kind in ("send", "error")
                           for e in lab.bus.since(before, 1000)[0]))

    # a refused connect: the API answers 409, the log has the error event
    refused = page.request.post(f"{live_server.url}/api/endpoints",
                                data={"kind": "tcp-client", "host": "127.0.0.1", "port": free_port()})
    assert refused.status == 409
    expect(log_rows(page, "error").first).to_be_visible()

    # a reset: a plain client with SO_LINGER 0 closes with RST
    echo = lab.create({"kind": "tcp-server", "host": "127.0.0.1", "port": 0, "mode": "echo"})
    rude = socket.create_connection(("127.0.0.1", echo.local[1]), timeout=5)
    wait_until(lambda: echo.connections)
    rude.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    rude.close()
    wait_until(lambda: any(e.kind == "close" and e.endpoint == echo.id and e.closed_by == "reset"
                           for e in lab.bus.since(0, 100_000)[0]))
    expect(page.locator(f'[data-testid="event-row"][data-kind="close"][data-endpoint="{echo.id}"]')).to_have_count(1)

    SHOTS.mkdir(parents=True, exist_ok=True)
    for view in ("log", "ladder", "numbers", "split"):
        show(page, view)
        if view == "log":
            log_rows(page, "close", echo.id).click()  # the detail panel too
            expect(page.get_by_test_id("detail-call")).to_contain_text("重置")
        page.screenshot(path=str(SHOTS / f"zh-lesson-{view}.png"))
        left = english_left(page)
        assert left == [], f"{view}: English left on the Chinese page:\n" + "\n".join(left[:40])
    # the walk can fail: the same page in English is full of words it does not allow
    page.get_by_test_id("lang-select").select_option("en")
    expect(page.get_by_test_id("detail-call")).to_contain_text("reset")
    assert len(english_left(page)) > 50
