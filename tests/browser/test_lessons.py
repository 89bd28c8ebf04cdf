"""The Lessons menu: each preset makes its step's sockets in one click, and the class sees what
docs/lessons.md promises. The screenshots of docs/lessons.md are taken here, at 1280x720."""

from __future__ import annotations

from typing import Any

import pytest

from lab.sockets.impair import Impairer
from lab.spec import ImpairSpec

from ..conftest import LOCAL_AGENT, RUNNERS
from .test_classroom import show
from .ui import card, expect, log_rows, port_of, screenshots

# whatever runs the lab, each lesson makes its point the same: every test runs embedded and over an agent
pytestmark = pytest.mark.parametrize("app", RUNNERS, indirect=True)

# Written to test-artifacts/ on every run; SOCKETLAB_SCREENSHOTS=docs/screenshots refreshes the docs'.
SHOTS = screenshots("lessons")


# The page asks before a new stage closes sockets (skipped when none is open): whichever comes first,
# the confirmation or the next stage's banner.
CONFIRM_OR_NEW_STAGE = """before => document.getElementById("stage-confirm").open
  || (document.getElementById("lesson-banner").dataset.stage || "") !== before"""


SUFFIX = {"embedded": "", "agent": f"@{LOCAL_AGENT}"}  # what ids end in, by what runs the lab
_this = {"suffix": ""}  # the suffix of the lab the running test is on (set by the fixture below)


@pytest.fixture(autouse=True)
def _ids_of_this_lab(request: pytest.FixtureRequest) -> None:
    """Lessons make the same sockets on every lab; an agent's ids end in "@<agent>" (CONTRACT)."""
    _this["suffix"] = SUFFIX[request.node.callspec.params.get("app", "embedded")]


def i(ep_id: str) -> str:
    """The id `ep_id` ("e1", "d1") has on the lab this test runs on."""
    return ep_id + _this["suffix"]


def start_lesson(page: Any, n: int) -> Any:
    """Open the Lessons menu and click lesson n (confirming when sockets would close); returns its
    banner once the server has made the lesson's sockets."""
    banner = page.get_by_test_id("lesson-banner")
    before = banner.get_attribute("data-stage") or ""
    page.get_by_test_id("lessons-button").click()
    page.locator(f'[data-testid="lesson-preset"][data-lesson="{n}"]').click()
    page.wait_for_function(CONFIRM_OR_NEW_STAGE, arg=before)
    if page.get_by_test_id("stage-confirm").is_visible():
        page.get_by_test_id("stage-ok").click()
    expect(banner).to_have_attribute("data-lesson", str(n))
    expect(banner).to_have_attribute("data-state", "ready")
    return banner


def action(banner: Any, label: str) -> Any:
    return banner.get_by_test_id("lesson-action").filter(has_text=label)


def shot(page: Any, name: str) -> None:
    """The docs' screenshot: the embedded lab's page (over an agent the same lesson is not taken again)."""
    if _this["suffix"]:
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"lesson-{name}.png"))


def test_menu_lists_the_fourteen_lessons_in_order(page: Any) -> None:
    page.get_by_test_id("lessons-button").click()
    items = page.get_by_test_id("lesson-preset")
    expect(items).to_have_count(14)  # the nine, then the five wire lessons (lab/lessons/registry.py)
    expect(items.first).to_contain_text("TCP echo")
    expect(items.nth(3)).to_contain_text("Sticky packets")
    expect(items.nth(7)).to_contain_text("UDP vs TCP under loss")
    expect(items.nth(8)).to_contain_text("Broadcast")
    expect(items.nth(9)).to_contain_text("The three-way handshake")
    expect(items.last).to_contain_text("TCP vs UDP under real loss")
    # which loss a lesson uses, and (this dashboard captures nothing) what the wire lessons lack here
    expect(items.nth(7).get_by_test_id("lesson-impairment")).to_have_text("seeded loss: the same every run")
    expect(items.last.get_by_test_id("lesson-impairment")).to_have_text("real loss, in the kernel")
    expect(items.nth(9).get_by_test_id("lesson-needs")).to_have_text("packets: sandbox only")
    expect(items.first.locator(".lesson-tag")).to_have_count(0)


