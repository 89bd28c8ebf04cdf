// One endpoint card. Built once per endpoint id and updated in place on every refresh, so what
// a user is typing into its send box survives the live updates around it.
import { del, post } from "./api.js";
import { el, hostPort, parseHostPort, setOptions } from "./dom.js";
import { formatNumber, t, tOr } from "./i18n.js";
import { noticeIn } from "./notice.js";

const LISTENING = new Set(["listening"]);
const GONE = new Set(["closed", "stopped", "failed"]);

export class EndpointCard {
  /** `changed` is called after every action, so the list refreshes at once. */
  constructor(ep, changed) {
    this.id = ep.id;
    this.kind = ep.kind;
    this.changed = changed;
    this.build(ep);
    this.update(ep);
  }

  build(ep) {
    const server = this.kind.endsWith("-server");
    this.state = el("span", { class: "state-badge", testid: "endpoint-state" });
    this.modeText = el("span", { class: "ep-mode", testid: "endpoint-mode" });
    this.stop = el("button", { type: "button", class: "btn small danger", testid: "stop-endpoint", "data-control": true });
    this.stop.addEventListener("click", () => this.act(() => del(`/endpoints/${this.id}`)));
    const head = el("div", { class: "card-head" },
      el("span", { class: "ep-id", testid: "endpoint-id", text: ep.id }),
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

    this.root = el("article", { class: "card", testid: "endpoint-card", data: { endpointId: ep.id, kind: this.kind } },
      head, addr, remote, this.lesson, this.web);
    if (this.kind === "tcp-server") this.root.append(this.buildSockets());
    this.sendForm = this.buildSendForm();
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

  buildSendForm() {
    const data = el("input", { name: "data", class: "send-data", spellcheck: "false", testid: "send-data",
      "data-i18n-aria-label": "send.data" });
    const encoding = el("select", { name: "encoding", testid: "send-encoding", "data-i18n-aria-label": "send.encoding" },
      el("option", { value: "utf-8", i18n: "send.enc.utf-8" }),
      el("option", { value: "hex", i18n: "send.enc.hex" }));
    const placeholder = () => {
      data.dataset.i18nPlaceholder = `send.placeholder.${encoding.value === "hex" ? "hex" : "text"}`;
      data.placeholder = t(data.dataset.i18nPlaceholder);
    };
    encoding.addEventListener("change", placeholder);
    data.addEventListener("input", () => this.showSent(null));
    placeholder();
    const form = el("form", { class: "send-form", testid: "send-form", "data-control": true, novalidate: true },
      data, encoding);
    if (this.kind === "tcp-server") {
      this.target = el("select", { name: "conn", testid: "send-conn", "data-i18n-aria-label": "send.target",
        "data-i18n-title": "send.target" });
      form.append(this.target);
    }
    if (this.kind === "udp-server") {
      form.append(el("input", { name: "to", class: "send-to", spellcheck: "false", testid: "send-to",
        "data-i18n-placeholder": "send.to.placeholder", "data-i18n-aria-label": "send.to", "data-i18n-title": "send.to" }));
    }
    this.sent = el("span", { class: "sent", testid: "send-result", "aria-live": "polite" });
    form.append(el("button", { type: "submit", class: "btn primary", testid: "send-submit", i18n: "send.submit" }),
      this.sent);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send(form);
    });
    return form;
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

  async send(form) {
    const body = { data: form.elements.data.value, encoding: form.elements.encoding.value };
    if (this.target && this.target.value) body.conn = this.target.value;
    const to = form.elements.to?.value.trim();
    if (to) {
      body.to = parseHostPort(to);
      if (!body.to) {
        this.notice.show(t("error.address"));
        return;
      }
    }
    this.showSent(null);
    try {
      const answer = await post(`/endpoints/${this.id}/send`, body);
      this.notice.clear();
      this.showSent(answer?.sent ?? 0);
      this.changed(); // byte counts, and a UDP client's port chosen at its first sendto()
    } catch (error) {
      this.notice.show(error.message);
    }
  }

  /** "sent 5 bytes" beside the Send button; null clears it. */
  showSent(n) {
    this.lastSent = n;
    this.sent.textContent = n === null ? "" : t("send.sent", { n });
  }

  update(ep) {
    this.ep = ep;
    if (this.lastSent != null) this.showSent(this.lastSent);
    const state = String(ep.state || "");
    const gone = GONE.has(state);
    this.root.dataset.state = state;
    this.state.dataset.state = state;
    this.state.textContent = tOr(`state.${state}`, state);
    this.modeText.textContent = this.modeSummary(ep);
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
    this.web.hidden = gone || ep.mode !== "http" || !ep.local;
    if (!this.web.hidden) {
      // a server bound to every address is reached at the address this page came from
      const webHost = ["0.0.0.0", "::"].includes(host) ? window.location.hostname : host;
      const url = `http://${hostPort([webHost, port])}/`;
      this.web.href = url;
      this.web.textContent = t("card.openHttp", { url });
    }

    if (this.kind === "tcp-server") this.updateSockets(ep, gone);
    this.sendForm.hidden = gone || ["file", "files", "http"].includes(ep.mode);
    const server = this.kind.endsWith("-server");
    this.stop.textContent = t(gone ? "card.remove" : server ? "card.stop" : "card.close");
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

  updateSockets(ep, gone) {
    const open = LISTENING.has(ep.state);
    this.listener.dataset.open = String(open);
    this.listenerIcon.textContent = open ? "◉" : "○";
    this.listenerText.textContent = open ? "" : t("card.listenerClosed");
    this.listener.title = t("card.listenerTitle");
    this.stopListening.hidden = !open;
    const conns = Array.isArray(ep.connections) ? ep.connections : [];
    this.connsTitle.textContent = conns.length || !gone ? t("card.conns", { n: conns.length }) : "";
    this.conns.replaceChildren(...conns.map((conn) => this.connRow(conn)));
    setOptions(this.target, [["", t("send.all")], ...conns.map((c) => [c.id, `${c.id} · ${hostPort(c.peer)}`])]);
  }

  connRow(conn) {
    const close = el("button", { type: "button", class: "btn small", testid: "close-connection", "data-control": true,
      title: t("card.closeConnTitle", { id: conn.id }), text: t("card.closeConn") });
    close.addEventListener("click", () => this.act(() => del(`/endpoints/${this.id}/connections/${encodeURIComponent(conn.id)}`)));
    const row = el("li", { class: "conn", testid: "connection", data: { connId: conn.id, state: conn.state || "open" },
      title: t("card.connTitle", { id: conn.id, local: hostPort(conn.local), peer: hostPort(conn.peer) }) },
      el("span", { class: "conn-id", text: conn.id }),
      el("span", { class: "conn-arrow", "aria-hidden": "true", text: "⇄" }),
      el("span", { class: "conn-peer", testid: "connection-peer", text: hostPort(conn.peer) }));
    if (conn.bytes_in !== undefined) {
      row.append(el("span", { class: "conn-bytes", text: `↓${formatNumber(conn.bytes_in)} ↑${formatNumber(conn.bytes_out ?? 0)}` }));
    }
    row.append(el("span", { class: "spacer" }), close);
    return row;
  }
}
