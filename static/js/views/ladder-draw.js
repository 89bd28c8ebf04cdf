// Drawing the sequence diagram: SVG rows and arrows, and the lane headings above them, from a
// LadderModel. Rebuilt as a whole (at most a few times a second): 150 rows are a few hundred nodes.
import { agents } from "../models/agents.js";
import { el } from "../dom.js";
import { formatNumber, t, tOr } from "../i18n.js";
import { laneStats } from "./counters.js";
import { decodeText } from "../models/decode.js";
import { eventText } from "../models/event-text.js";
import { addr, closedByPeer } from "../models/event-socket.js";
import { drawPacket, packetEnds } from "./ladder-wire.js";
import { encoding } from "./log-filter.js";
import { book as names } from "../models/names.js";
import { groupLanes } from "../models/trace-groups.js";

const MAX_ARROWS_IN = 40; // into one recv (a flood may coalesce hundreds of sends into one)
const SVG = "http://www.w3.org/2000/svg";
const scroller = document.getElementById("ladder-scroll");
const lanesBox = document.getElementById("ladder-lanes");
const svg = document.getElementById("ladder");
const empty = document.getElementById("ladder-empty");
const list = document.getElementById("ladder-list");

function node(tag, attrs = {}, text = "") {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) n.setAttribute(k, String(v));
  if (text) n.textContent = text;
  return n;
}

