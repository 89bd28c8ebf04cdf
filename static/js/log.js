// The event log table: rows are added in requestAnimationFrame batches, the newest at the bottom,
// at most MAX_ROWS kept while it follows the newest. Scrolled up to read, it stops following and
// keeps up to MAX_READING rows (so nothing moves under the reader) and a pill counts what is new.
// Filters re-select from the events kept (MAX_KEPT); a click on a row opens its details.
import { el, hostPort } from "./dom.js";
import { appendText, decodeText, isCut } from "./decode.js";
import { formatNumber, onLanguageChange, t, tOr } from "./i18n.js";
import * as detail from "./log-detail.js";
import * as filter from "./log-filter.js";

const MAX_ROWS = 500;
const MAX_READING = 3000;
const MAX_KEPT = 20000;
const MIN_MS = 100; // between two batches of rows: each batch costs a layout of the table
const MAX_GAP_MS = 1500;
const body = document.getElementById("log-body");
const scroller = document.getElementById("log-scroll");
const empty = document.getElementById("log-empty");
const count = document.getElementById("log-count");
const followButton = document.getElementById("log-follow");
const pane = document.getElementById("pane-log");
let kept = []; // every event the log was given (bounded), oldest first
let shown = []; // the events whose rows are in the table, oldest first
let pending = [];
let frame = 0;
let follow = true;
let total = 0;
let matching = 0;
let unseen = 0; // rows added while the reader was scrolled up
let stale = false; // rows to build again when the log is shown
let lastFlush = -Infinity;
let gap = MIN_MS;

// One row is cloned from this template and filled in: a busy log builds hundreds a second.
const template = el("tr", { testid: "event-row" }, ...["col-time", "col-ep", "col-conn", "col-kind", "col-peer",
  "col-size num", "col-text", "col-hex", "col-detail"].map((cls) => el("td", { class: cls })));
template.cells[3].append(el("span", { class: "kind-badge" }));
template.cells[8].append(el("div", { class: "clamp" }));

function row(ev) {
  const kind = String(ev.kind || "");
  const tr = template.cloneNode(true);
  Object.assign(tr.dataset, { seq: ev.seq, kind, endpoint: ev.endpoint ?? "", size: ev.size ?? 0 });
  const [time, ep, conn, badge, peer, size, text, hex, info] = tr.cells;
  time.textContent = detail.clockText(ev.ts);
  ep.textContent = ev.endpoint ?? "";
  conn.textContent = ev.conn ?? "";
  badge.firstChild.dataset.kind = kind;
  badge.firstChild.textContent = tOr(`ev.${kind}`, kind);
  peer.textContent = hostPort(ev.peer);
  size.textContent = ev.size ? formatNumber(ev.size) : "";
  const preview = decodeText(ev, filter.encoding());
  appendText(text, preview);
  if (preview && isCut(ev)) text.append(el("span", { class: "cut", text: "…" }));
  hex.textContent = ev.hex || "";
  info.firstChild.textContent = ev.detail || "";
  if (kind === "error" || kind === "lost") tr.classList.add("is-error");
  if (ev.seq === detail.shownSeq()) tr.classList.add("selected");
  return tr;
}

function flush(now) {
  frame = 0;
  if (now - lastFlush < gap) {
    frame = requestAnimationFrame(flush); // a busy log grows a few times a second, not sixty
    return;
  }
  lastFlush = now;
  const started = performance.now();
  build();
  // a flood must not take the page: wait twice as long as the last batch took before the next
  gap = Math.min(MAX_GAP_MS, Math.max(MIN_MS, 2 * (performance.now() - started)));
}

function build() {
  let batch = pending;
  pending = [];
  if (!follow) unseen += batch.length;
  if (pane.hidden) {
    // the log is not on screen (another view): keep the list, build the rows when it is shown
    shown = shown.concat(batch).slice(-MAX_ROWS);
    stale = true;
    showCounts();
    return;
  }
  if (stale) redraw(); // shown again: first the rows that came while it was hidden
  if (follow && batch.length > MAX_ROWS) batch = batch.slice(-MAX_ROWS); // the rest would go at once
  const fragment = document.createDocumentFragment();
  for (const ev of batch) fragment.append(row(ev));
  body.append(fragment);
  shown.push(...batch);
  const excess = shown.length - (follow ? MAX_ROWS : MAX_READING);
  if (excess > 0) {
    // (layout is only read when the reader is scrolled up: each read costs a layout of the table)
    const before = follow ? 0 : scroller.scrollTop;
    const cut = follow ? null : body.children[excess];
    const height = cut ? cut.offsetTop - body.firstElementChild.offsetTop : 0;
    for (let i = 0; i < excess; i++) body.firstElementChild.remove();
    shown = shown.slice(excess);
    if (!follow) scroller.scrollTop = Math.max(0, before - height); // what the reader sees stays put
  }
  showCounts();
  if (follow) scroller.scrollTop = scroller.scrollHeight;
}

