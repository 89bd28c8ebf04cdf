// One endpoint card. Built once per endpoint id and updated in place on every refresh, so what
// a user is typing into its send box survives the live updates around it.
import { agents, clockOf } from "../models/agents.js";
import { del, post } from "../net/api.js";
import { showCode } from "./code-panel.js";
import { bytes, chipToggle, part } from "./chips.js";
import { peerIndex, readsEvery, streamCounters, streamLesson, tcpInfoBlock, teachingSummary, trafficTotals,
  udpStats } from "../models/conn-stats.js";
import { el, hostPort, replaceKeepingFocus, setOptions } from "../dom.js";
import { formatNumber, t, tOr } from "../i18n.js";
import { speaksOwnProtocol } from "../models/kinds.js";
import { noticeIn } from "./notice.js";
import { reachLine } from "./join-panel.js";
import { SendBox } from "./send-box.js";

const LISTENING = new Set(["listening"]);
const GONE = new Set(["closed", "stopped", "failed"]);
const NO_INDEX = peerIndex([]);

export class EndpointCard {
  /** `changed` is called after every action, so the list refreshes at once; `reload` re-GETs this endpoint. */
  constructor(ep, changed, reload = changed) {
    this.id = ep.id;
    this.kind = ep.kind;
    this.changed = changed;
    this.reload = reload;
    this.infoOpen = new Set(); // connections whose TCP_INFO the teacher opened
    this.build(ep);
    this.update(ep);
  }

  build(ep) {
    const server = this.kind.endsWith("-server");
    this.state = el("span", { class: "state-badge", testid: "endpoint-state" });
    this.modeText = el("span", { class: "ep-mode", testid: "endpoint-mode" });
    this.stop = el("button", { type: "button", class: "btn small danger", testid: "stop-endpoint", "data-control": true });
    this.stop.addEventListener("click", () => this.act(() => del(`/endpoints/${this.id}`)));
    const code = el("button", { type: "button", class: "btn small code-btn", testid: "show-code", i18n: "code.button",
      "data-i18n-title": "code.buttonTitle" });
    code.addEventListener("click", () => showCode("endpoints", this.id));
    // the lab agent that holds it: named from its events' `agent`, never from the id
    this.agentTag = el("span", { class: "agent-tag", testid: "endpoint-agent", hidden: true });
    const head = el("div", { class: "card-head" },
      el("span", { class: "ep-id", testid: "endpoint-id", text: ep.id }), this.agentTag,
      el("span", { class: "ep-kind", i18n: `kind.${this.kind}` }),
      this.state, el("span", { class: "spacer" }), this.stop);

    this.localHost = el("span", { class: "addr-host" });
    this.localPort = el("span", { class: "addr-port", testid: "endpoint-port" });
    const addr = el("div", { class: "card-addr" },
      el("span", { class: "addr-label", i18n: "card.local" }),
      this.localHost, el("span", { class: "addr-colon", text: ":" }), this.localPort,
      el("span", { class: "spacer" }), this.modeText);
    this.remote = el("span", { class: "addr-value", testid: "endpoint-remote" });
    this.remoteLabel = el("span", { class: "addr-label" });
    const remote = server && this.kind !== "udp-server" ? null
      : el("div", { class: "card-remote" }, this.remoteLabel, this.remote);
    this.lesson = el("p", { class: "lesson", testid: "endpoint-lesson" });
    this.web = el("a", { class: "web-link", testid: "endpoint-web", target: "_blank", rel: "noopener" });
    this.reach = el("p", { class: "reach-line", testid: "endpoint-reachable", hidden: true });

    this.root = el("article", { class: "card", testid: "endpoint-card", id: `card-${ep.id}`,
      data: { endpointId: ep.id, kind: this.kind } });
    // projector mode shows only this chip until it is opened (style.css); elsewhere it is not shown
    this.chip = chipToggle(this.root, "endpoint-chip");
    this.root.append(...[this.chip, head, addr, this.reach, remote, el("div", { class: "lesson-row" }, this.lesson, code), this.web]
      .filter(Boolean));
    if (this.kind === "tcp-server") this.root.append(this.buildSockets());
    this.stats = el("div", { class: "card-stats" });
    this.root.append(this.stats);
    this.sendBox = new SendBox(this);
    this.target = this.sendBox.target;
    this.sendForm = this.sendBox.form;
    this.root.append(this.sendForm);
    this.notice = noticeIn(this.root, "card-error");
  }