def test_lesson_1_tcp_echo(page: Any) -> None:
    banner = start_lesson(page, 1)
    expect(page.get_by_test_id("classroom")).to_have_attribute("data-view", "ladder")  # the view lesson 1 names
    show(page, "split")  # the lesson opens the diagram; its log rows are read here too
    expect(banner).to_contain_text("The class sees")
    expect(card(page, i("e2")).get_by_test_id("send-data")).to_have_value("hello")
    action(banner, "Send hello").click()
    expect(log_rows(page, "recv", i("e1"), 5)).to_have_count(1)
    echo = log_rows(page, "recv", i("e2"), 5)
    expect(echo).to_have_count(1)
    expect(echo.locator(".col-text")).to_have_text("hello")
    counters = card(page, i("e2")).get_by_test_id("stream-counters")
    expect(counters).to_have_attribute("data-recvs", "1")
    expect(counters).to_have_attribute("data-peer-sends", "1")
    expect(card(page, i("e2")).get_by_test_id("stream-why")).to_have_count(0)  # one send, one recv: nothing glued
    shot(page, "1-echo")
    card(page, i("e1")).get_by_test_id("show-code").click()
    expect(page.get_by_test_id("code-panel")).to_have_attribute("data-state", "ready")
    expect(page.get_by_test_id("code-text")).to_contain_text("conn.sendall(data)")
    shot(page, "1-code")


def test_lesson_2_many_clients(page: Any) -> None:
    banner = start_lesson(page, 2)
    conns = card(page, i("e1")).get_by_test_id("connection")
    expect(conns).to_have_count(3)
    action(banner, "Connect one more client").click()
    expect(conns).to_have_count(4)
    peers = conns.get_by_test_id("connection-peer").all_inner_texts()
    assert len(set(peers)) == 4, "one accepted socket per client, each from its own port"
    expect(card(page, i("e1")).get_by_test_id("listener")).to_have_attribute("data-open", "true")


def test_lesson_3_stop_listening_versus_stop(page: Any) -> None:
    banner = start_lesson(page, 3)
    show(page, "split")  # the lesson opens the diagram; its log rows are read here too
    server = card(page, i("e1"))
    expect(server.get_by_test_id("connection")).to_have_count(2)
    action(banner, "Stop listening").click()
    expect(server.get_by_test_id("endpoint-state")).to_have_attribute("data-state", "not-listening")
    action(banner, "Try a new client").click()
    expect(banner.get_by_test_id("lesson-result")).to_contain_text("Refused, as expected")
    action(banner, "Send from client 1").click()
    expect(log_rows(page, "recv", i("e2"), 11)).to_have_count(1)  # "still here?" echoed: c1 goes on
    action(banner, "Stop the server").click()
    expect(card(page, i("e1"))).to_have_count(0)
    for client in (i("e2"), i("e3")):
        expect(card(page, client).get_by_test_id("endpoint-state")).to_have_attribute("data-state", "closed")


def test_lesson_4_sticky_packets(page: Any) -> None:
    banner = start_lesson(page, 4)
    for client in (i("e3"), i("e4")):  # the servers come first, side by side: e1 raw, e2 line-framed
        box = card(page, client).get_by_test_id("send-form")
        expect(box.get_by_test_id("send-repeat")).to_be_visible()
        expect(box.get_by_test_id("send-repeat")).to_have_value("20")
        expect(box.get_by_test_id("send-interval")).to_have_value("0")
        expect(box.get_by_test_id("send-numbered")).to_be_checked()
    raw = card(page, i("e1")).get_by_test_id("connection").get_by_test_id("stream-counters")
    framed = card(page, i("e2")).get_by_test_id("connection").get_by_test_id("stream-counters")
    # Coalescing is what the kernel usually does, not a promise: on the rare run where the
    # receiver kept up with every send(), the teacher (and this test) sends the burst again.
    for bursts in range(1, 4):
        action(banner, "Send the burst on both").click()
        expect(raw).to_have_attribute("data-peer-sends", str(20 * bursts))
        expect(raw).to_have_attribute("data-bytes-in", str(171 * bursts))  # "#1 hello" .. "#20 hello"
        if int(raw.get_attribute("data-recvs")) < 20 * bursts:
            break
    assert int(raw.get_attribute("data-recvs")) < int(raw.get_attribute("data-peer-sends"))
    expect(framed).to_have_attribute("data-messages", str(20 * bursts))
    assert framed.get_attribute("data-peer-sends") == framed.get_attribute("data-messages")
    expect(card(page, i("e1")).get_by_test_id("stream-why")).to_contain_text("sticky packets")
    expect(card(page, i("e2")).get_by_test_id("stream-why")).to_contain_text("Line framing")
    page.locator("#endpoints").evaluate("el => el.closest('.panel').scrollTop = 0")
    shot(page, "4-sticky")


