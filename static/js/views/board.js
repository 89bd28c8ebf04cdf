// The class board: the view the teacher projects during an exercise (students x checks, live), beside
// the Diagram, the Log and the Numbers. Each row is one student; a row's name opens that student's
// program in the diagram (its lanes, focus.js). Beside the grid, the common mistakes: each failed check
// counted across the class, most first, so the teacher knows what to explain next.
// A check's state is told by a symbol and a word (the word for a screen reader and in each cell's
// title, the legend on top), never by colour alone. An event redraws its student's row only, once a
// frame at most, never the grid: a class of 100 sends a row each time a student's program changes.
import { el, hostPort } from "../dom.js";
import { get, post } from "../net/api.js";
import { currentLanguage, onLanguageChange, t } from "../i18n.js";
import { ExerciseBoard, FAIL, PASS, words } from "../models/exercise-board.js";
import { adopt, current, onStage } from "../models/stage.js";
import * as focus from "./focus.js";

/** The board's data, shared with the student's card (exercise-card.js) and the Exercises menu (teach.js). */
export const model = new ExerciseBoard();

export const SYMBOLS = { pass: "✓", fail: "✗", pending: "…" };

const pane = document.getElementById("pane-board");
const tab = document.querySelector("[data-view-tab=board]");
const panel = document.getElementById("classroom");
let hooks = { showView() {}, chosenView: () => "log", followAgain() {} };
let role = "control";
let student = null;
let rowsOf = new Map(); // name -> its <tr>
let drawnKey = ""; // the exercise (and stage) the grid was built for
let parts = null;

/** A state's word in the page's language: "passed", "failed", "waiting". */
export const stateWord = (state) => t(`exercise.state.${state}`);

/**
 * Where students connect, or what the lab does: [[sentence, is an address]] from the stage's "exercise"
 * (the lab's servers, its file) and the exercise's summary (addresses are shown in the code font).
 */
export function whereItems(exercise, place, { labDoes = true } = {}) {
  const lang = currentLanguage();
  const lines = [];
  for (const server of Array.isArray(place?.servers) ? place.servers : []) {
    const role = typeof server.role === "string" ? server.role : "";
    const what = role && t(`exercise.role.${role}`) !== `exercise.role.${role}` ? t(`exercise.role.${role}`) : role;
    lines.push([t("exercise.server", { proto: String(server.proto || "tcp").toUpperCase(),
      address: hostPort([server.host, server.port]), what }), true]);
  }
  const file = place?.file;
  if (file && typeof file === "object") {
    lines.push([t("exercise.file", { name: file.name ?? "", n: Number(file.size) || 0, sha: String(file.sha256 ?? "").slice(0, 16) }), true]);
  }
  if (!lines.length && exercise?.role === "connects") lines.push([t("exercise.connects", { n: exercise.clients || 1 }), false]);
  if (exercise && labDoes) lines.unshift([words(exercise.lab_does, lang), false]);
  return lines;
}

