// What the kernel and the lab counted for a socket, drawn for the back of the room: send() and
// recv() calls and restored messages (the sticky-packet lesson), the kernel's TCP_INFO, and UDP's
// sent / received / lost / dropped datagrams.
import { el, hostPort } from "../dom.js";
import { formatNumber, t } from "../i18n.js";

/**
 * Who is on the other end of each lab TCP connection, so a receiver can show how many send()
 * calls its peer made: clients by their local address, server connections by their peer's.
 */
export function peerIndex(list) {
  const clients = new Map();
  const serverConns = new Map();
  const servers = new Map();
  for (const ep of list) {
    if (ep.kind === "tcp-client" && ep.local && ep.connection) clients.set(hostPort(ep.local), { ep, conn: ep.connection });
    if (ep.kind === "tcp-server") {
      if (ep.local) servers.set(hostPort(ep.local), ep);
      for (const conn of ep.connections || []) serverConns.set(hostPort(conn.peer), { ep, conn });
    }
  }
  return {
    /** The other side of a server's connection `conn`, when it is a lab client. */
    ofServerConn: (conn) => clients.get(hostPort(conn.peer)) || null,
    /** The server's connection that a lab client `ep` is talking to. */
    ofClient: (ep) => (ep.local ? serverConns.get(hostPort(ep.local)) || null : null),
    /** The lab server at `addr` (a client's remote), for its framing. */
    server: (addr) => (addr ? servers.get(hostPort(addr)) || null : null),
  };
}

const num = (n, cls = "") => el("b", { class: `stat-num ${cls}`.trim(), text: formatNumber(n) });
const call = (text) => el("span", { class: "stat-call", text });

/**
 * "↑ 20 send()" and "↓ 20 send() → 3 recv() → 20 messages" for one connection; `peer` is the
 * connection on the other side when the lab knows it. Null when nothing moved yet.
 */
export function streamCounters(conn, peer, framing) {
  const sends = Number(conn.sends || 0);
  const recvs = Number(conn.recvs || 0);
  const messages = Number(conn.messages || 0);
  if (!sends && !recvs) return null;
  const box = el("div", { class: "stream", testid: "stream-counters",
    data: { sends, recvs, messages, bytesIn: Number(conn.bytes_in || 0), peerSends: peer ? Number(peer.sends || 0) : "" } });
  if (sends) {
    box.append(el("p", { class: "stream-line out", testid: "stream-out" },
      el("span", { class: "stream-dir", "aria-hidden": "true", text: "↑" }), num(sends), call("send()")));
  }
  if (recvs) {
    const line = el("p", { class: "stream-line in", testid: "stream-in" },
      el("span", { class: "stream-dir", "aria-hidden": "true", text: "↓" }));
    if (peer) line.append(num(Number(peer.sends || 0)), call("send()"), el("span", { class: "stream-arrow", text: "→" }));
    line.append(num(recvs, "recvs"), call("recv()"));
    if (framing !== "raw") {
      line.append(el("span", { class: "stream-arrow", text: "→" }), num(messages, "messages"),
        call(t("stats.messages", { n: messages })));
    }
    box.append(line);
  }
  return box;
}

/**
 * One sentence under the counters, when they teach something: a framed socket that received, or
 * a raw one whose recv() calls were fewer than its peer's send() calls (sticky packets). Else null.
 */
export function streamLesson(conn, peer, framing) {
  const recvs = Number(conn.recvs || 0);
  const glued = peer && recvs > 0 && recvs < Number(peer.sends || 0);
  if (!recvs || (framing === "raw" && !glued)) return null;
  return el("p", { class: "stream-why", testid: "stream-why", text: t(`stats.why.${framing}`) });
}

function rtt(us) {
  if (us == null) return "—";
  return us < 1000 ? t("tcpinfo.us", { n: us }) : t("tcpinfo.ms", { n: (us / 1000).toFixed(1) });
}

/**
 * The kernel's TCP_INFO for one connection: a one-line summary (state, RTT) that opens into
 * the rest; `open` remembers which ones the teacher opened across refreshes.
 */
