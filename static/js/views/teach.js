// Teaching: the Lessons menu and "New stage" (the server closes every socket of the lab and builds
// the lesson's; the page only asks, after a confirmation), and the lesson banner, drawn on every page
// (controller, reload, second tab, viewer, late joiner) from the shared stage (stage.js).
import { withAgent } from "./agents-view.js";
import { errorSentence, get, post } from "../net/api.js";
import { initCompare, openCompare, seeEvents } from "./compare.js";
import { el, replaceKeepingFocus } from "../dom.js";
import * as downloads from "./downloads.js";
import * as endpoints from "./endpoints.js";
import { currentLanguage, onLanguageChange, t } from "../i18n.js";
import { noticeIn } from "./notice.js";
import { adopt, current, onStage } from "../models/stage.js";
import { model as exercises } from "./board.js";
import { words } from "../models/exercise-board.js";

const menu = document.getElementById("lessons-menu");
const list = document.getElementById("lessons-list");
const exerciseList = document.getElementById("exercises-list");
const exerciseHeading = document.getElementById("exercises-heading");
const banner = document.getElementById("lesson-banner");
const newStage = document.getElementById("stage-new");
const agentPicker = document.querySelector("[data-testid=lessons-agent]"); // (shown over agents only)
const confirmDialog = document.getElementById("stage-confirm");
let lessons = []; // GET /api/session "lessons": the menu
let wire = {}; // GET /api/session "capture", "impair_tcp": what this lab can do on the wire
let role = "control";
let dismissed = ""; // the stage whose banner this page closed (it comes back with the next stage)
let prepared = ""; // the stage whose send boxes and Download form this page filled
const busy = new Set(); // actions on their way (their buttons stay disabled across redraws)
let pageNotice = null;

/** A stage text ({"en": ..., "zh": ...}) in the page's language, English when it lacks one. */
export function inLanguage(texts) {
  if (!texts || typeof texts !== "object") return texts ?? "";
  return texts[currentLanguage()] ?? texts.en ?? "";
}

/**
 * What an action did, as a sentence: its code and params through the err.<code> tables (the
 * server words answers and errors with one set of codes), else the server's English.
 */
function resultSentence(last) {
  if (!last) return "";
  if (last.ok === false) return errorSentence(last) || ""; // a failed action carries its error body
  if (!last.code) return last.sentence || "";
  const params = { ...last.params };
  // `cause`: the refusal inside the answer, as data (lesson 3's new client), worded here
  if (last.cause) params.reason = errorSentence({ ...last.cause, error: params.reason }) || params.reason;
  return errorSentence({ code: last.code, params, error: last.sentence }) || "";
}

// -- the banner: built once (a redraw keeps its error notice and the buttons' state), filled from the stage

const parts = {
  n: el("span", { class: "lesson-n" }),
  title: el("span", { testid: "lesson-title" }),
  do: el("span"),
  see: el("span"),
  step: el("p", { class: "lesson-step", testid: "lesson-step" }),
  actions: el("div", { class: "lesson-actions" }),
  result: el("p", { class: "lesson-result", testid: "lesson-result", "aria-live": "polite" }),
};
let notice = null;

function buildBanner() {
  const close = el("button", { type: "button", class: "notice-close", testid: "lesson-close",
    "data-i18n-aria-label": "lessons.close", "data-i18n-title": "lessons.close", text: "×" });
  close.addEventListener("click", () => {
    dismissed = String(current()?.stage);
    drawBanner();
  });
  banner.replaceChildren(
    el("div", { class: "lesson-head" }, el("p", { class: "lesson-title" }, parts.n, parts.title), close),
    el("p", { class: "lesson-do" }, el("b", { i18n: "lessons.do" }), parts.do),
    el("p", { class: "lesson-see" }, el("b", { i18n: "lessons.see" }), parts.see),
    parts.step, parts.actions, parts.result);
  notice = noticeIn(banner, "lesson-error", parts.result);
}

function actionButtons(lesson) {
  const buttons = [];
  if (role === "control") {
    for (const action of lesson.actions || []) {
      if (action.key === "run") continue; // lesson 8 runs from the panel's form, with its settings
      const button = el("button", { type: "button", class: "btn small", testid: "lesson-action",
        data: { action: action.key }, text: inLanguage(action.label) });
      button.disabled = busy.has(action.key) || lesson.state !== "ready";
      button.addEventListener("click", () => runAction(action.key));
      buttons.push(button);
    }
  }
  if (lesson.view === "compare") {
    const open = el("button", { type: "button", class: "btn small", testid: "lesson-action",
      data: { action: "open" }, i18n: "lessons.act.openCompare" });
    open.addEventListener("click", () => openCompare());
    buttons.push(open);
  }
  if (lesson.link) {
    buttons.push(el("a", { class: "btn small primary", testid: "lesson-link", href: lesson.link, target: "_blank",
      rel: "noopener", text: t("lessons.openLink", { url: lesson.link }) }));
  }
  return buttons;
}