def test_lesson_5_file_download_raw_versus_framed(page: Any) -> None:
    banner = start_lesson(page, 5)
    form = page.get_by_test_id("download-form")
    expect(form).to_be_visible()
    expect(form.get_by_test_id("download-server")).to_have_value(i("e2"))
    expect(form.get_by_test_id("download-file")).to_have_value("random-1MB.bin")
    expect(form.get_by_test_id("download-protocol")).to_have_value("framed")
    action(banner, "Download raw").click()
    raw = page.locator(f'[data-testid="download"][data-download-id="{i("d1")}"]')
    expect(raw.get_by_test_id("download-state")).to_have_attribute("data-state", "done")
    expect(raw.get_by_test_id("download-bytes")).to_have_text("1,048,576 bytes")
    expect(raw.get_by_test_id("download-verified")).to_have_count(0)  # nothing to check against
    action(banner, "Download framed").click()
    framed = page.locator(f'[data-testid="download"][data-download-id="{i("d2")}"]')
    expect(framed.get_by_test_id("download-verified")).to_be_visible()
    shot(page, "5-files")


def test_an_earlier_lessons_download_leaves_the_chips_not_the_list(page: Any) -> None:
    """Lesson 5's downloads are its point while it runs; in the next lesson a folded page (the projector)
    shows no chip of them, and the full page still lists them (their files stay)."""
    banner = start_lesson(page, 5)
    action(banner, "Download framed").click()
    framed = page.locator(f'[data-testid="download"][data-download-id="{i("d1")}"]')
    expect(framed.get_by_test_id("download-state")).to_have_attribute("data-state", "done")
    page.keyboard.press("p")  # projector: cards fold into chips
    expect(framed.get_by_test_id("download-chip")).to_be_visible()
    start_lesson(page, 1)
    expect(framed).to_have_attribute("data-stage", "earlier")
    expect(framed.get_by_test_id("download-chip")).to_be_hidden()
    page.keyboard.press("p")  # back to the full page: still in the list
    expect(framed).to_be_visible()


def test_lesson_6_relay_chat(page: Any) -> None:
    banner = start_lesson(page, 6)
    show(page, "split")  # the lesson opens the diagram; its log rows are read here too
    expect(card(page, i("e1")).get_by_test_id("connection")).to_have_count(3)
    action(banner, "Send from client 1").click()
    expect(log_rows(page, "relay", i("e1"))).to_have_count(1)
    for other in (i("e3"), i("e4")):
        got = log_rows(page, "message", other)
        expect(got).to_have_count(1)
        expect(got.locator(".col-text")).to_have_text("hello, class!")
    expect(log_rows(page, "recv", i("e2"))).to_have_count(0)  # the sender does not get its own line back


def test_lesson_7_http_by_hand(page: Any) -> None:
    banner = start_lesson(page, 7)
    port = port_of(card(page, i("e1")))
    link = banner.get_by_test_id("lesson-link")
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", f"http://127.0.0.1:{port}/")
    expect(link).to_have_attribute("target", "_blank")
    assert page.request.get(link.get_attribute("href")).status == 200
    action(banner, "Send GET / by hand").click()
    answer = log_rows(page, "recv", i("e2")).first
    expect(answer.locator(".col-text")).to_contain_text("HTTP/1.0 200")
    expect(log_rows(page, "http", i("e1"))).not_to_have_count(0)
    shot(page, "7-http")


def udp_outcome(count: int = 30) -> dict[str, Any]:
    """What seed 1 does to 30 datagrams (20% loss, 5% duplicates, 10% reordered), from the lab's own Impairer."""
    impairer = Impairer(ImpairSpec(loss=0.2, duplicate=0.05, reorder=0.1, seed=1))
    fates = [impairer.fate() for _ in range(count)]
    lost = [n for n, fate in enumerate(fates, 1) if fate.copies == 0]
    kept = [n for n, fate in enumerate(fates, 1) if fate.copies]
    late = [n for n in kept if fates[n - 1].held and n != kept[-1]]  # held until a later one has gone
    return {"lost-list": ",".join(map(str, lost)), "lost": str(len(lost)), "received": str(len(kept)),
            "duplicated": str(sum(f.copies == 2 for f in fates)), "late": str(len(late))}


def run_comparison(page: Any, run: int) -> dict[str, dict[str, str]]:
    panel = page.get_by_test_id("compare-panel")
    panel.get_by_test_id("compare-run").click()
    expect(panel).to_have_attribute("data-run", str(run))
    expect(panel).to_have_attribute("data-state", "done")
    keys = ("sent", "received", "lost", "duplicated", "late", "lost-list")
    return {proto: {key: panel.get_by_test_id(f"compare-{proto}").get_attribute(f"data-{key}") for key in keys}
            for proto in ("tcp", "udp")}


