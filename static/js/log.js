// The event log table: rows are added in requestAnimationFrame batches, the newest at the bottom,
// at most MAX_ROWS kept. It follows the newest row unless the user scrolled up to read.
import { el, hostPort } from "./dom.js";
import { formatNumber, onLanguageChange, t, tOr } from "./i18n.js";

const MAX_ROWS = 500;
const body = document.getElementById("log-body");
const scroller = document.getElementById("log-scroll");
const empty = document.getElementById("log-empty");
const count = document.getElementById("log-count");
const followButton = document.getElementById("log-follow");
let shown = []; // the events whose rows are in the table, oldest first
let pending = [];
let frame = 0;
let follow = true;
let total = 0;

const pad = (n, width = 2) => String(n).padStart(width, "0");

function clock(ts) {
  const d = new Date(ts * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

const ESCAPES = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0" };

/** The text preview, with control characters shown as escapes so a "\n" delimiter is visible. */
function preview(text) {
  const cell = el("td", { class: "col-text" });
  if (!text) return cell;
  for (const part of text.split(/([\x00-\x1f\x7f])/)) {
    if (!part) continue;
    if (/^[\x00-\x1f\x7f]$/.test(part)) {
      const code = part.charCodeAt(0);
      cell.append(el("span", { class: "ctrl", text: ESCAPES[part] || `\\x${code.toString(16).padStart(2, "0")}` }));
    } else {
      cell.append(part);
    }
  }
  return cell;
}

function row(ev) {
  const kind = String(ev.kind || "");
  const tr = el("tr", { testid: "event-row", data: { seq: ev.seq, kind, endpoint: ev.endpoint ?? "", size: ev.size ?? 0 } },
    el("td", { class: "col-time", text: clock(ev.ts) }),
    el("td", { class: "col-ep", text: ev.endpoint ?? "" }),
    el("td", { class: "col-conn", text: ev.conn ?? "" }),
    el("td", { class: "col-kind" }, el("span", { class: "kind-badge", data: { kind }, text: tOr(`ev.${kind}`, kind) })),
    el("td", { class: "col-peer", text: hostPort(ev.peer) }),
    el("td", { class: "col-size num", text: ev.size ? formatNumber(ev.size) : "" }),
    preview(ev.data),
    el("td", { class: "col-hex", text: ev.hex || "" }),
    el("td", { class: "col-detail" }, el("div", { class: "clamp", text: ev.detail || "" })));
  if (kind === "error") tr.classList.add("is-error");
  if (ev.data) tr.cells[6].title = ev.data;
  if (ev.hex) tr.cells[7].title = ev.hex;
  if (ev.detail) tr.cells[8].title = ev.detail;
  return tr;
}

function flush() {
  frame = 0;
  const batch = pending;
  pending = [];
  const fragment = document.createDocumentFragment();
  for (const ev of batch) fragment.append(row(ev));
  body.append(fragment);
  shown.push(...batch);
  const excess = shown.length - MAX_ROWS;
  if (excess > 0) {
    for (let i = 0; i < excess; i++) body.firstElementChild.remove();
    shown = shown.slice(excess);
  }
  showCounts();
  if (follow) scroller.scrollTop = scroller.scrollHeight;
}

function showCounts() {
  empty.hidden = shown.length > 0;
  count.textContent = total ? t("log.count", { n: total }) : "";
}

/** Queue events (already de-duplicated, oldest first) for the next animation frame. */
export function addEvents(events) {
  if (!events.length) return;
  total += events.length;
  pending.push(...events);
  if (pending.length > MAX_ROWS) pending = pending.slice(-MAX_ROWS);
  if (!frame) frame = requestAnimationFrame(flush);
}

function redraw() {
  body.replaceChildren(...shown.map(row));
  showCounts();
  if (follow) scroller.scrollTop = scroller.scrollHeight;
}

export function initLog() {
  scroller.addEventListener("scroll", () => {
    follow = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
    followButton.hidden = follow;
  }, { passive: true });
  followButton.addEventListener("click", () => {
    follow = true;
    followButton.hidden = true;
    scroller.scrollTop = scroller.scrollHeight;
  });
  document.getElementById("log-clear").addEventListener("click", () => {
    shown = [];
    total = 0;
    redraw();
  });
  onLanguageChange(redraw);
  showCounts();
}
