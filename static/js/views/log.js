// The event log: a window onto the events that pass the filters. Only the rows near the visible
// part are in the page (all rows have one height, so row i sits at i * rowHeight), which keeps a
// flood of thousands of events a second from stalling the page: each batch builds a few dozen rows,
// not hundreds. Following the newest, it shows the bottom; scrolled up to read, what the reader
// sees stays put and a pill counts what is new. A click on a row opens its details.
// Rows are in causal order (log-order.js): a late cause goes above rows already shown. A new
// classroom stage is a divider row; the rows before it stay, dimmed and marked with their stage.
import { el, hostPort } from "../dom.js";
import { appendText, decodeText, isCut } from "../models/decode.js";
import { formatNumber, onLanguageChange, t, tOr } from "../i18n.js";
import { eventText } from "../models/event-text.js";
import * as detail from "./log-detail.js";
import * as filter from "./log-filter.js";
import { pointAfterStep, stepOf } from "../models/lesson-view.js";
import { onStage } from "../models/stage.js";
import { onWireChange, wireShown } from "./wire-controls.js";
import { logOf } from "../models/kinds.js";
import { book as names, onNames } from "../models/names.js";
import { insertAllCausal } from "../models/log-order.js";
import { Stages } from "../models/stages.js";

const MAX_KEPT = 20000; // events kept (for filters, export, scrolling back)
const OVERSCAN = 40; // rows built beyond each edge of the visible part
const RUSH_OVERSCAN = 3; // ... during a flood, until it calms down for SETTLE_MS
const SETTLE_MS = 300;
const MIN_MS = 50; // between two renders during a flood
const MAX_GAP_MS = 400;
const body = document.getElementById("log-body");
const table = document.getElementById("event-log");
const scroller = document.getElementById("log-scroll");
const empty = document.getElementById("log-empty");
const count = document.getElementById("log-count");
const followButton = document.getElementById("log-follow");
const pane = document.getElementById("pane-log");
let kept = []; // every event the log was given (bounded), oldest first
let list = []; // the events that pass the filters (bounded), oldest first: the log's rows
let cutOff = 0; // rows dropped off the front of `list` so far (keeps the shading of a row steady)
let frame = 0;
let follow = true;
let total = 0;
let matching = 0;
let unseen = 0; // rows added while the reader was scrolled up
let lastRender = -Infinity;
let gap = MIN_MS;
let rowHeight = 0; // px, measured (it changes with the projector's larger type)
let headHeight = 0;
let viewHeight = 0;
let knownTop = 0; // the scrollTop this script set or saw last: any other value is the reader's doing
let drawn = { first: -1, last: -1, length: 0, cutOff: 0 }; // the rows built last time
let settleTimer = 0;
let reorderedAt = Infinity; // lowest position (cutOff + index) a row was inserted at since the last render
// after a lesson's button: {kinds, after} while the rows carrying its point are held in view (see
// ladder.js), else null
let point = null;
let seenStep = ""; // the stage and step last seen (lesson-view.js stepOf)
let held = false;
const stages = new Stages();
const isDivider = (ev) => logOf(ev.kind) === "divider";
const cutOf = (ev) => stages.cutOf(ev);
// a stage's divider shows whatever the filters are: it says which stage the rows below belong to
const passes = (ev) => isDivider(ev) || filter.matches(ev);

const topSpacer = el("tr", { class: "log-spacer", "aria-hidden": "true" });
const bottomSpacer = el("tr", { class: "log-spacer", "aria-hidden": "true" });

// One row is cloned from this template and filled in.
// (the table is laid out as grids, see style.css, so the roles are spelled out for screen readers)
const template = el("tr", { testid: "event-row", role: "row" }, ...["col-time", "col-ep", "col-conn", "col-kind",
  "col-peer", "col-size num", "col-text", "col-hex", "col-detail"].map((cls) => el("td", { class: cls, role: "cell" })));
template.cells[3].append(el("span", { class: "kind-badge" }));
template.cells[8].append(el("div", { class: "clamp" }));

