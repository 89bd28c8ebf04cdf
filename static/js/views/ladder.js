// The live sequence (ladder) diagram: a lane per socket, time flowing down, each send an arrow
// to the recv(s) that got its bytes. Drawn as SVG from the LadderModel at most every MIN_MS, and
// only the newest MAX_ROWS rows: older ones fold into "N earlier events", the newest stay in view.
// Paused, new events wait in a queue; "step" adds one row at a time.
// After a lesson's button, the rows that carry the lesson's point (the registry's point.rows, e.g.
// the one send() and its segments) are brought to the top instead, and held there while that step's
// rows arrive: the newest-rows rule gives way to the lesson's until the reader scrolls or follows.
// A closed socket's lane leaves LANE_LINGER seconds after (the model decides which, this module
// when: a sweep every SWEEP_MS, and one right after new events, so a reload does not bring back
// lanes that closed long ago). Paused, nothing leaves: the picture holds still while it is explained.
import { onLanguageChange, t } from "../i18n.js";
import { Emitter } from "../emitter.js";
import { drawLadder } from "./ladder-draw.js";
import { LadderModel } from "../models/ladder-model.js";
import { anchorRow, pointAfterStep, stepOf } from "../models/lesson-view.js";
import { onNames } from "../models/names.js";
import { onStage } from "../models/stage.js";
import { initWireControls, onWireChange, wireShown } from "./wire-controls.js";

const MAX_ROWS = 150;
const RUSH_ROWS = 30; // drawn while a flood lasts:
const RUSH_AFTER = 100; // more new rows than this since the last drawing (some 1,000 a second)
const SETTLE_MS = 300; // after a flood, all MAX_ROWS are drawn once it has been calm this long
const MIN_MS = 90; // at most ~11 redraws a second, however fast events arrive
const SWEEP_MS = 1000;
let clock = () => Date.now() / 1000; // the events' clock: the server's while live, the replay's in a replay
const model = new LadderModel({ clock: () => clock() });
const scroller = document.getElementById("ladder-scroll");
const svg = document.getElementById("ladder");
const pauseButton = document.getElementById("ladder-pause");
const stepButton = document.getElementById("ladder-step");
const queued = document.getElementById("ladder-queued");
const followButton = document.getElementById("ladder-follow");
const pane = document.getElementById("pane-ladder");
let paused = false;
let waiting = [];
let focus = null; // a Set of lane ids, or null for every lane
let follow = true;
let frame = 0;
let lastDraw = 0;
let gap = MIN_MS;
let drawnRows = 0; // rows the model had made at the last drawing
let settleTimer = 0;
// the lesson's point: {kinds, after} while its rows are held in view (after: when the step's action
// began), else null
let point = null;
let seenStep = ""; // the stage and step last seen (lesson-view.js stepOf)
let heldTop = -1; // the scrollTop that holds the point: a scroll elsewhere is the reader's
const signals = new Emitter();

export { model };

const madeRows = () => model.forgotten + model.items.length;

function draw() {
  clearTimeout(settleTimer);
  // In a flood rows fly past faster than anyone reads them, and laying out 150 rows of SVG takes
  // half a second on a slow machine: draw the newest few until it calms down, then all of them.
  const rush = madeRows() - drawnRows > RUSH_AFTER;
  drawnRows = madeRows();
  drawLadder(model, focus, rush ? RUSH_ROWS : MAX_ROWS, { wire: wireShown() });
  if (point) holdPoint();
  else if (follow) scroller.scrollTop = scroller.scrollHeight;
  signals.emit("drawn", model);
  if (rush) settleTimer = setTimeout(() => madeRows() === drawnRows && redraw(), SETTLE_MS);
}

function tick(now) {
  frame = 0;
  if (now - lastDraw < gap) {
    frame = requestAnimationFrame(tick);
    return;
  }
  if (pane.hidden) return; // drawn when shown again
  lastDraw = now;
  const started = performance.now();
  draw();
  // under a flood, at most a third of the time goes to drawing
  gap = Math.min(1000, Math.max(MIN_MS, 2 * (performance.now() - started)));
}

/** Bring the topmost row that carries the lesson's point (of this step) to the top, under the lane heads. */
function holdPoint() {
  const top = scroller.getBoundingClientRect().top - scroller.scrollTop;
  const times = new Map(model.items.map((item) => [String(item.seq), Number(item.ev?.ts) || 0]));
  const rows = [...svg.querySelectorAll("g.row")].map((g) => ({ seq: Number(g.dataset.seq), kind: g.dataset.kind,
    ts: times.get(g.dataset.seq) ?? 0, top: g.getBoundingClientRect().top - top }));
  const anchor = anchorRow(rows, point.kinds, point.after);
  if (!anchor) { // none drawn yet (or a flood draws only the newest rows for now): the newest rows, as always
    scroller.scrollTop = scroller.scrollHeight;
    heldTop = scroller.scrollTop;
    return;
  }
  const heads = document.getElementById("ladder-lanes")?.offsetHeight ?? 0;
  const want = Math.max(0, Math.min(anchor.top - heads - 4, scroller.scrollHeight - scroller.clientHeight));
  if (Math.abs(scroller.scrollTop - want) >= 1) scroller.scrollTop = want;
  heldTop = scroller.scrollTop;
  followButton.hidden = true; // the lesson put these rows here: nothing covers them (scrolling brings it back)
}