  buildSockets() {
    this.listenerText = el("span", { class: "sock-value", testid: "listener-state" });
    this.listenerIcon = el("span", { class: "sock-icon", "aria-hidden": "true" });
    this.stopListening = el("button", { type: "button", class: "btn small", testid: "stop-listening",
      "data-control": true, i18n: "card.stopListening" });
    this.stopListening.addEventListener("click", () => this.act(() => post(`/endpoints/${this.id}/stop-listening`)));
    this.listener = el("div", { class: "listener", testid: "listener" },
      this.listenerIcon, el("span", { class: "sock-name", i18n: "card.listener" }), this.listenerText,
      el("span", { class: "spacer" }), this.stopListening);
    this.listener.dataset.i18nTitle = "card.listenerTitle";
    this.connsTitle = el("p", { class: "conns-title", testid: "connections-title" });
    this.conns = el("ul", { class: "conns", testid: "connections" });
    return el("div", { class: "sockets" }, this.listener, this.connsTitle, this.conns);
  }

  async act(request) {
    try {
      await request();
      this.notice.clear();
    } catch (error) {
      this.notice.show(error.message);
    }
    this.changed();
  }

  /** The send box's burst controls, filled by a lesson preset. */
  prefill(values) {
    this.sendBox.prefill(values);
  }

  update(ep, index = this.index || NO_INDEX) {
    this.ep = ep;
    this.index = index;
    this.sendBox.relabel();
    const state = String(ep.state || "");
    const gone = GONE.has(state);
    this.root.dataset.state = state;
    this.state.dataset.state = state;
    this.state.textContent = tOr(`state.${state}`, state);
    this.modeText.textContent = [this.modeSummary(ep), ...teachingSummary(ep)].filter(Boolean).join(" · ");
    this.modeText.hidden = !this.modeText.textContent;

    const [host, port] = ep.local || ["", ""];
    this.localHost.textContent = host;
    this.localPort.textContent = ep.local ? String(port) : "—";
    if (this.kind === "udp-server") {
      this.remoteLabel.textContent = t("card.lastPeer");
      this.remote.textContent = hostPort(ep.last_peer) || t("card.noPeer");
    } else {
      this.remoteLabel.textContent = t(`card.remote.${this.kind}`);
      this.remote.textContent = hostPort(ep.remote) || "—";
    }
    this.lesson.textContent = this.lessonText(ep, gone);
    reachLine(this.reach, gone ? null : ep); // bound to 0.0.0.0: the machine's real addresses
    this.web.hidden = gone || ep.mode !== "http" || !ep.local;
    if (!this.web.hidden) {
      // a server bound to every address is reached at the address this page came from
      const webHost = ["0.0.0.0", "::"].includes(host) ? window.location.hostname : host;
      const url = `http://${hostPort([webHost, port])}/`;
      this.web.href = url;
      this.web.textContent = t("card.openHttp", { url });
    }

    if (this.kind === "tcp-server") this.updateSockets(ep, gone);
    this.updateStats(ep, index);
    this.updateChip(ep);
    this.markAgent();
    this.sendForm.hidden = gone || speaksOwnProtocol(ep.mode);
    this.sendBox.setFraming(ep, this.kind === "tcp-client" ? index.server(ep.remote) : null);
    const server = this.kind.endsWith("-server");
    this.stop.textContent = t(gone ? "card.remove" : server ? "card.stop" : "card.close");
  }

