// Drawing the wire layer: each captured packet a thin arrow of its own colour between the lanes of
// the sockets it went between, its flags written over it (large enough for the back of a room).
// A lost segment's arrow stops short in an X; its retransmission says how long after it came.
// The segments of one send() hang from that send by a dotted bracket on the sender's lane, so a
// send the kernel split, or several sends glued into one segment, can be seen.
// ladder-draw.js calls these with its own SVG helpers (node, arrow, textWidth): one way of drawing.
import { t } from "../i18n.js";
import { eventText } from "../models/event-text.js";
import { flagsText, wireEnds } from "../models/wire-model.js";

/** The two lanes of every packet row drawn: seq -> [from, to] (lab lane ids or "ext host:port"). */
export function packetEnds(model, rows) {
  const at = new Map(rows.map((row, i) => [row.seq, i]));
  const ends = new Map();
  for (const item of rows) {
    if (item.role !== "packet" || !item.packet) continue;
    const mine = at.get(item.seq);
    // a socket made by accept() later is not there yet: the handshake goes to the listening socket
    const drawnBy = (id) => {
      const first = model.lanes.get(id)?.first;
      return !at.has(first) || at.get(first) <= mine;
    };
    ends.set(item.seq, wireEnds(model, item, drawnBy));
  }
  return ends;
}

/** "seq=1 ack=1 len=5": the numbers a teacher points at (relative, as Wireshark shows them). */
function numbers(p) {
  if (p.proto === "udp") return t("wire.udpLen", { n: p.len });
  const parts = [];
  if (p.seq !== null) parts.push(`seq=${p.seq}`);
  if (p.ack && p.ackNo !== null) parts.push(`ack=${p.ackNo}`);
  if (p.len) parts.push(`len=${p.len}`);
  return parts.join(" ");
}

/** What Wireshark's analysis marked (first: the point of a loss lesson), then how this segment relates to its send()s. */
function notes(model, item) {
  const marks = [];
  const w = item.wire;
  if (w.resent) marks.push(t("wire.resent", { ms: w.resent.ms }));
  for (const a of item.packet.analysis) if (a !== "retransmission") marks.push(t(`wire.analysis.${a}`));
  if (w.lost) marks.push(t("wire.lost"));
  const sends = [];
  if (w.sends.length > 1) sends.push(t("wire.glued", { n: w.sends.length }));
  else if (w.sends.length === 1 && !w.resent) {
    const parts = model.bySeq.get(w.sends[0])?.segments ?? [];
    if (parts.length > 1 && parts.includes(item.seq)) sends.push(t("wire.part", { i: parts.indexOf(item.seq) + 1, n: parts.length }));
  }
  return { marks, sends };
}

/** One packet row: its arrow, its flags and numbers, the bracket to the send()s it carries. */
export function drawPacket(model, item, ctx) {
  const { x, y, rowLayer, arrowLayer, ends, font, node, arrow, textWidth } = ctx;
  const p = item.packet;
  const cy = y.get(item.seq);
  const [from, to] = ends.get(item.seq) ?? [];
  const fx = x.get(from);
  const tx = x.get(to);
  const g = node("g", { class: "row packet", "data-seq": item.seq, "data-kind": item.ev.kind, "data-lane": item.lane,
    "data-testid": "ladder-packet", "data-flags": flagsText(p), "data-bytes": p.len });
  if (item.wire.lost) g.dataset.lost = "true";
  if (item.wire.resent) g.dataset.resent = String(item.wire.resent.ms);
  if (item.wire.handshake) g.dataset.handshake = "true";
  rowLayer.append(g);
  g.append(node("title", {}, eventText(item.ev)));
  if (fx === undefined || tx === undefined || fx === tx) return;
  const cls = p.rst ? "rst wire" : "wire";
  const ly = cy + font * 0.35; // the arrow sits low in its row, the words above it
  let mid = (fx + tx) / 2; // the words stand over the middle of what is drawn
  if (item.wire.lost) {
    const stop = fx + (tx - fx) * 0.7;
    mid = (fx + stop) / 2;
    arrow(arrowLayer, fx, ly, stop, ly, `${cls} lost`, { "data-testid": "wire-lost-arrow", "data-seq": item.seq });
    const s = font * 0.35;
    arrowLayer.append(node("path", { d: `M${stop - s},${ly - s} L${stop + s},${ly + s} M${stop - s},${ly + s} L${stop + s},${ly - s}`,
      class: "wire-x", "data-testid": "wire-lost-x" }));
  } else {
    arrow(arrowLayer, fx, ly, tx, ly, cls, { "data-testid": "wire-arrow", "data-seq": item.seq });
  }
  bracket(model, item, { fx, tx, ly, y, arrowLayer, node, font });
  // the words: flags first (what the lesson is about), then what analysis marked, the send()s it
  // carries, the numbers: each while it still fits between the two lanes
  const span = Math.abs(tx - fx) - font;
  const { marks, sends } = notes(model, item);
  const head = flagsText(p);
  let tail = "";
  for (const piece of [...marks, ...sends, numbers(p)]) {
    if (!piece) continue;
    const longer = tail ? `${tail} · ${piece}` : piece;
    // what analysis marked may reach past the lanes (the words have a halo); the rest stays between them
    if (textWidth(`${head} ${longer}`) * 0.85 <= span * (marks.includes(piece) ? 1.6 : 1)) tail = longer;
  }
  const text = node("text", { x: mid, y: ly - font * 0.3, "text-anchor": "middle",
    class: `wire-label${p.rst ? " rst" : ""}${item.wire.resent ? " resent" : ""}${item.wire.lost ? " lost" : ""}`, "data-testid": "wire-label" });
  const flags = node("tspan", { class: "flags" }, head);
  text.append(flags);
  if (tail) text.append(node("tspan", {}, ` ${tail}`));
  g.append(text);
}

/** A dotted bracket on the sender's lane, from the send() row(s) a segment carries down to it. */
function bracket(model, item, { fx, tx, ly, y, arrowLayer, node, font }) {
  const tops = item.wire.sends.map((seq) => y.get(seq)).filter((v) => v !== undefined);
  if (!tops.length) return;
  const side = Math.sign(tx - fx) * font * 0.55; // just off the lane, on the side the arrow leaves
  const bx = fx + side;
  arrowLayer.append(node("path", { d: `M${fx},${Math.min(...tops)} L${bx},${Math.min(...tops)} L${bx},${ly}`,
    class: "wire-group", "data-testid": "wire-group", "data-seq": item.seq }));
  for (const top of tops) arrowLayer.append(node("line", { x1: fx, y1: top, x2: bx, y2: top, class: "wire-group" }));
}
