// Live numbers per socket, computed from the events alone (so a replay shows them too): bytes and
// messages in and out, and rates over the last RATE_WINDOW seconds of event time.
// A "message" is one send() or recv() call; for UDP, one datagram.
import { el } from "../dom.js";
import { formatNumber, onLanguageChange, t, tOr } from "../i18n.js";
import { startsLane } from "../models/kinds.js";
import { laneOf } from "../models/event-socket.js";

const RATE_WINDOW = 2; // seconds
const BUCKET = 0.25; // seconds per rate bucket
const table = document.getElementById("counters-body");
const pane = document.getElementById("pane-numbers");
const empty = document.getElementById("counters-empty");
const stats = new Map(); // lane id -> numbers
let clock = () => Date.now() / 1000;
let laneInfo = () => null;
let frame = 0;

const ZERO = Object.freeze({ bytesIn: 0, bytesOut: 0, msgsIn: 0, msgsOut: 0, lost: 0 });

/** The numbers of one lane ("e1", "e1/c1"), zeros when it has none yet. */
export function laneStats(id) {
  return stats.get(id) || ZERO;
}

function entry(ev) {
  const id = laneOf(ev);
  let s = stats.get(id);
  if (!s) {
    s = { id, endpoint: String(ev.endpoint ?? ""), conn: ev.kind === "refuse" ? null : ev.conn ?? null,
      proto: ev.proto, bytesIn: 0, bytesOut: 0, msgsIn: 0, msgsOut: 0, lost: 0, buckets: new Map(), order: stats.size };
    stats.set(id, s);
  }
  return s;
}

function bucketOf(s, ts) {
  const key = Math.floor(ts / BUCKET);
  let b = s.buckets.get(key);
  if (!b) {
    s.buckets.set(key, (b = [0, 0]));
    if (s.buckets.size > 4 * RATE_WINDOW / BUCKET) {
      const oldest = key - 2 * RATE_WINDOW / BUCKET;
      for (const k of s.buckets.keys()) if (k < oldest) s.buckets.delete(k);
    }
  }
  return b;
}

export function add(events) {
  for (const ev of events) {
    const size = Number(ev.size) || 0;
    if (ev.kind === "send") {
      const s = entry(ev);
      s.bytesOut += size;
      s.msgsOut += 1;
      bucketOf(s, ev.ts)[1] += size;
    } else if (ev.kind === "recv" || ev.kind === "progress") {
      const s = entry(ev);
      s.bytesIn += size;
      if (ev.kind === "recv") s.msgsIn += 1;
      bucketOf(s, ev.ts)[0] += size;
    } else if (ev.kind === "lost") {
      entry(ev).lost += 1;
    } else if (startsLane(ev.kind)) { // a socket with no traffic yet still gets its row
      entry(ev);
    }
  }
  schedule();
}

export function reset() {
  stats.clear();
  schedule();
}

/** These lanes left the diagram (their sockets closed a while ago): their rows leave the numbers too. */
export function forget(ids) {
  for (const id of ids) stats.delete(id);
  schedule();
}

/** Where "now" is for rates: the server's clock while live, the replay's while replaying. */
export function setClock(fn) {
  clock = fn;
}

/** fn(laneId) -> {kind} from the diagram's lanes. */
export function setLaneInfo(fn) {
  laneInfo = fn;
}

/** Bytes per second in and out over the last RATE_WINDOW seconds. */
export function rates(s) {
  const since = Math.floor((clock() - RATE_WINDOW) / BUCKET);
  let inBytes = 0;
  let outBytes = 0;
  for (const [key, [i, o]] of s.buckets || []) {
    if (key > since) {
      inBytes += i;
      outBytes += o;
    }
  }
  return [inBytes / RATE_WINDOW, outBytes / RATE_WINDOW];
}

/** "1.5 MB/s", "320 B/s": rates a class reads at a glance. */
export function rateText(bps) {
  if (bps < 1) return "0";
  const units = ["B/s", "kB/s", "MB/s", "GB/s"];
  let i = 0;
  while (bps >= 1000 && i < units.length - 1) {
    bps /= 1000;
    i++;
  }
  return `${formatNumber(Number(bps.toFixed(bps < 10 && i ? 1 : 0)))} ${units[i]}`;
}

function sum(rows) {
  const total = { bytesIn: 0, bytesOut: 0, msgsIn: 0, msgsOut: 0, lost: 0, buckets: [] };
  for (const s of rows) {
    for (const k of ["bytesIn", "bytesOut", "msgsIn", "msgsOut", "lost"]) total[k] += s[k];
    total.buckets.push(...s.buckets);
  }
  return total;
}

function row(id, s, kind, level) {
  const [rin, rout] = rates(s);
  const cell = (value, key) => el("td", { class: "num", data: { key }, text: value });
  const tr = el("tr", { testid: "counter-row", data: { lane: id, level: String(level) } },
    el("th", { scope: "row", class: "c-sock" }, el("span", { class: "lane-id", text: id }),
      el("span", { class: "c-kind", text: tOr(`ladder.kind.${kind}`, kind) })),
    cell(formatNumber(s.bytesIn), "bytesIn"), cell(formatNumber(s.msgsIn), "msgsIn"), cell(rateText(rin), "rateIn"),
    cell(formatNumber(s.bytesOut), "bytesOut"), cell(formatNumber(s.msgsOut), "msgsOut"), cell(rateText(rout), "rateOut"),
    cell(s.lost ? formatNumber(s.lost) : "—", "lost"));
  if (rin || rout) tr.classList.add("busy");
  return tr;
}

/** Endpoints in order, each followed by its connections (the server's row adds them up). */
function render() {
  frame = 0;
  if (pane.hidden) return;
  const groups = new Map();
  for (const s of [...stats.values()].sort((a, b) => a.order - b.order)) {
    if (!groups.has(s.endpoint)) groups.set(s.endpoint, { base: null, conns: [] });
    const group = groups.get(s.endpoint);
    if (s.conn) group.conns.push(s);
    else group.base = s;
  }
  const rows = [];
  for (const [endpoint, group] of groups) {
    const kind = laneInfo(endpoint)?.kind || (group.conns.length ? "tcp-server" : "");
    const own = group.base ? [group.base] : [];
    rows.push(row(endpoint, group.conns.length ? sum([...own, ...group.conns]) : own[0], kind, 0));
    for (const c of group.conns) rows.push(row(c.id, c, "connection", 1));
  }
  table.replaceChildren(...rows);
  empty.hidden = rows.length > 0;
}

export function schedule() {
  if (!frame) frame = requestAnimationFrame(render);
}

export function initCounters() {
  setInterval(schedule, 500); // rates fall back to zero when the traffic stops
  onLanguageChange(schedule);
}

// the classroom's view interface (classroom.js VIEWS): init, add, reset, redraw
export const init = initCounters;
export const redraw = schedule;