  /** Which agent holds it and whether that agent is down ("agent down", data-agent-state on card and chip). */
  markAgent() {
    const name = typeof this.ep?.agent === "string" ? this.ep.agent : agents.ownerOf(this.id);
    const state = name ? agents.stateOf(name) : "";
    const down = state === "down";
    this.agentTag.hidden = !name;
    this.agentTag.textContent = down ? `${name} · ${t("agents.cardDown")}` : name;
    this.agentTag.title = down ? t("agents.cardDownTitle", { name, time: clockOf(agents.get(name)?.since) })
      : name ? t("agents.tagTitle", { name, host: agents.get(name)?.host || "?" }) : "";
    // the chip names it too, right after the id (the chip is refilled on updates: placed again each time)
    this.chip.querySelector(".chip-agent")?.remove();
    if (name) {
      const tag = part("chip-agent agent-tag", this.agentTag.textContent, "chip-agent");
      tag.dataset.agentState = state || "unknown";
      this.chip.firstChild ? this.chip.firstChild.after(tag) : this.chip.append(tag);
    }
    for (const node of [this.root, this.chip, this.agentTag]) {
      if (name) Object.assign(node.dataset, { agent: name, agentState: state || "unknown" });
      else delete node.dataset.agentState;
    }
    // its last state ("connected") is not known any more while its agent is down: the badge says so
    const known = String(this.ep?.state || "");
    this.state.dataset.state = down ? "unknown" : known;
    this.state.textContent = down ? t("agents.cardDown") : tOr(`state.${known}`, known);
  }

  /** The one line a projector shows: id, kind, port, state, connections, slow reader, traffic. */
  updateChip(ep) {
    const state = String(ep.state || "");
    const traffic = trafficTotals(ep);
    const io = (dir) => {
      const n = dir === "out" ? traffic.callsOut : traffic.callsIn;
      const b = bytes(dir === "out" ? traffic.bytesOut : traffic.bytesIn);
      const io = part(`chip-io ${dir}`, t(`chip.${dir}`, { n, bytes: b }), `chip-${dir}`);
      io.title = t(`chip.${traffic.udp ? "udp" : "tcp"}.${dir}Title`, { n, bytes: b });
      return io;
    };
    const port = part("chip-port", ep.local ? `:${ep.local[1]}` : "—", "chip-port");
    port.title = hostPort(ep.local);
    const parts = [part("chip-id ep-id", ep.id), part("chip-kind", t(`kind.${this.kind}`)), port,
      el("span", { class: "state-badge", data: { state }, text: tOr(`state.${state}`, state) })];
    if (this.kind === "tcp-server") {
      const conns = Array.isArray(ep.connections) ? ep.connections.length : 0;
      parts.push(part("chip-conns", t("chip.conns", { n: conns }), "chip-conns"));
    }
    if (readsEvery(ep)) parts.push(part("chip-delay", readsEvery(ep), "chip-delay"));
    // (the traffic shows once there is some: a row of "0 B" would only crowd the line)
    if (traffic.callsOut || traffic.bytesOut) parts.push(io("out"));
    if (traffic.callsIn || traffic.bytesIn) parts.push(io("in"));
    this.chip.replaceChildren(...parts);
    // its name is the text it shows (what a voice user says to press it); the longer words are its description
    this.chip.setAttribute("aria-description", [hostPort(ep.local), ...parts.slice(3).map((p) => p.title)].filter(Boolean).join(", "));
  }

  modeSummary(ep) {
    if (!ep.mode) return "";
    const parts = [tOr(`modeShort.${ep.mode}`, ep.mode)];
    if (ep.mode === "reply" && ep.reply != null) parts.push(t("card.reply", { text: ep.reply }));
    if (ep.mode === "file" && ep.file) parts.push(t("card.file", { name: ep.file }));
    if (ep.mode === "files" && ep.protocol) parts.push(tOr(`protocolShort.${ep.protocol}`, ep.protocol));
    return parts.join(" · ");
  }