function drawBanner() {
  const stage = current();
  const lesson = stage?.lesson;
  if (!lesson || dismissed === String(stage.stage)) {
    banner.hidden = true;
    return;
  }
  const text = inLanguage(lesson.text) || {};
  parts.n.textContent = String(lesson.n);
  parts.title.textContent = text.title || "";
  parts.title.parentElement.title = t("lessons.number", { n: lesson.n });
  parts.do.textContent = text.do || "";
  parts.see.textContent = text.see || "";
  const last = lesson.last;
  parts.step.textContent = lesson.state === "building" ? t("stage.building")
    : lesson.step > 0 && last ? t("stage.step", { n: lesson.step, action: inLanguage(last.label) }) : "";
  parts.step.dataset.step = String(lesson.step || 0);
  replaceKeepingFocus(parts.actions, ...actionButtons(lesson));
  parts.result.textContent = resultSentence(last);
  if (lesson.state === "failed") notice.show(errorSentence(lesson.error) || t("stage.failed"));
  Object.assign(banner.dataset, { lesson: String(lesson.n), state: lesson.state, stage: String(stage.stage) });
  banner.hidden = false;
}

async function runAction(key) {
  busy.add(key);
  drawBanner();
  try {
    const answer = await post(`/stage/actions/${encodeURIComponent(key)}`, {});
    notice.clear();
    adopt(answer?.stage);
    downloads.refreshSoon(); // lesson 5's downloads: their cards
  } catch (error) {
    notice.show(error.message);
  } finally {
    busy.delete(key);
    drawBanner();
  }
}

/**
 * Controller pages, once per stage when its lesson is ready: the send boxes the lesson prepared,
 * and lesson 5's Download form. The cards must exist first (showing() refreshes until they do).
 */
async function prepare(stage) {
  const lesson = stage.lesson;
  if (role !== "control" || lesson?.state !== "ready" || prepared === String(stage.stage)) return;
  prepared = String(stage.stage);
  const prefill = lesson.prefill || {};
  const download = lesson.download;
  await endpoints.showing([...Object.keys(prefill), ...(download ? [download.server] : [])]);
  if (current()?.stage !== stage.stage) return; // a newer stage came meanwhile
  for (const [id, values] of Object.entries(prefill)) endpoints.cardOf(id)?.prefill(values);
  if (download) {
    document.getElementById("tab-download").click();
    downloads.preselect(download.server, { file: download.file, protocol: download.protocol });
  }
}

// -- starting a stage: confirm, then POST /api/stage -------------------------------------------

/** How many endpoints a new stage would close, read now (other tabs and viewers make sockets too). */
async function openEndpoints() {
  const fresh = await get("/stage");
  if (typeof fresh?.endpoints === "number") return fresh.endpoints;
  const all = await get("/endpoints");
  return Array.isArray(all) ? all.length : 0;
}

/** The confirmation that names what closes; resolves true when the teacher goes on. */
function confirmStage(lesson, count, exercise = null) {
  document.getElementById("stage-confirm-title").textContent = exercise
    ? t("stage.confirm.exercise", { n: exercise.n, title: words(exercise.title, currentLanguage()) })
    : lesson ? t("stage.confirm.lesson", { n: lesson.n, title: inLanguage(lesson.text)?.title || "" })
      : t("stage.confirm.new");
  document.getElementById("stage-confirm-text").textContent = t("stage.confirm.text", { n: count });
  document.getElementById("stage-ok").textContent = t(exercise ? "stage.confirm.startExercise"
    : lesson ? "stage.confirm.startLesson" : "stage.confirm.startNew");
  confirmDialog.returnValue = "";
  confirmDialog.showModal();
  document.getElementById("stage-ok").focus();
  return new Promise((resolve) => {
    confirmDialog.addEventListener("close", () => resolve(confirmDialog.returnValue === "ok"), { once: true });
  });
}

/** A new stage for everyone: with `lesson` (an entry of the menu), or empty (null). */
async function startStage(lesson) {
  menu.open = false;
  try {
    const count = await openEndpoints();
    if (count > 0 && !(await confirmStage(lesson, count))) return;
    // over lab agents a lesson runs on the agent chosen in the menu (a new empty stage clears them all)
    const stage = await post("/stage", lesson ? withAgent({ lesson: lesson.n }, agentPicker) : { lesson: null });
    pageNotice.clear();
    dismissed = "";
    adopt(stage);
    const panel = banner.closest(".panel");
    if (panel) panel.scrollTop = 0;
  } catch (error) {
    pageNotice.show(error.message);
  }
}