/** The divider a new stage begins with: "Stage 5 · Lesson 5: File download: raw vs framed". */
function divider(ev) {
  const tr = el("tr", { class: "stage-divider", testid: "stage-divider", role: "row" },
    el("td", { class: "col-divider", role: "cell", text: eventText(ev) }));
  Object.assign(tr.dataset, { seq: ev.seq, kind: String(ev.kind), endpoint: "", size: 0 });
  markStage(tr, ev);
  if (ev.seq === detail.shownSeq()) tr.classList.add("selected");
  return tr;
}

/** Give a row its stage number (data-stage); a row of an earlier stage is dimmed and says which. */
function markStage(tr, ev) {
  const n = stages.stageOf(ev);
  if (n !== null) tr.dataset.stage = String(n);
  if (!stages.isEarlier(ev)) return;
  tr.classList.add("earlier-stage");
  if (n !== null) tr.title = t("log.earlierStage", { n });
}

function row(ev, index) {
  if (isDivider(ev)) return divider(ev);
  const kind = String(ev.kind || "");
  const tr = template.cloneNode(true);
  Object.assign(tr.dataset, { seq: ev.seq, kind, endpoint: ev.endpoint ?? "", size: ev.size ?? 0 });
  markStage(tr, ev);
  const [time, ep, conn, badge, peer, size, text, hex, info] = tr.cells;
  time.textContent = detail.clockText(ev.ts);
  const agent = typeof ev.agent === "string" ? ev.agent : "";
  const id = String(ev.endpoint ?? "");
  // the id without its "@agent" where the agent's tag follows it (the tag says it; the column is narrow)
  ep.textContent = agent && id.endsWith(`@${agent}`) ? id.slice(0, -agent.length - 1) : id;
  ep.title = [ev.endpoint, ev.agent].filter(Boolean).join(" · "); // (a long id in a narrow column: whole on hover)
  // the lab agent it came from: its `agent` field, never read from the id
  if (agent) {
    ep.append(el("span", { class: "agent-tag", testid: "log-agent", text: ev.agent }));
    tr.dataset.agent = ev.agent;
  }
  conn.textContent = ev.conn ?? "";
  badge.firstChild.dataset.kind = kind;
  badge.firstChild.textContent = tOr(`ev.${kind}`, kind);
  // a named peer shows its name; the address is one hover away (names are text: textContent only)
  const name = ev.peer ? names.of(ev.peer) : null;
  if (name === null) peer.textContent = hostPort(ev.peer);
  else peer.replaceChildren(el("bdi", { testid: "peer-name", text: name })); // (isolated: see names.js)
  if (name !== null) {
    peer.title = hostPort(ev.peer);
    peer.classList.add("named");
  }
  size.textContent = ev.size ? formatNumber(ev.size) : "";
  const preview = decodeText(ev, filter.encoding());
  appendText(text, preview);
  if (preview && isCut(ev)) text.append(el("span", { class: "cut", text: "…" }));
  hex.textContent = ev.hex || "";
  info.firstChild.textContent = eventText(ev);
  if (kind === "error" || kind === "lost") tr.classList.add("is-error");
  if (ev.seq === detail.shownSeq()) tr.classList.add("selected");
  if ((cutOff + index) % 2) tr.classList.add("alt");
  return tr;
}

/** Measure the height of one row (all rows are given it) and of the header. */
function measure() {
  const probe = row({ seq: 0, kind: "recv", endpoint: "e1", conn: "c1", size: 1, ts: 0, data: "Xg你", hex: "58",
    call: "recv", args: { bufsize: 65536 }, result: 1, peer: ["127.0.0.1", 1] }, 0);
  probe.style.height = "auto";
  body.append(probe);
  const height = Math.ceil(probe.getBoundingClientRect().height);
  probe.remove();
  if (height > 0 && height !== rowHeight) {
    rowHeight = height;
    table.style.setProperty("--log-row", `${height}px`);
  }
  headHeight = table.tHead.getBoundingClientRect().height;
  viewHeight = scroller.clientHeight;
}

function schedule() {
  if (!frame) frame = requestAnimationFrame(tick);
}