function build() {
  const exercise = model.exercise;
  const lang = currentLanguage();
  const checks = model.checks;
  const end = el("button", { type: "button", class: "btn small danger", testid: "exercise-end", "data-control": true,
    i18n: "exercise.end" });
  end.addEventListener("click", endExercise);
  const legend = el("p", { class: "board-legend", testid: "board-legend" },
    ...[PASS, FAIL, "pending"].map((state) => el("span", { class: `mark-key ${state}` },
      el("span", { class: `mark ${state}`, "aria-hidden": "true", text: SYMBOLS[state] }), ` ${stateWord(state)}`)));
  const empty = el("p", { class: "empty board-empty", testid: "board-empty", i18n: "board.empty" });
  const tables = el("div", { class: "board-tables" });
  const scroll = el("div", { class: "board-scroll", tabindex: "0", role: "region", "data-i18n-aria-label": "board.region" },
    tables, empty);
  const mistakes = el("ol", { class: "board-mistakes-list", testid: "board-mistakes" });
  const legendChecks = el("ol", { class: "board-checks", testid: "board-checks" },
    ...checks.map((code) => el("li", { data: { code }, text: model.checkWords(code, lang).text })));
  const summary = el("p", { class: "board-summary", testid: "board-summary", "aria-live": "polite" });
  const note = el("p", { class: "board-note", testid: "board-note", role: "status" });
  pane.replaceChildren(
    el("div", { class: "board-head" },
      el("h3", { class: "board-title", testid: "board-title",
        text: exercise ? t("exercise.title", { n: exercise.n, title: words(exercise.title, lang) }) : model.key ?? "" }),
      summary, end),
    el("div", { class: "board-head" },
      el("ul", { class: "board-where", testid: "board-where" },
        ...whereItems(exercise, model.place, { labDoes: false }).map(([line, address]) =>
          el("li", { class: address ? "address" : null, text: line }))),
      legend),
    note,
    el("div", { class: "board-body" }, scroll,
      el("aside", { class: "board-side", "aria-labelledby": "board-mistakes-title" },
        el("h4", { id: "board-mistakes-title", i18n: "board.mistakes" }), mistakes,
        el("details", { class: "board-checks-box" }, el("summary", { i18n: "board.checks" }), legendChecks))));
  parts = { tables, scroll, empty, mistakes, summary, note, columns: 0, planned: 0, sizes: null, cap: MAX_COLUMNS, side: "" };
  rowsOf = new Map();
  dirty.clear();
  for (const name of model.order) makeRow(name);
  placeRows();
  drawnKey = `${model.stage}|${model.key}|${lang}`;
  drawSide();
}

/** The grid's head: the student, the count, a number per check (its sentence for a screen reader and in its title). */
function gridHead() {
  const lang = currentLanguage();
  return el("thead", {}, el("tr", {},
    el("th", { scope: "col", class: "board-name-col", i18n: "board.student" }),
    el("th", { scope: "col", class: "board-count-col", i18n: "board.passed" }),
    ...model.checks.map((code, i) => el("th", { scope: "col", class: "board-check-col", title: model.checkWords(code, lang).text,
      data: { code } }, el("span", { "aria-hidden": "true", text: String(i + 1) }),
      el("span", { class: "sr-only", text: `${i + 1}. ${model.checkWords(code, lang).text}` })))));
}

/**
 * The rows in as many side-by-side tables, and at the type size, that show the most of the class at
 * once (a class of 40 whole at 1280x720, from the back of the room); what does not fit scrolls inside
 * the box under each table's head. The rows are moved, never made again.
 *
 * Laying 100 rows out is a projector laptop's longest task, so a placement lays the board out at most
 * once of its own accord: the sizes at full type (a table's width, its head's and a row's height) are
 * measured on a copy of the longest row, apart from the tables, only when the box or the longest name
 * changes (`remeasure`); the tables and the type size follow from them by arithmetic; only a new number
 * of tables or type size is then checked against the room (one layout), and a placement that changes
 * neither just moves the rows that belong elsewhere.
 */
