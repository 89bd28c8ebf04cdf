// The exercise on a viewer's page: what to write, where the lab's servers are (or that the lab will
// connect to the student's server), the one command that traces the program, and, on a student's
// page, their own checks live: passed, failed with the hint in their language and what the lab saw,
// or waiting. "Show my program" opens their program's lanes in the diagram (focus.js).
// The teacher has the board instead (board.js); the card reads the same model.
import { el } from "../dom.js";
import { currentLanguage, onLanguageChange, t } from "../i18n.js";
import { FAIL, PASS, words } from "../models/exercise-board.js";
import { model, stateWord, SYMBOLS, whereItems } from "./board.js";
import * as focus from "./focus.js";
import { FILE_NAME } from "./trace-panel.js";

const card = document.getElementById("exercise-card");
let role = "control";
let student = null;
let checksList = null;
let countLine = null;
let note = null;

/** The program file the command names: a server's or a client's, as the exercise asks for. */
const programFile = (exercise) => (exercise?.role === "serves" ? "my_client.py" : "my_server.py");

function draw() {
  const exercise = model.exercise;
  card.hidden = role === "control" || model.key === null;
  if (card.hidden) {
    card.replaceChildren();
    checksList = null;
    return;
  }
  const lang = currentLanguage();
  const info = el("div", { class: "exercise-info" },
    el("h2", { id: "exercise-card-title", class: "exercise-title", testid: "exercise-title",
      text: exercise ? t("exercise.title", { n: exercise.n, title: words(exercise.title, lang) }) : model.key }),
    exercise ? el("p", { class: "exercise-writes", testid: "exercise-writes" },
      el("b", { i18n: "exercise.writes" }), t("board.gap"), words(exercise.writes, lang)) : null,
    el("ul", { class: "exercise-where", testid: "exercise-where" },
      ...whereItems(exercise, model.place).map(([line, address]) => el("li", { class: address ? "address" : null, text: line }))));
  if (student) {
    const file = programFile(exercise);
    const tracer = el("button", { type: "button", class: "btn small", testid: "exercise-tracer", i18n: "trace.open",
      "data-i18n-title": "trace.openTitle" });
    tracer.addEventListener("click", () => document.getElementById("trace-open")?.click());
    const lanes = el("button", { type: "button", class: "btn small primary", testid: "exercise-lanes", i18n: "exercise.myLanes" });
    lanes.addEventListener("click", openMine);
    note = el("p", { class: "exercise-note", testid: "exercise-note", role: "status" });
    info.append(el("p", { class: "exercise-run" }, el("b", { i18n: "exercise.run" }), t("board.gap"),
      el("code", { testid: "exercise-command", text: `python3 ${FILE_NAME} ${file}` }), " ",
      el("span", { class: "exercise-or", text: t("exercise.windows", { line: `py ${FILE_NAME} ${file}` }) })),
    el("div", { class: "exercise-buttons" }, tracer, lanes), note);
  }
  const parts = [info];
  if (student) {
    countLine = el("p", { class: "exercise-count", testid: "exercise-count", "aria-live": "polite" });
    checksList = el("ol", { class: "exercise-checks", testid: "exercise-checks" });
    parts.push(el("div", { class: "exercise-mine", tabindex: "0", role: "region", "data-i18n-aria-label": "exercise.mine" },
      el("h3", { class: "exercise-mine-title", i18n: "exercise.mine" }), countLine, checksList));
  }
  card.replaceChildren(...parts);
  drawMine();
}

/** The student's own checks, from their row (waiting, all of them, until their program is traced). */
function drawMine() {
  if (!checksList) return;
  const lang = currentLanguage();
  const row = model.row(student);
  const checks = model.checks;
  countLine.textContent = row ? t("exercise.count", { n: model.passed(student), total: checks.length })
    : t("exercise.notYet");
  // what to do next first: the failed checks, then those waiting, then those passed (each in the registry's order)
  const rank = { fail: 0, pending: 1, pass: 2 };
  const ordered = [...checks].sort((a, b) => rank[model.state(student, a)] - rank[model.state(student, b)]);
  checksList.replaceChildren(...ordered.map((code) => {
    const state = model.state(student, code);
    const w = model.checkWords(code, lang);
    const why = state === FAIL ? row?.reasons[code] : null;
    const reason = why?.reason ? model.reasonText(why.reason, why.params, lang) : "";
    return el("li", { class: "exercise-check", testid: "exercise-check", data: { code, state } },
      el("span", { class: `mark ${state}`, "aria-hidden": "true", text: SYMBOLS[state] }),
      el("span", { class: "exercise-check-text" },
        el("b", { class: "exercise-state", text: stateWord(state) }), " ", w.text,
        state === FAIL ? el("span", { class: "exercise-hint", testid: "exercise-hint", text: w.hint }) : null,
        reason ? el("span", { class: "exercise-reason", testid: "exercise-reason", text: reason }) : null));
  }));
  card.dataset.passed = String(row ? model.passed(student) : 0);
  card.dataset.state = row && checks.length && model.passed(student) === checks.length ? PASS : "";
}

function openMine() {
  const found = focus.lanesOf(student).size > 0;
  if (note) note.textContent = found ? "" : t("exercise.noLanes");
  if (found) focus.program(student);
}

/** The session's role and student (GET /api/session): the card is for viewers, the checks for a student. */
export function initExerciseCard({ role: given, student: me }) {
  role = given === "view" ? "view" : "control";
  student = me;
  model.on("reset", draw);
  model.on("row", (name) => {
    if (name === student) drawMine();
  });
  onLanguageChange(draw);
  draw();
}