export function tcpInfoBlock(info, key, open, reload) {
  if (!info) return null;
  const details = el("details", { class: "tcpinfo", testid: "tcp-info", data: { state: info.state || "" } });
  details.open = open.has(key);
  details.addEventListener("toggle", () => (details.open ? open.add(key) : open.delete(key)));
  details.append(el("summary", {},
    el("span", { class: "tcpinfo-tag", text: "TCP_INFO" }),
    el("b", { class: "tcpinfo-state", testid: "tcp-info-state", text: info.state || "?" }),
    el("span", { text: `RTT ${rtt(info.rtt_us)}` })));
  const rows = [
    ["tcpinfo.rtt", `${rtt(info.rtt_us)} ± ${rtt(info.rttvar_us)}`],
    ["tcpinfo.cwnd", t("tcpinfo.segments", { n: info.snd_cwnd ?? 0 })],
    ["tcpinfo.retrans", `${formatNumber(info.retransmits ?? 0)} / ${formatNumber(info.total_retrans ?? 0)}`],
    ["tcpinfo.acked", t("tcpinfo.bytes", { n: info.bytes_acked ?? 0 })],
    ["tcpinfo.received", t("tcpinfo.bytes", { n: info.bytes_received ?? 0 })],
    ["tcpinfo.unacked", formatNumber(info.unacked ?? 0)],
  ];
  const grid = el("dl", { class: "tcpinfo-grid", testid: "tcp-info-grid" });
  for (const [label, value] of rows) {
    grid.append(el("dt", { i18n: label, "data-i18n-title": `${label}Title` }), el("dd", { text: value }));
  }
  const refresh = el("button", { type: "button", class: "btn small", testid: "tcp-info-refresh", i18n: "tcpinfo.refresh" });
  refresh.addEventListener("click", reload);
  details.append(grid, el("div", { class: "tcpinfo-foot" },
    el("span", { class: "tcpinfo-note", i18n: "tcpinfo.note" }), refresh));
  return details;
}

/** UDP: datagrams sent, received, lost by the simulated network (when there is one), dropped by the kernel. */
export function udpStats(ep) {
  const cells = [
    ["out", "udp.sent", ep.datagrams_out],
    ["in", "udp.received", ep.datagrams_in],
    ["lost", "udp.lost", ep.datagrams_lost],
    ["drops", "udp.drops", ep.kernel_drops],
  ];
  const box = el("div", { class: "udp-stats", testid: "udp-stats" });
  for (const [key, label, value] of cells) {
    box.dataset[key] = value == null ? "" : String(value);
    if (key === "lost" && !ep.impair) continue; // only a simulated bad network loses datagrams here
    box.append(el("span", { class: "udp-stat", data: { stat: key, zero: String(!value) }, "data-i18n-title": `${label}Title` },
      el("b", { class: "stat-num", testid: `udp-${key}`, text: value == null ? "—" : formatNumber(value) }),
      el("span", { class: "udp-label", i18n: label })));
  }
  return box;
}

/** "line \n", "length", "loss 20% · dup 5% · seed 1", "SO_BROADCAST": what the mode pill adds. */
export function teachingSummary(ep) {
  const parts = [];
  if (ep.framing === "line") parts.push(t("summary.line", { delim: escapeDelimiter(ep.delimiter ?? "\n") }));
  if (ep.framing === "length") parts.push(t("summary.length"));
  if (ep.rules?.length) parts.push(t("summary.rules", { n: ep.rules.length }));
  if (ep.broadcast) parts.push("SO_BROADCAST");
  if (ep.recv_delay_ms > 0) parts.push(readsEvery(ep));
  const imp = ep.impair;
  if (imp) {
    const pct = (x) => `${Math.round(x * 1000) / 10}%`;
    if (imp.loss) parts.push(t("summary.loss", { p: pct(imp.loss) }));
    if (imp.duplicate) parts.push(t("summary.duplicate", { p: pct(imp.duplicate) }));
    if (imp.reorder) parts.push(t("summary.reorder", { p: pct(imp.reorder) }));
    if (imp.delay_ms || imp.jitter_ms) parts.push(t("summary.delay", { ms: imp.delay_ms, jitter: imp.jitter_ms }));
    parts.push(t("summary.seed", { seed: imp.seed }));
  }
  return parts;
}

/** "reads every 200 ms": a tcp-server made a slow reader (recv_delay_ms), so a burst glues; "" otherwise. */
export function readsEvery(ep) {
  return ep.recv_delay_ms > 0 ? t("summary.readsEvery", { n: ep.recv_delay_ms }) : "";
}

/**
 * What a socket moved so far, for its one-line chip: calls (send() / recv() for TCP, datagrams
 * for UDP) and bytes, each way. A server's totals are its own (they outlive closed connections).
 */
export function trafficTotals(ep) {
  const conns = Array.isArray(ep.connections) ? ep.connections : ep.connection ? [ep.connection] : [];
  const sum = (key) => conns.reduce((n, c) => n + Number(c[key] || 0), 0);
  const udp = String(ep.kind || "").startsWith("udp");
  return {
    udp,
    callsOut: udp ? Number(ep.datagrams_out || 0) : sum("sends"),
    callsIn: udp ? Number(ep.datagrams_in || 0) : sum("recvs"),
    bytesOut: Number(ep.bytes_out ?? sum("bytes_out")),
    bytesIn: Number(ep.bytes_in ?? sum("bytes_in")),
  };
}

const ESCAPES = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\" };

/** A delimiter as typed: "\n" shows as the two characters \ and n. */
export function escapeDelimiter(text) {
  return String(text).replace(/[\n\r\t\\]/g, (c) => ESCAPES[c]);
}

/** The reverse: "\r\n" typed in the form becomes CR LF. */
export function unescapeDelimiter(text) {
  return String(text).replace(/\\([nrt\\])/g, (whole, c) => ({ n: "\n", r: "\r", t: "\t", "\\": "\\" })[c]);
}