function placeRows(maxColumns = MAX_COLUMNS, remeasure = false) {
  if (!parts) return;
  const n = model.order.length;
  const longest = model.order.reduce((a, b) => (b.length > a.length ? b : a), "");
  if (remeasure || !parts.sizes || longest.length > parts.sizes.longest) {
    parts.sizes = measure(longest);
    parts.cap = MAX_COLUMNS; // (the tables that fit across are found again for the new sizes)
  }
  const { room, tall, head, width, rowHeight } = parts.sizes;
  const height = tall - head;
  let best = { columns: 1, scale: 1, score: 0 };
  for (let columns = 1; columns <= Math.min(maxColumns, parts.cap) && width > 0 && n > 0; columns++) {
    if (columns > 1 && Math.ceil(n / columns) < MIN_ROWS) break;
    const across = (room - (columns - 1) * GAP) / (columns * width);
    const down = height / (Math.ceil(n / columns) * rowHeight);
    const score = Math.min(1, across, down);
    if (across >= MIN_SCALE && score > best.score + 0.01) best = { columns, scale: Math.max(MIN_SCALE, Math.min(MAX_SCALE, across, down)), score };
  }
  // (in steps: a class joining one by one changes the type size a few times, not at each student)
  const planned = Math.max(MIN_SCALE, Math.floor(best.scale / SCALE_STEP + 1e-9) * SCALE_STEP);
  if (best.columns === parts.columns && planned === parts.planned) {
    spread();
    return;
  }
  parts.columns = best.columns;
  parts.planned = planned;
  pane.dataset.columns = String(best.columns);
  parts.tables.style.setProperty("--board-scale", planned.toFixed(3));
  spread();
  // borders and padding do not scale with the type: make sure the tables fit across, else one fewer
  let scale = planned;
  for (let i = 0; i < 4 && parts.tables.scrollWidth > room + 1 && scale >= MIN_SCALE; i++) {
    scale *= (room - 2) / parts.tables.scrollWidth;
    parts.tables.style.setProperty("--board-scale", scale.toFixed(3));
  }
  if (best.columns > 1 && parts.tables.scrollWidth > room + 1) {
    parts.cap = best.columns - 1;
    placeRows(maxColumns);
  }
}

/** The sizes at full type: one table with a copy of the longest name's row, measured out of the flow. */
function measure(longest) {
  const probe = gridTable();
  probe.style.setProperty("--board-scale", "1");
  probe.style.position = "absolute";
  probe.style.visibility = "hidden";
  probe.style.flex = "none";
  const row = longest && rowsOf.get(longest);
  if (row) probe.tBodies[0].append(row.cloneNode(true));
  probe.setAttribute("aria-hidden", "true");
  parts.tables.append(probe);
  const sizes = { room: parts.scroll.clientWidth, tall: parts.scroll.clientHeight, longest: longest.length,
    head: probe.tHead.getBoundingClientRect().height, width: probe.getBoundingClientRect().width,
    rowHeight: probe.tBodies[0].rows[0]?.getBoundingClientRect().height || 1 };
  probe.remove();
  return sizes;
}

const gridTable = () => el("table", { class: "board-grid", testid: "board-grid" }, gridHead(), el("tbody", { testid: "board-rows" }));

/** The rows in order across parts.columns tables (as many made or dropped): only rows out of place move. */
function spread() {
  const columns = Math.max(1, parts.columns);
  while (parts.tables.children.length < columns) parts.tables.append(gridTable());
  while (parts.tables.children.length > columns) parts.tables.lastElementChild.remove();
  const per = Math.ceil(model.order.length / columns) || 1;
  [...parts.tables.children].forEach((table, i) => {
    const body = table.tBodies[0];
    let at = body.firstElementChild;
    for (const name of model.order.slice(i * per, (i + 1) * per)) {
      const tr = rowsOf.get(name);
      if (!tr) continue;
      if (tr === at) at = at.nextElementSibling;
      else body.insertBefore(tr, at);
    }
    while (at) { // (rows of a later table: moved there next)
      const next = at.nextElementSibling;
      at.remove();
      at = next;
    }
  });
}

const SCALE_STEP = 0.05;
const MAX_COLUMNS = 4;
const MIN_SCALE = 0.8; // the smallest type the board shrinks to (then it scrolls)
const MAX_SCALE = 1.4; // a small class: larger type, for the back of the room
const GAP = 12; // px between two tables of rows (style.css .board-tables)
const MIN_ROWS = 8; // a column of rows is not started for fewer than this

function makeRow(name) {
  const tr = el("tr", { testid: "board-row", data: { name } });
  const open = el("button", { type: "button", class: "board-open", testid: "board-open",
    title: t("board.openLanes", { name }), text: name });
  open.addEventListener("click", () => openLanes(name));
  tr.append(el("th", { scope: "row", class: "board-name" }, open,
    name === student ? el("span", { class: "board-you", i18n: "board.you" }) : null),
  el("td", { class: "board-count", testid: "board-count" }),
  ...model.checks.map((code) => el("td", { class: "board-cell", data: { code } },
    el("span", { class: "mark", "aria-hidden": "true" }), el("span", { class: "sr-only" }))));
  if (name === student) tr.classList.add("mine");
  rowsOf.set(name, tr);
  fillRow(name);
  return tr;
}

