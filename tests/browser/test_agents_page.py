"""The page over lab agents, in Chromium, with every part real: a redis-server of the
test's own, two lab agents in this process (each with its own lab and folders), and the dashboard as
users start it (`python -m webapp`, SOCKETLAB_REDIS set) on a port the test picked, so that it can be
stopped and started again at the same address while the page stays open.

- the strip shows each agent and its state; the create form's picker sends a socket to an agent;
- the diagram's lanes and the log name the agent (from the events' `agent` field);
- an agent that stops is "down" in the strip, a row of the log and a mark on its cards;
- the dashboard restarts while an agent keeps working: the page, never reloaded, shows every event
  of the agents' streams exactly once, in order per agent.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any, Iterator

import orjson
import pytest
import redis

from agent.agent import Agent
from lab import Lab

from ..redis_server import RedisServer, free_port
from ..servers import Dashboard, start_dashboard
from ..support import Resources, wait_until
from .conftest import PageProblems
from .ui import card, create, log_rows, port_of, wait_ready

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, under CI, fails) and says why
    expect = None

# what the page was given, as (agent, agent_seq) in the order it was given (events.js onEvents)
COLLECT = """async () => {
  const { onEvents } = await import("/static/js/net/events.js");
  window.__given = [];
  onEvents((events) => { for (const e of events) window.__given.push([e.agent ?? null, e.agent_seq ?? null, e.kind]); });
}"""
GIVEN = "() => window.__given.filter((e) => e[1] !== null)"


class Hosts:
    """Redis, two agents (pc1, pc2) and a dashboard process over them on a fixed, test-picked port."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.redis = RedisServer()
        self.agents: dict[str, Agent] = {}
        for name in ("pc1", "pc2"):
            lab = Lab(folder / name / "files", folder / name / "downloads", id_suffix=f"@{name}")
            self.agents[name] = Agent(name, self.redis.url, lab)
            self.agents[name].start()
        self.port = free_port()
        self.dashboard: Dashboard | None = None

    def start_dashboard(self) -> Dashboard:
        self.dashboard = start_dashboard("dev", self.folder / "dash", env={"SOCKETLAB_REDIS": self.redis.url},
                                         extra=("--port", str(self.port)))  # (the last --port wins)
        assert self.dashboard.port == self.port
        return self.dashboard

    def stop_dashboard(self) -> None:
        if self.dashboard is not None:
            self.dashboard.stop()
            self.dashboard = None

    def streams(self) -> dict[str, list[tuple[int, str]]]:
        """What each agent shipped: [(agent_seq, kind), ...] in stream order."""
        client = redis.Redis.from_url(self.redis.url)
        try:
            found: dict[str, list[tuple[int, str]]] = {}
            for name in self.agents:
                entries = client.xrange(f"ev:{name}")
                found[name] = [(body["seq"], body["kind"]) for body in (orjson.loads(f[b"e"]) for _, f in entries)]
            return found
        finally:
            client.close()

    def close(self) -> None:
        self.stop_dashboard()
        for one in self.agents.values():
            one.stop()
            one.lab.close()
        self.redis.close()


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[Hosts]:
    before = Resources.now()
    made = Hosts(tmp_path)
    yield made
    made.close()
    before.settled(5)