/** A short, single-line preview: control characters as escapes, at most `max` characters. */
function shortText(text, max = 12) {
  if (!text) return "";
  const flat = text.replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t").replace(/[\x00-\x1f\x7f]/g, "·");
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

const bytes = (n) => t("ladder.bytes", { n });

function label(item) {
  const ev = item.ev;
  switch (item.role) {
    case "send":
      // the preview in the encoding chosen for the log (GBK 你好 reads as 你好 here too)
      return ev.hex || ev.data ? t("ladder.send", { size: bytes(ev.size), text: shortText(decodeText(ev, encoding())) })
        : t("ladder.sendBare", { size: bytes(ev.size) });
    case "recv": {
      const size = bytes(item.bytes);
      const senders = new Set(item.sources.map((s) => s.seq)).size;
      if (ev.kind === "header") return t("ladder.header", { size });
      return senders > 1 ? t("ladder.recvMany", { size, n: senders }) : t("ladder.recv", { size });
    }
    case "connect": return t("ladder.connect");
    case "accept": return t("ladder.accept", { conn: ev.conn || "" });
    case "close": return closedByPeer(ev) ? t("ladder.closedByPeer") : ev.closed_by === "reset" ? t("ladder.reset") : t("ladder.close");
    case "eof": return t("ladder.eof");
    case "shutdown": return t("ladder.shutdown");
    case "lost": return t("ladder.lost", { size: bytes(ev.size) });
    default:
      if (ev.kind === "listen") return t("ladder.listen", { port: ev.local ? String(ev.local[1]) : "" });
      if (ev.kind === "error") return t("ladder.error", { text: shortText(eventText(ev), 28) });
      if (ev.kind === "setup" && typeof ev.call === "string") return `${ev.call}()`; // a traced program's socket(), bind(), ...
      if (ev.kind === "close") return t("ladder.close");
      return tOr(`ev.${ev.kind}`, ev.kind);
  }
}

let measurer = null;

/** How wide `text` is drawn in the diagram's font (to put a label where it fits). */
function textWidth(text) {
  return measurer ? measurer.measureText(text).width : text.length * 9;
}

function measureWith(font) {
  if (!measurer) measurer = document.createElement("canvas").getContext("2d");
  measurer.font = `${font}px ${getComputedStyle(svg).fontFamily}`;
}

/** Rows whose other end has no row of its own: drawn to a lane (a lost datagram: towards it). */
function needsFarEnd(item) {
  switch (item.role) {
    case "send": case "connect": return !item.dests.length;
    case "recv": case "accept": case "eof": return !item.sources.length;
    case "close": return closedByPeer(item.ev) && !item.sources.length;
    case "lost": return true;
    default: return false;
  }
}

function orderKey(model, lane) {
  const base = model.lanes.get(lane.endpoint);
  return [base ? base.order : lane.order, lane.conn ? lane.order : -1];
}

/** "127.0.0.1:5000", or just ":5000" in a narrow lane (in a lab the host is nearly always the same). */
const where = (a, compact) => (a ? (compact ? `:${a[1]}` : addr(a)) : "—");

/** ["10.77.0.2", 53422] from an external lane's id "ext 10.77.0.2:53422" (or "ext [v6]:port"). */
function externalPeer(id) {
  const text = id.slice(4);
  const cut = text.lastIndexOf(":");
  return [text.slice(0, cut).replace(/^\[|\]$/g, ""), Number(text.slice(cut + 1))];
}

/** A lane's address line: "⇄ Ann" for a connection whose peer has a name (the address in its title). */
function laneAddr(lane, compact) {
  const name = lane.peer ? names.of(lane.peer) : null;
  if (name === null) {
    return el("span", { class: "lane-addr", text: lane.conn ? `⇄ ${where(lane.peer, compact)}` : where(lane.local, compact) });
  }
  return el("span", { class: "lane-addr named", testid: "lane-name", title: addr(lane.peer) }, "⇄ ", el("bdi", { text: name }));
}

function laneHeader(model, id, x, width, compact) {
  const box = el("div", { class: "lane-head", testid: "ladder-lane", data: { lane: id } });
  box.style.left = `${x - width / 2}px`;
  box.style.width = `${width}px`;
  if (id.startsWith("ext ")) {
    box.classList.add("external");
    const peer = externalPeer(id);
    const name = names.of(peer); // a student's program, named: the address stays one hover away
    box.append(el("span", { class: "lane-id", text: t("ladder.outside") }),
      el("span", { class: "lane-addr", text: name === null ? (compact ? `:${id.split(":").pop()}` : id.slice(4)) : null,
        title: name === null ? null : id.slice(4), testid: name === null ? null : "lane-name" },
      name === null ? null : el("bdi", { text: name })));
    return box;
  }
  const lane = model.lanes.get(id);
  box.dataset.kind = lane.kind;
  const stats = laneStats(id);
  const numbers = { out: formatNumber(stats.bytesOut), in: formatNumber(stats.bytesIn) };
  if (lane.program) box.classList.add("traced"); // a student's socket: named by its thread (the id on hover)
  // the lab agent it runs on, as its events named it: a tag in the heading's corner, and the id without
  // its "@agent" (the tag says it); with one agent (the sandbox) neither says anything and both go
  const agent = lane.program ? "" : agents.ownerOf(lane.endpoint);
  const tagged = agent !== "" && agents.list().length > 1;
  const shown = lane.program ? lane.thread ?? id : agent ? id.replace(`@${agent}`, "") : id;
  box.append(el("span", { class: "lane-id", text: shown, title: shown === id ? null : id }),
    // a narrow lane says its kind in a word ("accepted"): the whole name is one hover away, never cut
    el("span", { class: "lane-kind", text: compact ? tOr(`ladder.kindShort.${lane.kind}`, tOr(`ladder.kind.${lane.kind}`, lane.kind))
      : tOr(`ladder.kind.${lane.kind}`, lane.kind), title: compact ? tOr(`ladder.kind.${lane.kind}`, lane.kind) : null }),
    laneAddr(lane, compact),
    el("span", { class: "lane-bytes", testid: "lane-bytes", text: t(compact ? "ladder.laneBytesShort" : "ladder.laneBytes", numbers) }));
  if (tagged) { // (a traced program's name is over its group already)
    const state = agents.stateOf(agent) || "unknown";
    // (down: said in words, as on the card, not by the tag's red alone)
    box.append(el("span", { class: "agent-tag lane-agent", testid: "lane-agent", text: state === "down" ? `${agent} · ${t("agents.cardDown")}` : agent,
      title: state === "down" ? t("agents.cardDown") : null, data: { agentState: state } }));
    Object.assign(box.dataset, { agent, agentState: state });
  }
  if (lane.closed !== null) box.classList.add("closed");
  return box;
}

/** A traced program's name over its lanes (trace-groups.js). */
function programHead(group, lanes, x, laneW) {
  const head = el("div", { class: "program-head", testid: "lane-group", text: group.program,
    title: t("ladder.program", { name: group.program }), data: { program: group.program } });
  head.style.left = `${x.get(lanes[group.first]) - laneW / 2 + 3}px`;
  head.style.width = `${(group.last - group.first + 1) * laneW - 6}px`;
  return head;
}

function arrow(g, x1, y1, x2, y2, cls, attrs = {}) {
  const dx = x2 - x1;
  const line = node("line", { x1: x1 + Math.sign(dx) * 6, y1, x2: x2 - Math.sign(dx) * 7, y2, class: `arrow ${cls}`,
    "marker-end": cls.includes("lost") ? null : `url(#head-${cls.split(" ")[0]})`, ...attrs });
  g.append(line);
  return line;
}

/** Draw the newest `maxRows` rows of `model` (on the lanes in `focus`, a Set, or all); `wire`: with the packets. */
export function drawLadder(model, focus, maxRows, { wire = true } = {}) {
  const font = parseFloat(getComputedStyle(svg).fontSize) || 15;
  const rowH = Math.round(font * 1.95);
  measureWith(font);
  const { rows, earlier } = model.visible(maxRows, focus, wire);
  const shown = new Set(rows.filter((r) => r.role !== "packet").map((r) => r.lane)); // a packet's lanes: its two ends, below
  // open sockets keep their lane; a listening socket only while its rows are in view
  for (const lane of model.lanes.values()) {
    const listener = lane.proto === "tcp" && !lane.peer;
    if (lane.closed === null && lane.first !== null && !listener && (!focus || focus.has(lane.id))) shown.add(lane.id);
  }
  const far = new Map(); // item seq -> lane id of its far end, when drawn to it
  for (const item of rows) {
    if (!needsFarEnd(item)) continue;
    const end = model.farEndOf(item); // null when the lab socket there has left
    if (!end || (item.role !== "lost" && !end.startsWith("ext "))) continue; // in flight to a lab lane
    far.set(item.seq, end);
    shown.add(end);
  }
  const ends = packetEnds(model, rows); // the wire layer (ladder-wire.js): each packet's two lanes
  for (const pair of ends.values()) for (const id of pair) if (id) shown.add(id);
  for (const item of rows) {
    for (const link of item.sources) {
      const other = model.bySeq.get(link.seq);
      if (other) shown.add(other.lane);
    }
  }
  const sorted = [...shown].filter((id) => !id.startsWith("ext ")).map((id) => model.lanes.get(id))
    .sort((a, b) => { const [p, q] = [orderKey(model, a), orderKey(model, b)]; return p[0] - q[0] || p[1] - q[1]; })
    .map((lane) => lane.id)
    .concat([...shown].filter((id) => id.startsWith("ext ")).sort());
  const { order: lanes, groups } = groupLanes(sorted, (id) => model.lanes.get(id)); // a student's program: side by side
  const minLane = font * 5.5;
  const width = Math.max(scroller.clientWidth - 2, lanes.length * minLane);
  // a few lanes (a focus on one connection) sit closer together: room outside them for the labels
  const few = lanes.length <= 3;
  const laneW = few ? width / (lanes.length + 1) : width / lanes.length;
  const x = new Map(lanes.map((id, i) => [id, few ? laneW * (i + 1) : laneW * (i + 0.5)]));
  const top = earlier ? rowH : 0;
  const height = top + rows.length * rowH + rowH / 2;
  const y = new Map(rows.map((item, i) => [item.seq, top + i * rowH + rowH / 2]));

  lanesBox.replaceChildren(...lanes.map((id) => laneHeader(model, id, x.get(id), laneW, laneW < font * 9.5)),
    ...groups.map((group) => programHead(group, lanes, x, laneW)));
  lanesBox.style.width = `${width}px`;
  lanesBox.classList.toggle("with-programs", groups.length > 0); // (a row for the programs' names)
  // a heading whose words do not fit its lane (a language with longer words, a crowded diagram) says
  // them in the short form: the lane heads never show half a word
  for (const head of lanesBox.querySelectorAll(".lane-head:not(.short)")) {
    if ([...head.children].some((part) => part.scrollWidth > part.clientWidth + 1)) {
      const short = laneHeader(model, head.dataset.lane, x.get(head.dataset.lane), laneW, true);
      short.classList.add("short");
      head.replaceWith(short);
    }
  }
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const defs = node("defs");
  for (const kind of ["data", "udp", "ctl", "fin", "wire", "rst"]) {
    const marker = node("marker", { id: `head-${kind}`, viewBox: "0 0 10 10", refX: 8, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
    // a packet's head is open, a call's filled: the two layers differ by shape as well as colour
    marker.append(node("path", kind === "wire" ? { d: "M0,0 L10,5 L0,10", class: "head open wire" } : { d: "M0,0 L10,5 L0,10 z", class: `head ${kind}` }));
    defs.append(marker);
  }
  const laneLayer = node("g", { class: "lanes" });
  const arrowLayer = node("g", { class: "arrows" });
  const rowLayer = node("g", { class: "rows" });
  if (earlier) {
    rowLayer.append(node("text", { x: 8, y: rowH * 0.65, class: "earlier", "data-testid": "ladder-earlier" },
      t("ladder.earlier", { n: earlier })));
  }
  for (const group of groups) { // the program's lanes on a tinted band, under its name
    const left = x.get(lanes[group.first]) - laneW / 2 + 3;
    laneLayer.append(node("rect", { x: left, y: 0, width: (group.last - group.first + 1) * laneW - 6, height,
      rx: 10, class: "program-band", "data-program": group.program }));
  }
  for (const id of lanes) {
    const lane = model.lanes.get(id);
    const firstY = lane && y.has(lane.first) ? y.get(lane.first) : top;
    const endY = lane && lane.closed !== null && y.has(lane.closed) ? y.get(lane.closed) : height;
    laneLayer.append(node("line", { x1: x.get(id), x2: x.get(id), y1: firstY, y2: endY, class: lane ? "lane" : "lane external" }));
  }
  for (const item of rows) {
    if (item.role === "packet") drawPacket(model, item, { x, y, rowLayer, arrowLayer, ends, font, node, arrow, textWidth });
    else drawItem(model, item, { x, y, top, rowLayer, arrowLayer, far, width, font });
  }
  svg.replaceChildren(defs, laneLayer, arrowLayer, rowLayer);
  // the same rows for a screen reader: each row's sentence, as the log gives it, in the page's language
  if (list) list.replaceChildren(...rows.map((item) => el("li", { data: { seq: item.seq }, text: eventText(item.ev) })));
  svg.classList.toggle("wire-on", ends.size > 0); // real packets drawn: the calls' own FIN and handshake links step back
  empty.hidden = rows.length > 0;
  svg.dataset.rows = String(rows.length);
}

function drawItem(model, item, { x, y, top, rowLayer, arrowLayer, far, width, font }) {
  const lane = model.lanes.get(item.lane);
  const cx = x.get(item.lane);
  const cy = y.get(item.seq);
  const udp = lane.proto === "udp";
  const g = node("g", { class: `row ${item.role}`, "data-seq": item.seq, "data-kind": item.ev.kind, "data-lane": item.lane,
    "data-testid": `ladder-${item.role}` });
  if (item.role === "recv") g.setAttribute("data-sends", String(new Set(item.sources.map((s) => s.seq)).size));
  g.setAttribute("data-bytes", String(item.bytes));
  rowLayer.append(g);
  // incoming links: data from sends, connect -> accept, FIN -> "recv() returned 0"
  let from = 0; // the x the arrows come from, for placing the label on the other side
  let fromAbove = false; // one arrow stands for all the sends folded away above
  let drawn = 0;
  for (const link of item.sources) {
    const src = model.bySeq.get(link.seq);
    if (!src || !x.has(src.lane)) continue;
    if (!y.has(src.seq) && fromAbove) continue;
    if (++drawn > MAX_ARROWS_IN) break; // the label says how many sends there were
    fromAbove ||= !y.has(src.seq);
    const sx = x.get(src.lane);
    const sy = y.has(src.seq) ? y.get(src.seq) : top;
    from = sx;
    const cls = item.role === "recv" ? (udp ? "udp" : "data") : item.role === "accept" ? "ctl" : "fin";
    const line = arrow(arrowLayer, sx, sy, cx, cy, cls, { "data-testid": "ladder-arrow", "data-send": src.seq,
      "data-recv": item.seq, "data-bytes": link.bytes, "data-kind": cls });
    if (cls === "ctl" || cls === "fin") line.classList.add("dashed");
    if (cls === "fin") arrowLayer.append(node("text", { x: (sx + cx) / 2, y: (sy + cy) / 2 - 5, class: "arrow-label" }, "FIN"));
  }
  const end = far.get(item.seq);
  if (end && x.has(end)) {
    const ex = x.get(end);
    if (item.role === "lost") {
      const stop = cx + (ex - cx) * 0.6;
      arrow(arrowLayer, cx, cy, stop, cy + 2, "lost udp", { "data-testid": "ladder-lost-arrow", "data-send": item.seq });
      const s = 7;
      arrowLayer.append(node("path", { d: `M${stop - s},${cy + 2 - s} L${stop + s},${cy + 2 + s} M${stop - s},${cy + 2 + s} L${stop + s},${cy + 2 - s}`,
        class: "lost-x", "data-testid": "ladder-lost-x" }));
    } else if (item.role === "send" || item.role === "connect") {
      arrow(arrowLayer, cx, cy, ex, cy, item.role === "send" ? (udp ? "udp" : "data") : "ctl dashed", { "data-testid": "ladder-arrow-out" });
    } else {
      from = ex;
      arrow(arrowLayer, ex, cy, cx, cy, item.role === "recv" ? (udp ? "udp" : "data") : item.role === "accept" ? "ctl dashed" : "fin dashed",
        { "data-testid": "ladder-arrow-in" });
    }
  }
  if (item.role === "accept") {
    const base = x.get(lane.endpoint);
    if (base !== undefined) arrowLayer.append(node("line", { x1: base, y1: cy, x2: cx, y2: cy, class: "spawn" }));
  }
  const active = item.role === "close" && !closedByPeer(item.ev);
  g.append(node(active || item.role === "shutdown" ? "rect" : "circle", active || item.role === "shutdown"
    ? { x: cx - 6, y: cy - 6, width: 12, height: 12, class: "dot" } : { cx, cy, r: item.role === "recv" && item.sources.length > 1 ? 7 : 5, class: "dot" }));
  // the label goes on the side away from incoming arrows, above outgoing ones
  const outgoing = item.dests.length ? model.bySeq.get(item.dests[0].seq) : null;
  const towards = outgoing && x.has(outgoing.lane) ? x.get(outgoing.lane) : end && x.has(end) ? x.get(end) : null;
  const words = label(item);
  const room = textWidth(words) + 14;
  let left = false;
  let ly = cy + 5;
  if (towards !== null && item.role !== "recv") {
    left = towards > cx; // away from the arrow it starts; above it when there is no room
    if ((left && cx - room < 0) || (!left && cx + room > width)) {
      left = !left;
      ly = cy - 7;
    }
  } else {
    left = Boolean(from) && from > cx; // away from the arrows coming in
    if (!left && cx + room > width && cx - room >= 0) left = true;
    else if (left && cx - room < 0 && cx + room <= width) left = false;
  }
  const text = node("text", { x: cx + (left ? -10 : 10), y: ly, "text-anchor": left ? "end" : "start", class: "label" }, words);
  if (item.role === "recv" && item.sources.length > 1) text.classList.add("many");
  g.append(text);
  g.append(node("title", {}, eventText(item.ev)));
}