/** A new step of the stage's lesson (one of its buttons was pressed): hold its point's rows in view. */
function lessonStep(stage) {
  if (stepOf(stage) === seenStep) return;
  seenStep = stepOf(stage);
  point = pointAfterStep(stage);
  redraw();
}

export function redraw() {
  if (!frame) frame = requestAnimationFrame(tick);
}

function showQueue() {
  pauseButton.textContent = t(paused ? "ladder.resume" : "ladder.pause");
  pauseButton.setAttribute("aria-pressed", String(paused));
  stepButton.disabled = !paused || !waiting.length;
  queued.hidden = !paused;
  queued.dataset.count = String(waiting.length);
  queued.textContent = t("ladder.queued", { n: waiting.length });
  scroller.classList.toggle("paused", paused);
}

/** Let the lanes of sockets closed LANE_LINGER seconds ago go (not while paused). */
function sweep() {
  if (paused) return;
  const now = clock();
  svg.dataset.swept = String(now); // (when closed lanes last could leave: what a test waits on)
  const left = model.sweep(now);
  if (!left.length) return;
  signals.emit("left", left);
  redraw();
}

/** New events, oldest first: drawn now, or queued while paused. */
export function add(events) {
  if (paused) {
    waiting.push(...events);
    showQueue();
    return;
  }
  for (const ev of events) model.add(ev);
  sweep();
  redraw();
}

/** Forget everything (a replay starts, or the page goes back to live). */
export function reset() {
  model.reset();
  waiting = [];
  showQueue();
  redraw();
}

/**
 * A new classroom stage: the diagram starts afresh (the endpoint kinds it learnt stay) and leaves out
 * what still comes about the ended stage's sockets; `ended`: that stage's events in the same batch.
 */
export function newStage(ended = []) {
  model.reset({ keepKinds: true, ended: [...waiting, ...ended] }); // (queued while paused: the ended stage's too)
  waiting = [];
  showQueue();
  redraw();
}

/** Where "now" is for closed lanes leaving: the server's clock while live, the replay's while replaying. */
export function setClock(fn) {
  clock = fn;
}

export function setPaused(on) {
  paused = on;
  if (!paused) {
    const all = waiting;
    waiting = [];
    for (const ev of all) model.add(ev);
    follow = true;
    redraw();
  }
  showQueue();
}

export const togglePause = () => setPaused(!paused);
export const isPaused = () => paused;

/** While paused: add the next queued event that draws a row (and any quiet ones before it). */
export function step() {
  while (paused && waiting.length) {
    if (model.add(waiting.shift())) break;
  }
  follow = true;
  showQueue();
  redraw();
}

export function setFocus(lanes) {
  focus = lanes;
  follow = true;
  redraw();
}

export function setEndpoints(list) {
  model.setEndpoints(list);
  redraw();
}

/** fn(seq) when a row of the diagram is clicked (the page shows that event's details). */
export const onPick = (fn) => signals.on("pick", fn);

/** fn(model) after each redraw (the focus menu lists the connections it knows). */
export const onDrawn = (fn) => signals.on("drawn", fn);

/** fn([lane id, ...]) when closed sockets' lanes left the diagram (the numbers let them go too). */
export const onLeft = (fn) => signals.on("left", fn);

export function initLadder() {
  pauseButton.addEventListener("click", togglePause);
  stepButton.addEventListener("click", step);
  followButton.addEventListener("click", () => {
    follow = true;
    point = null;
    scroller.scrollTop = scroller.scrollHeight;
  });
  let size = "";
  const resized = () => {
    const now = `${scroller.clientWidth}x${scroller.clientHeight}`;
    if (now === size) return false;
    size = now; // a resize moved the scroll position, not the reader
    if (point) holdPoint();
    else if (follow) scroller.scrollTop = scroller.scrollHeight;
    redraw();
    return true;
  };
  scroller.addEventListener("scroll", () => {
    if (resized()) return;
    if (point && Math.abs(scroller.scrollTop - heldTop) <= 2) return; // the page's own scroll, holding the point
    point = null; // the reader scrolled: from now on the usual rule
    follow = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
    followButton.hidden = follow;
  }, { passive: true });
  svg.addEventListener("click", (event) => {
    const row = event.target.closest?.("g.row");
    if (row) signals.emit("pick", Number(row.dataset.seq));
  });
  new ResizeObserver(resized).observe(scroller);
  setInterval(sweep, SWEEP_MS);
  onLanguageChange(() => {
    showQueue();
    redraw();
  });
  onNames(redraw); // a student named (or renamed): the lanes are labelled again, nothing else changes
  // the wire layer: its toggle redraws; its pcap is of the socket in focus (the first lane of the focus), or all
  initWireControls(() => (focus ? model.lanes.get([...focus][0])?.endpoint ?? null : null));
  onWireChange(redraw);
  onStage(lessonStep);
  showQueue();
}

// the classroom's view interface (classroom.js VIEWS): init, add, reset, redraw
export const init = initLadder;