/** A new stage running `exercise` for the class (POST /api/stage {"exercise": key}); the board shows it. */
async function startExercise(exercise) {
  menu.open = false;
  try {
    const count = await openEndpoints();
    if (count > 0 && !(await confirmStage(null, count, exercise))) return;
    const stage = await post("/stage", { exercise: exercise.key });
    pageNotice.clear();
    dismissed = "";
    adopt(stage);
  } catch (error) {
    pageNotice.show(error.message);
  }
}

/** The Exercises section of the menu: the registry's exercises (GET /api/exercises), none without them. */
function drawExercises() {
  const all = [...exercises.exercises.values()].sort((a, b) => a.n - b.n);
  exerciseHeading.hidden = all.length === 0;
  const lang = currentLanguage();
  exerciseList.replaceChildren(...all.map((exercise) => {
    const button = el("button", { type: "button", class: "lesson-item", testid: "exercise-preset",
      data: { key: exercise.key }, title: words(exercise.writes, lang) },
    el("span", { class: "lesson-n exercise-n", text: String(exercise.n) }),
    el("span", { class: "lesson-label" }, el("span", { text: words(exercise.title, lang) })));
    button.addEventListener("click", () => startExercise(exercise));
    return el("li", {}, button);
  }));
}

/** Which loss a lesson uses (seeded or the kernel's), and what it lacks here (no capture, no real loss). */
function lessonTags(lesson) {
  const tags = [];
  if (lesson.impairment) {
    tags.push(el("span", { class: "lesson-tag", testid: "lesson-impairment", i18n: `lessons.impairment.${lesson.impairment}` }));
  }
  const can = lesson.needs === "link" ? wire.impair_tcp : lesson.needs === "capture" ? wire.capture : true;
  if (can === false) tags.push(el("span", { class: "lesson-tag off", testid: "lesson-needs", i18n: `lessons.needs.${lesson.needs}` }));
  return tags;
}

function drawMenu() {
  list.replaceChildren(...lessons.map((lesson) => {
    const button = el("button", { type: "button", class: "lesson-item", testid: "lesson-preset",
      data: { lesson: String(lesson.n), key: lesson.key } },
      el("span", { class: "lesson-n", text: String(lesson.n) }),
      el("span", { class: "lesson-label" }, el("span", { text: inLanguage(lesson.text)?.title || "" }), ...lessonTags(lesson)));
    button.addEventListener("click", () => startStage(lesson));
    return el("li", {}, button);
  }));
}

/**
 * The banner lives at the top of the forms panel; projector mode puts that panel away and a viewer
 * never has it, so there the banner sits above the whole layout.
 */
function placeBanner() {
  const home = document.querySelector(".forms-panel");
  const away = document.documentElement.classList.contains("projector") || role !== "control";
  if (away && banner.parentElement === home) document.querySelector("main.layout").before(banner);
  else if (!away && banner.parentElement !== home) home.prepend(banner);
}

/** The session's lessons (the menu) and role (viewers see the banner, without its buttons). */
export function setSession({ role: given, lessons: menuLessons, wire: wireSession }) {
  role = given === "view" ? "view" : "control";
  wire = wireSession || {}; // (null before the wire issue: no tag says anything is missing)
  lessons = Array.isArray(menuLessons) ? menuLessons : [];
  drawMenu();
  placeBanner();
  drawBanner();
  const stage = current();
  if (stage) prepare(stage);
}

/** `onEvents` is the page's event hook (main.js passes it): the comparison panel counts from it. */
export function initTeaching(onEvents) {
  pageNotice = noticeIn(document.getElementById("page-notice"), "stage-error");
  buildBanner();
  onEvents(seeEvents);
  initCompare();
  onStage((stage, previous) => {
    if (previous && previous.stage !== stage.stage) notice.clear();
    drawBanner();
    prepare(stage);
  });
  newStage.addEventListener("click", () => startStage(null));
  document.addEventListener("click", (event) => {
    if (menu.open && !menu.contains(event.target)) menu.open = false;
  });
  menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape") menu.open = false;
  });
  onLanguageChange(() => {
    drawMenu();
    drawExercises();
    drawBanner();
  });
  exercises.on("reset", drawExercises);
  new MutationObserver(placeBanner).observe(document.documentElement, { attributes: true, attributeFilter: ["class"] });
  placeBanner();
}