@pytest.fixture
def agents_page(context: Any, hosts: Hosts) -> Iterator[Any]:
    problems = PageProblems()
    hosts.start_dashboard()
    assert hosts.dashboard is not None
    page = context.new_page()
    page.on("console", problems.console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.goto(hosts.dashboard.url + "/")
    wait_ready(page)
    yield page
    page.close()
    # (a dashboard going away makes the page log its lost connection: that one is expected)
    left = [p for p in problems if "socket.io" not in p and "ERR_CONNECTION_REFUSED" not in p]
    assert not left, "the page reported problems:\n" + "\n".join(left)


def agent_pill(page: Any, name: str) -> Any:
    return page.locator(f'[data-testid="agent"][data-agent="{name}"]')


def test_agents_strip_picker_tags_and_an_agent_going_down(agents_page: Any, hosts: Hosts) -> None:
    page = agents_page
    expect(page.get_by_test_id("agents-strip")).to_be_visible()
    expect(page.get_by_test_id("page-error")).to_be_hidden()  # (no "which agent?" for the files menu)
    for name in ("pc1", "pc2"):
        expect(agent_pill(page, name)).to_have_attribute("data-state", "up")
        expect(agent_pill(page, name).get_by_test_id("agent-state")).to_have_text("up")
    # two agents up: the picker asks, and the server is never left to guess
    picker = page.get_by_test_id("create-agent")
    expect(picker).to_be_visible()
    assert picker.input_value() == ""

    server_id, server_card = create(page, "tcp-server", mode="echo", agent="pc1")
    client_id, client_card = create(page, "tcp-client", port=port_of(server_card), agent="pc2")
    expect(server_card.get_by_test_id("endpoint-agent")).to_have_text("pc1")
    expect(client_card.get_by_test_id("endpoint-agent")).to_have_text("pc2")
    assert hosts.agents["pc1"].lab.endpoint(server_id).id == server_id  # it really lives in pc1's lab

    # the log and the diagram's lanes name the agent from the events
    expect(log_rows(page, "listen", server_id).get_by_test_id("log-agent")).to_have_text("pc1")
    expect(log_rows(page, "connect", client_id).get_by_test_id("log-agent")).to_have_text("pc2")
    page.locator('[data-view-tab="split"]').click()
    lanes = page.get_by_test_id("ladder-lane")
    expect(lanes.filter(has=page.locator('[data-testid="lane-agent"]:text-is("pc1")')).first).to_be_visible()
    expect(lanes.filter(has=page.locator('[data-testid="lane-agent"]:text-is("pc2")')).first).to_be_visible()

    # pc2 stops (its heartbeat key is deleted): down in the strip, a row of the log, its card marked
    hosts.agents["pc2"].stop()
    expect(agent_pill(page, "pc2")).to_have_attribute("data-state", "down", timeout=3500)
    expect(agent_pill(page, "pc2").get_by_test_id("agent-state")).to_contain_text("down since ")
    pc2_rows = page.locator('[data-testid="event-row"][data-kind="agent"][data-agent="pc2"]')
    expect(pc2_rows.filter(has_text="Lab agent pc2 is down")).to_have_count(1)
    expect(pc2_rows.filter(has_text="Lab agent pc2 is up")).to_have_count(1)
    expect(card(page, client_id)).to_have_attribute("data-agent-state", "down")
    expect(client_card.get_by_test_id("endpoint-agent")).to_contain_text("agent down")
    # its last state ("connected") is not claimed while nobody can know it
    expect(client_card.get_by_test_id("endpoint-state")).to_have_text("agent down")
    expect(card(page, server_id).get_by_test_id("endpoint-state")).not_to_have_text("agent down")
    expect(card(page, server_id)).to_have_attribute("data-agent-state", "up")
    # pc1 is the only one up now: the picker offers it by itself, pc2 stays listed but cannot be chosen
    expect(picker).to_have_value("pc1")
    assert picker.locator('option[value="pc2"]').is_disabled()


class Ticker:
    """A plain TCP client in this process that sends a line to pc1's echo server every 20 ms (the
    agent records each recv and echo), so the agent keeps working while the dashboard is away."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.stopping = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self.run, name="ticker")
        self.thread.start()

    def run(self) -> None:
        while not self.stopping.wait(0.02):  # (a pace for the traffic, not a wait for anything)
            self.sock.sendall(b"tick\n")
            self.sent += 1
            self.sock.recv(4096)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(10)
        self.sock.close()


def test_a_restarted_dashboard_is_resumed_every_event_once(agents_page: Any, hosts: Hosts) -> None:
    page = agents_page
    expect(agent_pill(page, "pc1")).to_have_attribute("data-state", "up")
    page.evaluate(COLLECT)
    resumed: list[str] = []
    page.on("request", lambda r: resumed.append(r.url) if "/api/events?after=0" in r.url and "resume=" in r.url else None)
    server_id, server_card = create(page, "tcp-server", mode="echo", agent="pc1")
    ticker = Ticker(port_of(server_card))
    try:
        wait_until(lambda: ticker.sent >= 10, 10)
        page.wait_for_function("() => window.__given.filter((e) => e[2] === 'recv').length >= 5")  # seen live
        hosts.stop_dashboard()
        expect(page.get_by_test_id("socket-state")).to_have_attribute("data-state", "disconnected")
        during = ticker.sent
        wait_until(lambda: ticker.sent >= during + 25, 10)  # the agent goes on while no dashboard runs
        hosts.start_dashboard()
        expect(page.get_by_test_id("socket-state")).to_have_attribute("data-state", "connected", timeout=20_000)
        wait_until(lambda: ticker.sent >= during + 50, 10)  # and after it came back
    finally:
        ticker.stop()
    # everything the agents shipped, and everything the page was given, as (agent, agent_seq); the
    # agent still records a little after the ticker stopped (the close), so both are read until they agree
    def shipped() -> list[tuple[str, int]]:
        return sorted((name, seq) for name, entries in hosts.streams().items() for seq, _ in entries)

    def given() -> list[tuple[str, int]]:
        return [(a, s) for a, s, _ in page.evaluate(GIVEN)]

    try:
        wait_until(lambda: sorted(given()) == shipped(), 15, interval=0.2)
    except AssertionError:
        pass  # (said precisely below)
    seen, streams = given(), hosts.streams()
    # (85 ticks or more went by; each gives a recv and an echo, fewer events if a slow machine's echo
    # server read two ticks at once: the count only shows the restart had traffic to miss)
    assert len(streams["pc1"]) > 2 * 50
    assert len(seen) == len(set(seen)), "an event was shown twice"
    assert sorted(seen) == shipped(), "the page and the agents' streams disagree"
    assert resumed, "the page never asked for what it missed with `resume`"
    for name in streams:
        mine = [s for a, s in seen if a == name]
        assert mine == sorted(mine), f"the events of {name} came out of order"
    # the views were not started afresh (over agents the lab did not change): the server's card stays
    expect(card(page, server_id)).to_be_visible()
    expect(page.get_by_test_id("dropped-count")).to_have_attribute("data-count", "0")