def test_lesson_8_udp_versus_tcp_under_loss(page: Any) -> None:
    start_lesson(page, 8)
    panel = page.get_by_test_id("compare-panel")
    expect(panel).to_be_visible()
    for field, value in {"loss": "20", "duplicate": "5", "reorder": "10", "seed": "1", "count": "30", "interval": "50"}.items():
        expect(panel.get_by_test_id(f"compare-{field}")).to_have_value(value)
    first = run_comparison(page, 1)
    assert first["tcp"] == {"sent": "30", "received": "30", "lost": "0", "duplicated": "0", "late": "0", "lost-list": ""}
    expected = udp_outcome()
    assert int(expected["lost"]) > 0
    assert {key: first["udp"][key] for key in expected} == expected
    assert first["udp"]["sent"] == "30"
    expect(panel.get_by_test_id("compare-udp-lost-list")).to_contain_text("#" + expected["lost-list"].split(",")[0])
    shot(page, "8-compare")
    assert run_comparison(page, 2) == first, "same seed, same result"


def test_a_closed_comparison_panel_stays_closed_on_reload(page: Any) -> None:
    """Opened by lesson 8 on every page; closed in a tab, a reload of that tab does not put it back over
    the header (a new stage, or another tab, opens it again)."""
    start_lesson(page, 8)
    panel = page.get_by_test_id("compare-panel")
    expect(panel).to_be_visible()
    panel.get_by_test_id("compare-close").click()
    expect(panel).to_be_hidden()
    page.reload()
    expect(page.get_by_test_id("lesson-banner")).to_have_attribute("data-lesson", "8")
    expect(page.get_by_test_id("socket-state")).to_have_attribute("data-state", "connected")
    expect(page.get_by_test_id("lessons-button")).to_be_enabled()
    page.get_by_test_id("lessons-button").click()  # the header answers: no modal in the way
    expect(page.get_by_test_id("lesson-preset").first).to_be_visible()
    page.keyboard.press("Escape")
    assert not page.evaluate("() => !!document.querySelector('[data-testid=compare-panel]')?.open")
    other = page.context.new_page()  # sessionStorage is per tab: a new tab opens it, as a late joiner
    other.goto(page.url)
    expect(other.get_by_test_id("compare-panel")).to_be_visible()
    other.close()


def test_lesson_14_real_loss_in_the_comparison_panel(page: Any) -> None:
    """Where the lab may drop its own packets (root here; the sandbox for a teacher), lesson 14 opens the
    same panel in its real-loss form: no seed to set, the kernel's words, and TCP still all 200."""
    if not page.evaluate("fetch('/api/session').then(r => r.json()).then(s => s.impair_tcp)"):
        pytest.skip("this dashboard's lab cannot drop its own packets (tests/sandbox runs lesson 14)")
    start_lesson(page, 14)
    panel = page.get_by_test_id("compare-panel")
    expect(panel).to_be_visible()
    expect(panel).to_have_attribute("data-impairment", "link")
    expect(panel.get_by_test_id("compare-seed")).to_be_hidden()
    expect(panel.get_by_test_id("compare-note-link")).to_be_visible()
    panel.get_by_test_id("compare-run").click()
    expect(panel).to_have_attribute("data-state", "done", timeout=90_000)  # the lab's `settled`: TCP is through
    assert panel.get_by_test_id("compare-tcp").get_attribute("data-received") == "200"
    expect(panel.get_by_test_id("compare-status")).to_contain_text("the kernel drops other packets")
    udp = panel.get_by_test_id("compare-udp")
    assert udp.get_attribute("data-sent") == "200" and int(udp.get_attribute("data-lost") or 0) > 0


def test_lesson_9_broadcast(page: Any) -> None:
    banner = start_lesson(page, 9)
    show(page, "split")  # the lesson opens the diagram; its log rows are read here too
    servers = (i("e1"), i("e2"), i("e3"))
    ports = {port_of(card(page, s)) for s in servers}
    assert len(ports) == 1, "the three servers share one port"
    expect(card(page, i("e4")).get_by_test_id("endpoint-mode")).to_contain_text("SO_BROADCAST")
    action(banner, "Broadcast one datagram").click()
    for server in servers:
        expect(log_rows(page, "recv", server, 15)).to_have_count(1)
        expect(card(page, server).get_by_test_id("udp-stats")).to_have_attribute("data-in", "1")
    expect(card(page, i("e4")).get_by_test_id("udp-stats")).to_have_attribute("data-out", "1")
    shot(page, "9-broadcast")