function tick(now) {
  frame = 0;
  if (now - lastRender < gap) {
    frame = requestAnimationFrame(tick); // a flood is drawn a few times a second, not sixty
    return;
  }
  lastRender = now;
  const started = performance.now();
  render();
  // a flood must not take the page: wait twice as long as the last render took before the next
  gap = Math.min(MAX_GAP_MS, Math.max(MIN_MS, 2 * (performance.now() - started)));
}

/** Build the rows near the visible part, keeping the rows already built that are still in it. */
function render(force = false) {
  clearTimeout(settleTimer);
  showCounts();
  if (pane.hidden || !scroller.clientHeight) {
    knownTop = -1; // shown again, the scroll position is not the reader's doing
    return; // built when the log is shown again
  }
  if (!rowHeight || force) measure();
  // a scroll by the reader whose event has not come yet (a render in between must not undo it); the
  // height is read again too: a pane growing beside the diagram moves scrollTop, and that is not the reader
  if (point && follow) holdPoint(list.length, Math.ceil(scroller.clientHeight / rowHeight) + 1);
  const top = scroller.scrollTop;
  viewHeight = scroller.clientHeight;
  if (knownTop >= 0 && Math.abs(top - knownTop) >= 2) readerScrolled(top);
  else if (knownTop < 0) knownTop = top;
  const n = list.length;
  const inView = Math.ceil(viewHeight / rowHeight) + 1;
  const shifted = cutOff - drawn.cutOff; // rows cut off the front since the last render
  // more than a screenful since the last render is a flood: the rows above the screen wait for a calm moment
  const rush = !force && follow && drawn.first >= 0 && n - (drawn.length - shifted) > inView;
  const extra = rush ? RUSH_OVERSCAN : OVERSCAN;
  let first;
  let last;
  if (follow) {
    last = n;
    first = Math.max(0, n - inView - extra);
  } else {
    const topRow = Math.floor(Math.max(0, top - headHeight) / rowHeight);
    first = Math.max(0, topRow - extra);
    last = Math.min(n, topRow + inView + extra);
  }
  const oldFirst = drawn.first - shifted;
  const oldLast = drawn.last - shifted;
  // a row inserted among or above the rows built moved them: build the window again
  const moved = reorderedAt - cutOff < oldLast;
  reorderedAt = Infinity;
  if (force || moved || drawn.first < 0 || oldFirst < 0 || oldFirst >= last || oldLast <= first) {
    const fragment = document.createDocumentFragment();
    for (let i = first; i < last; i++) fragment.append(row(list[i], i));
    body.replaceChildren(topSpacer, fragment, bottomSpacer);
  } else {
    for (let i = oldFirst; i < first; i++) topSpacer.nextElementSibling.remove();
    for (let i = last; i < oldLast; i++) bottomSpacer.previousElementSibling.remove();
    if (first < oldFirst) {
      const fragment = document.createDocumentFragment();
      for (let i = first; i < oldFirst; i++) fragment.append(row(list[i], i));
      topSpacer.after(fragment);
    }
    if (oldLast < last) {
      const fragment = document.createDocumentFragment();
      for (let i = Math.max(oldLast, first); i < last; i++) fragment.append(row(list[i], i));
      bottomSpacer.before(fragment);
    }
  }
  topSpacer.style.height = `${first * rowHeight}px`;
  bottomSpacer.style.height = `${(n - last) * rowHeight}px`;
  drawn = { first, last, length: n, cutOff };
  if (follow) scrollTo(headHeight + n * rowHeight);
  if (rush) settleTimer = setTimeout(render, SETTLE_MS);
}

/** The first row of this step that carries the lesson's point goes to the top, when following would push it off. */
function holdPoint(n, inView) {
  const index = list.findIndex((ev) => ev.ts > point.after && point.kinds.has(ev.kind));
  if (index < 0 || index >= n - (inView - 2)) return; // none yet, or on the newest screen: keep following
  follow = false;
  point = null; // held once: from here the reader's scrolling (or "back to newest") decides
  held = true; // (the lesson put the rows there: "back to newest" does not cover them until the reader scrolls)
  viewHeight = scroller.clientHeight;
  scrollTo(index * rowHeight); // the row just under the sticky head
}