/** One row's cells from the model: what an event changes. */
function fillRow(name) {
  const tr = rowsOf.get(name);
  if (!tr) return;
  const lang = currentLanguage();
  const checks = model.checks;
  const passed = model.passed(name);
  const count = tr.querySelector(".board-count");
  if (count.textContent !== `${passed}/${checks.length}`) count.textContent = `${passed}/${checks.length}`;
  const done = String(passed === checks.length && checks.length > 0);
  if (tr.dataset.done !== done) tr.dataset.done = done;
  const row = model.row(name);
  for (const cell of tr.querySelectorAll(".board-cell")) {
    const code = cell.dataset.code;
    const state = model.state(name, code);
    if (cell.dataset.state === state && state !== FAIL) continue;
    if (cell.dataset.state !== state) {
      cell.dataset.state = state;
      const mark = cell.firstChild;
      mark.textContent = SYMBOLS[state];
      mark.className = `mark ${state}`;
      cell.lastChild.textContent = `${model.checkWords(code, lang).text}: ${stateWord(state)}`;
    }
    const why = state === FAIL ? row?.reasons[code] : null;
    const reason = why?.reason ? model.reasonText(why.reason, why.params, lang) : "";
    const title = [`${model.checkWords(code, lang).text}: ${stateWord(state)}`,
      state === FAIL ? model.checkWords(code, lang).head : "", reason].filter(Boolean).join("\n");
    if (cell.title !== title) cell.title = title; // (a failed check's reason may change; its cell seldom)
  }
}

/** The common mistakes and the class's count (once a frame at most, whatever the number of events). */
function drawSide() {
  if (!parts) return;
  const lang = currentLanguage();
  const total = model.order.length;
  parts.empty.hidden = total > 0;
  const done = model.order.filter((name) => model.passed(name) === model.checks.length && model.checks.length).length;
  const summary = total ? t("board.summary", { n: total, done }) : "";
  if (parts.summary.textContent !== summary) parts.summary.textContent = summary;
  const found = model.mistakes();
  // (remade only when what it says changed: most frames change a row's cells, not the class's mistakes)
  const said = JSON.stringify([lang, total, found]);
  if (said === parts.side) return;
  parts.side = said;
  if (!found.length) {
    parts.mistakes.replaceChildren(el("li", { class: "board-none", testid: "board-no-mistakes",
      i18n: total ? "board.noMistakes" : "board.noStudents" }));
    return;
  }
  parts.mistakes.replaceChildren(...found.map((mistake) => {
    const w = model.checkWords(mistake.code, lang);
    const reasons = mistake.reasons.map((r) => {
      const text = model.reasonText(r.reason, r.params, lang);
      return text ? el("li", { text: t("board.reason", { n: r.count, text, name: r.name }) }) : null;
    }).filter(Boolean);
    return el("li", { class: "board-mistake", testid: "board-mistake", data: { code: mistake.code, count: String(mistake.count) } },
      el("p", { class: "board-mistake-head" },
        el("b", { class: "board-mistake-count", text: t("board.of", { n: mistake.count, total }) }), `${t("board.gap")}${w.head}`),
      reasons.length ? el("ul", { class: "board-reasons" }, ...reasons) : null);
  }));
}

const dirty = new Set(); // students whose row changed since the last frame
let flushing = 0;

/** The rows that changed, drawn once a frame: a burst of events for one student draws its row once. */
function flush() {
  flushing = 0;
  if (!parts) return;
  let joined = false;
  for (const name of dirty) {
    if (rowsOf.has(name)) fillRow(name);
    else {
      makeRow(name);
      joined = true;
    }
  }
  dirty.clear();
  if (joined) placeSoon();
  drawSide();
}