  lessonText(ep, gone) {
    if (gone) return t("lesson.closed");
    const port = ep.local ? ep.local[1] : 0;
    if (this.kind === "tcp-server") return t(LISTENING.has(ep.state) ? "lesson.tcp-server" : "lesson.tcp-server.off");
    if (this.kind === "udp-client" && !port) return t("lesson.udp-client.unbound");
    return t(`lesson.${this.kind}`, { port: String(port) });
  }

  /** Counters under the card: UDP datagrams, or a TCP client's one connection. */
  updateStats(ep, index) {
    const parts = [];
    if (this.kind.startsWith("udp")) parts.push(udpStats(ep));
    if (this.kind === "tcp-client" && ep.connection) {
      const conn = ep.connection;
      const peer = index.ofClient(ep)?.conn;
      parts.push(streamCounters(conn, peer, ep.framing || "raw"), streamLesson(conn, peer, ep.framing || "raw"));
      parts.push(tcpInfoBlock(conn.tcp_info, "client", this.infoOpen, this.reload));
    }
    this.stats.replaceChildren(...parts.filter(Boolean));
  }

  updateSockets(ep, gone) {
    const open = LISTENING.has(ep.state);
    this.listener.dataset.open = String(open);
    this.listenerIcon.textContent = open ? "◉" : "○";
    this.listenerText.textContent = open ? "" : t("card.listenerClosed");
    this.listener.title = t("card.listenerTitle");
    this.stopListening.hidden = !open;
    const conns = Array.isArray(ep.connections) ? ep.connections : [];
    this.connsTitle.textContent = conns.length || !gone ? t("card.conns", { n: conns.length }) : "";
    const framing = speaksOwnProtocol(ep.mode) ? "raw" : ep.framing || "raw";
    replaceKeepingFocus(this.conns, ...conns.map((conn) => this.connRow(conn, framing)));
    const why = speaksOwnProtocol(ep.mode) ? null
      : conns.map((c) => streamLesson(c, this.index.ofServerConn(c)?.conn, framing)).find(Boolean);
    if (why) this.conns.append(el("li", { class: "conn-why" }, why));
    setOptions(this.target, [["", t("send.all")], ...conns.map((c) => [c.id, `${c.id} · ${hostPort(c.peer)}`])]);
  }

  connRow(conn, framing) {
    const close = el("button", { type: "button", class: "btn small", testid: "close-connection", "data-control": true, data: { conn: conn.id },
      title: t("card.closeConnTitle", { id: conn.id }), text: t("card.closeConn") });
    close.addEventListener("click", () => this.act(() => del(`/endpoints/${this.id}/connections/${encodeURIComponent(conn.id)}`)));
    const line = el("div", { class: "conn-row" },
      el("span", { class: "conn-id", text: conn.id }),
      el("span", { class: "conn-arrow", "aria-hidden": "true", text: "⇄" }),
      el("span", { class: "conn-peer", testid: "connection-peer", text: hostPort(conn.peer) }));
    if (conn.bytes_in !== undefined) {
      line.append(el("span", { class: "conn-bytes", text: `↓${formatNumber(conn.bytes_in)} ↑${formatNumber(conn.bytes_out ?? 0)}` }));
    }
    line.append(el("span", { class: "spacer" }), close);
    const row = el("li", { class: "conn conn-box", testid: "connection", data: { connId: conn.id, state: conn.state || "open" },
      title: t("card.connTitle", { id: conn.id, local: hostPort(conn.local), peer: hostPort(conn.peer) }) }, line);
    row.append(...[streamCounters(conn, this.index.ofServerConn(conn)?.conn, framing),
      tcpInfoBlock(conn.tcp_info, conn.id, this.infoOpen, this.reload)].filter(Boolean));
    return row;
  }
}