/** A new step of the stage's lesson: its point's rows are held in view (ladder.js does the same). */
function lessonStep(stage) {
  if (stepOf(stage) === seenStep) return;
  seenStep = stepOf(stage);
  point = pointAfterStep(stage);
  // the log still where the lesson's previous step held it (the reader has not scrolled since): this
  // step's point takes over (lesson 5: the raw download's row held, then the framed one's header)
  if (point && held) follow = true;
  schedule();
}

function scrollTo(top) {
  const max = Math.max(0, headHeight + list.length * rowHeight - viewHeight);
  knownTop = Math.round(Math.min(Math.max(0, top), max));
  if (Math.abs(scroller.scrollTop - knownTop) >= 1) scroller.scrollTop = knownTop;
}

/** The reader moved the log to `top`: at the bottom it follows the newest again, elsewhere it holds still. */
function readerScrolled(top) {
  knownTop = top;
  held = false;
  viewHeight = scroller.clientHeight;
  // the end as drawn, not as `list` is now: rows added since the last render are not below yet, and a
  // log that grew taller (the layout moved: a viewer's comparison panel closed at a new stage) has its
  // scrollTop pulled back to the drawn end, which is no reason to stop following (nine lessons, K)
  const atEnd = scroller.scrollHeight - top - viewHeight < 48;
  if (atEnd !== follow) {
    follow = atEnd;
    unseen = 0;
  }
}

// (each render asks; the page is written only where it changed: a write there would make the render's
// first read of the scroller lay the page out again, a few times a second in a flood)
function showCounts() {
  const none = list.length > 0;
  if (empty.hidden !== none) empty.hidden = none;
  let text = "";
  if (!total) text = "";
  else if (filter.isFiltering()) text = t("log.countFiltered", { shown: formatNumber(matching), n: total });
  else text = t("log.count", { n: total });
  if (count.textContent !== text) count.textContent = text;
  const hidden = follow || held;
  if (followButton.hidden !== hidden) followButton.hidden = hidden;
  if (followButton.dataset.count !== String(unseen)) followButton.dataset.count = String(unseen);
  const label = unseen ? t("log.newEvents", { n: unseen }) : t("log.backToNewest");
  if (followButton.textContent !== label) followButton.textContent = label;
}

/** Drop the oldest rows past MAX_KEPT; a reader scrolled up keeps seeing the same rows. */
function cutList() {
  const excess = list.length - MAX_KEPT;
  if (excess <= 0) return;
  list = list.slice(excess);
  cutOff += excess;
  if (!follow && rowHeight) scrollTo(scroller.scrollTop - excess * rowHeight);
}

/** Take events (already de-duplicated, oldest first); they are drawn in the next animation frame. */
export function addEvents(batch) {
  // the registry says how the log shows a kind: snapshots (kind "state") keep the cards current
  // and are no socket call, so no row of their own; a new stage is a divider
  const events = [];
  let newStage = false;
  for (const ev of batch) {
    if (stages.note(ev)) newStage = true;
    if (logOf(ev.kind) !== "none") events.push(ev);
  }
  if (!events.length) return;
  total += events.length;
  insertAllCausal(kept, events, cutOf, isDivider);
  if (kept.length > MAX_KEPT) kept = kept.slice(-MAX_KEPT);
  filter.note(events);
  // the reader's top row: a row inserted at or above it moves the view down by one row to keep it
  const topRow = follow || knownTop < 0 || !rowHeight ? -1 : Math.floor(Math.max(0, scroller.scrollTop - headHeight) / rowHeight);
  const shown = events.filter(passes);
  const before = list.length;
  const at = insertAllCausal(list, shown, cutOf, isDivider);
  matching += shown.length;
  if (!follow) unseen += shown.length;
  // a row that went among the rows already there (not after them all) moves those from there on
  if (at.length && at[0] < before) reorderedAt = Math.min(reorderedAt, cutOff + at[0]);
  let above = 0;
  for (const index of at) {
    if (index > topRow + above) break;
    above++;
  }
  if (newStage) reorderedAt = cutOff; // every row shown so far now belongs to an earlier stage: mark it
  if (above) scrollTo(scroller.scrollTop + above * rowHeight);
  cutList();
  schedule();
}