// A class joins one by one, a hundred students in twenty seconds: a student who joins is put in their
// place in the tables as they are at once; the number of tables and the type size are chosen again at
// most every PLACE_EVERY ms (each may lay the whole board out).
const PLACE_EVERY = 1000;
let placedAt = -Infinity;
let placing = 0;

function placeSoon() {
  const wait = placedAt + PLACE_EVERY - performance.now();
  if (wait <= 0) {
    placedAt = performance.now();
    placeRows();
    return;
  }
  spread(); // (in the tables as they are, in order; no layout asked for)
  if (!placing) {
    placing = setTimeout(() => {
      placing = 0;
      if (!parts) return;
      placedAt = performance.now();
      placeRows();
    }, wait);
  }
}

function onRow(name) {
  if (!parts || drawnKey !== `${model.stage}|${model.key}|${currentLanguage()}`) {
    redraw();
    return;
  }
  dirty.add(name);
  if (!flushing) flushing = requestAnimationFrame(flush);
}

/** The whole board again: a new exercise, results loaded, the language changed. */
function redraw() {
  const running = model.key !== null;
  const appeared = running && tab.hidden;
  tab.hidden = !running;
  if (appeared) hooks.followAgain(); // a page following a teacher who shows the board: now it can
  if (!running) {
    pane.replaceChildren();
    parts = null;
    drawnKey = "";
    if (panel.dataset.view === "board") hooks.showView(hooks.chosenView() === "board" ? "log" : hooks.chosenView(), { remember: false });
    return;
  }
  build();
}

function openLanes(name) {
  const lanes = [...focus.lanesOf(name)];
  if (parts) parts.note.textContent = lanes.length ? "" : t("board.noLanes", { name });
  if (!lanes.length) return;
  focus.program(name);
}

async function endExercise() {
  try {
    adopt(await post("/stage", {}));
  } catch (error) {
    if (parts) parts.note.textContent = error.message;
  }
}

async function loadResults() {
  if (model.key === null) return;
  const ticket = model.ticket();
  try {
    model.setResults(await get("/exercise/results"), ticket);
  } catch {
    // the live rows still come; the next reconnect asks again
  }
}

/** GET /api/exercises (a dashboard without exercises: none, and the board never shows). */
export async function loadExercises() {
  try {
    model.setExercises(await get("/exercises"));
  } catch {
    model.setExercises([]);
  }
}

let previousKey = null;

function followStage(stage) {
  const before = `${model.stage}|${model.key}`;
  model.setStage(stage);
  if (`${model.stage}|${model.key}` === before) return;
  const started = model.key !== null && model.key !== previousKey;
  previousKey = model.key;
  loadResults();
  // an exercise begins: the teacher's page shows the board (and, through follow.js, the class's)
  if (started && role === "control") hooks.showView("board");
}

/**
 * `onEvents`, `onConnected` from events.js; `showView`, `chosenView` from classroom.js, `followAgain`
 * from follow.js; the session's
 * role and student (a student's own row is marked "you").
 */
export function initBoard({ onEvents, onConnected, showView, chosenView, followAgain, role: given, student: me }) {
  hooks = { showView, chosenView, followAgain };
  role = given === "view" ? "view" : "control";
  student = me;
  model.on("reset", redraw);
  // a new width (the window, projector mode, a view beside it) may hold more or fewer tables of rows
  new ResizeObserver(() => {
    if (parts && !pane.hidden && (parts.scroll.clientWidth !== parts.sizes?.room || parts.scroll.clientHeight !== parts.sizes?.tall)) {
      placeRows(MAX_COLUMNS, true);
    }
  }).observe(pane);
  model.on("row", onRow);
  onEvents((events) => model.applyEvents(events)); // live, and caught up after a (re)connect
  onConnected(loadResults);
  onStage((stage) => followStage(stage));
  onLanguageChange(redraw);
  const stage = current();
  if (stage) followStage(stage);
  redraw();
}