function showCounts() {
  empty.hidden = shown.length > 0;
  if (!total) count.textContent = "";
  else if (filter.isFiltering()) count.textContent = t("log.countFiltered", { shown: formatNumber(matching), n: total });
  else count.textContent = t("log.count", { n: total });
  followButton.hidden = follow;
  followButton.dataset.count = String(unseen);
  followButton.textContent = unseen ? t("log.newEvents", { n: unseen }) : t("log.backToNewest");
}

/** Queue events (already de-duplicated, oldest first) for the next animation frame. */
export function addEvents(events) {
  if (!events.length) return;
  total += events.length;
  kept.push(...events);
  if (kept.length > MAX_KEPT) kept = kept.slice(-MAX_KEPT);
  filter.note(events);
  const fresh = events.filter(filter.matches);
  matching += fresh.length;
  pending.push(...fresh);
  const cap = follow ? MAX_ROWS : MAX_READING;
  if (pending.length > cap) pending = pending.slice(-cap);
  if (!frame) frame = requestAnimationFrame(flush);
  else if (!fresh.length) showCounts();
}

export const add = addEvents;

/** Forget everything (a replay starts, or the page goes back to live). */
export function reset() {
  kept = [];
  shown = [];
  pending = [];
  total = 0;
  matching = 0;
  filter.reset();
  detail.hide();
  jumpToNewest();
  redraw();
}

/** The events the filters let through (all of them kept, not only the rows on screen). */
export const filtered = () => kept.filter(filter.matches);

/** The events given to the log (for export). */
export const all = () => kept;

function refilter() {
  const hits = filtered();
  matching = hits.length;
  shown = hits.slice(-MAX_ROWS);
  pending = [];
  follow = true;
  unseen = 0;
  redraw();
}

function redraw() {
  stale = false;
  body.replaceChildren(...shown.map(row));
  showCounts();
  if (follow) scroller.scrollTop = scroller.scrollHeight;
}

function jumpToNewest() {
  follow = true;
  unseen = 0;
  if (shown.length > MAX_ROWS) {
    shown = shown.slice(-MAX_ROWS);
    redraw();
  }
  scroller.scrollTop = scroller.scrollHeight;
  showCounts();
}

/** Select the event with this seq (from a row click or the diagram) and show its details. */
export function select(seq) {
  const ev = kept.find((e) => e.seq === seq);
  if (!ev) return;
  for (const tr of body.querySelectorAll("tr.selected")) tr.classList.remove("selected");
  body.querySelector(`tr[data-seq="${seq}"]`)?.classList.add("selected");
  detail.show(ev);
}

/** Only the events of these lanes (the focus on one connection), or all again (null). */
export const setFocus = (lanes) => filter.setFocus(lanes);

export const focusSearch = () => filter.focusSearch();

export const copyFiltered = () =>
  detail.copy(detail.logText(filtered(), filter.encoding()), t("copy.log", { n: matching }));

export function initLog() {
  filter.initFilter();
  detail.initDetail(filter.encoding, () => {
    for (const tr of body.querySelectorAll("tr.selected")) tr.classList.remove("selected");
  });
  // a resize (projector mode, a pane shown) keeps a following log at its newest row, and the
  // scroll event a resize causes is not taken for the reader scrolling up
  let size = "";
  const resized = () => {
    const now = `${scroller.clientWidth}x${scroller.clientHeight}`;
    if (now === size) return false;
    size = now;
    if (stale && scroller.clientHeight) redraw();
    if (follow) scroller.scrollTop = scroller.scrollHeight;
    return true;
  };
  new ResizeObserver(resized).observe(scroller);
  scroller.addEventListener("scroll", () => {
    if (resized()) return;
    const atEnd = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
    if (atEnd && !follow) {
      follow = true;
      unseen = 0;
    } else if (!atEnd) {
      follow = false;
    }
    showCounts();
  }, { passive: true });
  followButton.addEventListener("click", jumpToNewest);
  body.addEventListener("click", (event) => {
    const tr = event.target.closest("tr[data-seq]");
    if (tr) select(Number(tr.dataset.seq));
  });
  document.getElementById("log-clear").addEventListener("click", () => {
    shown = [];
    kept = [];
    total = 0;
    matching = 0;
    detail.hide();
    redraw();
  });
  document.getElementById("log-copy").addEventListener("click", copyFiltered);
  filter.onFilterChange(() => {
    refilter();
    detail.refresh();
  });
  onLanguageChange(redraw);
  showCounts();
}