export const add = addEvents;

/** Forget everything (a replay starts, or the page goes back to live). */
export function reset() {
  filter.reset();
  stages.reset();
  clear();
}

/** Forget the events (the Clear button keeps the filters). */
function clear() {
  kept = [];
  list = [];
  total = 0;
  matching = 0;
  cutOff = 0;
  detail.hide();
  jumpToNewest();
}

/** The events the filters let through. */
export const filtered = () => list.slice();

/** The events given to the log (for export). */
export const all = () => kept;

function refilter() {
  list = kept.filter(passes);
  matching = list.length;
  follow = true;
  unseen = 0;
  render(true);
}

function jumpToNewest() {
  follow = true;
  held = false;
  unseen = 0;
  render(true);
}

/** Show the row of `index` in `list` in the middle of the log (the reader stops following). */
function reveal(index) {
  if (pane.hidden || !rowHeight) return;
  const top = headHeight + index * rowHeight;
  if (top >= scroller.scrollTop + headHeight && top + rowHeight <= scroller.scrollTop + viewHeight) return;
  follow = false;
  scrollTo(top - viewHeight / 2);
  render();
}

/** Select the event with this seq (from a row click or the diagram), show its details and its row. */
export function select(seq) {
  const ev = kept.find((e) => e.seq === seq);
  if (!ev) return;
  for (const tr of body.querySelectorAll("tr.selected")) tr.classList.remove("selected");
  detail.show(ev);
  const index = list.indexOf(ev);
  if (index >= 0) reveal(index);
  body.querySelector(`tr[data-seq="${seq}"]`)?.classList.add("selected");
}

/** Only the events of these lanes (the focus on one connection), or all again (null). */
export const setFocus = (lanes) => filter.setFocus(lanes);

export const focusSearch = () => filter.focusSearch();

export const copyFiltered = () =>
  detail.copy(detail.logText(filtered(), filter.encoding()), t("copy.log", { n: matching }));

function onScroll() {
  const top = scroller.scrollTop;
  if (knownTop < 0 || Math.abs(top - knownTop) < 2 || !rowHeight) return; // this script's own scrolling
  readerScrolled(top);
  render();
}

export function initLog() {
  filter.initFilter();
  detail.initDetail(filter.encoding, () => {
    for (const tr of body.querySelectorAll("tr.selected")) tr.classList.remove("selected");
  });
  // a resize (projector mode, the log shown again) measures the rows again; a following log stays at its newest
  new ResizeObserver(() => render(true)).observe(scroller);
  scroller.addEventListener("scroll", onScroll, { passive: true });
  followButton.addEventListener("click", jumpToNewest);
  filter.setPackets(wireShown());
  onWireChange((on) => {
    filter.setPackets(on);
    refilter();
  });
  onStage(lessonStep);
  body.addEventListener("click", (event) => {
    const tr = event.target.closest("tr[data-seq]");
    if (tr) select(Number(tr.dataset.seq));
  });
  // the keyboard's way to a row: the log is one stop in the Tab order (not hundreds); in it, the
  // arrow keys select the next or the previous row and show its details, as a click does
  scroller.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    if (!list.length) return;
    event.preventDefault();
    const at = list.findIndex((ev) => ev.seq === detail.shownSeq());
    const next = at < 0 ? (event.key === "ArrowDown" ? 0 : list.length - 1)
      : Math.max(0, Math.min(list.length - 1, at + (event.key === "ArrowDown" ? 1 : -1)));
    select(list[next].seq);
  });
  document.getElementById("log-clear").addEventListener("click", clear);
  document.getElementById("log-copy").addEventListener("click", copyFiltered);
  filter.onFilterChange(() => {
    refilter();
    detail.refresh();
  });
  onLanguageChange(() => render(true));
  onNames(() => render(true)); // the rows built again with the new names; the list and the scroll stay
  showCounts();
}

// the classroom's view interface (classroom.js VIEWS): init, add, reset, redraw; the log keeps
// the rows of earlier stages (dimmed, below their divider) instead of starting afresh
export const init = initLog;
export const keepsStages = true;
export const redraw = () => schedule();
