// The teacher leads, viewers follow. A controller page tells the server which view and focus its
// user picked (PUT /api/stage/teacher, debounced); a viewer page with "Follow the teacher" on (the
// default, remembered) shows them, and every page that follows opens the view a new lesson names.
// Nothing here decides what a view shows: classroom.js's showView and focus.js do that.
import { api } from "../net/api.js";
import { showView } from "./classroom.js";
import { openCompare } from "./compare.js";
import * as focus from "./focus.js";
import { onLanguageChange, t } from "../i18n.js";
import { model } from "./ladder.js";
import { current, onStage } from "../models/stage.js";

const FOLLOW_KEY = "socketlab.follow";
const SEND_MS = 200; // a user going through the tabs sends one PUT, for where they stop
const LAYOUTS = ["log", "ladder", "split", "numbers", "board"];
const panel = document.getElementById("classroom");
const select = document.getElementById("focus-select");
const toggle = document.getElementById("follow-toggle");
let role = "control";
let following = localStorage.getItem(FOLLOW_KEY) !== "off";
let placed = ""; // the view|focus this page set itself (a lesson, the teacher): not the user's pick
let sent = ""; // the view|focus last sent, so a redraw that changes nothing sends nothing
let sendTimer = 0;
let lastFailure = "";

const where = () => `${panel.dataset.view}|${select.dataset.focus || ""}`;

/** Do what this page itself does to the view, and remember it was not the user. */
function place(fn) {
  fn();
  placed = where();
}

/** Whether this page shows what the teacher and the lessons choose (controllers: their own picks stand). */
const follows = () => role === "view" && following;

function showFocus(id) {
  if (!id) {
    focus.clear();
    return;
  }
  if (focus.isProgram(id)) { // a student's program, all its lanes (the board's rows open them)
    if (select.dataset.focus !== id) focus.program(focus.programName(id));
    return;
  }
  // a late joiner may not know the lane yet: it is tried again as the events arrive (retryFocus)
  if (model.lanes.has(id) && select.dataset.focus !== id) focus.choose(id);
}

/** The teacher's view and focus, on a following page: focus first (it may switch to split), then the view. */
function showTeacher(teacher) {
  if (!teacher) return;
  place(() => {
    showFocus(Array.isArray(teacher.focus) ? teacher.focus[0] : null);
    if (LAYOUTS.includes(teacher.view) && panel.dataset.view !== teacher.view) showView(teacher.view, { remember: false });
  });
}

/** The view a lesson names: one of the classroom's, or "compare" (the TCP vs UDP panel). */
function showLessonView(lesson) {
  if (lesson.view === "compare") openCompare();
  else if (LAYOUTS.includes(lesson.view)) place(() => showView(lesson.view, { remember: false }));
}

function followStage(stage, previous) {
  const lesson = stage.lesson;
  const first = !previous;
  const newStage = previous && previous.stage !== stage.stage;
  const teacherMoved = previous && JSON.stringify(previous.teacher) !== JSON.stringify(stage.teacher);
  if (follows() && (first || teacherMoved)) showTeacher(stage.teacher);
  // a teacher's page that reloads (or a second teacher tab) lands where the class is, during a lesson
  else if (first && role === "control" && lesson) showTeacher(stage.teacher);
  // a new lesson opens its view on every controller and every page that follows (the server makes
  // it the teacher's view too, so late joiners land there)
  if (lesson && newStage && (follows() || role === "control")) showLessonView(lesson);
  if (lesson?.view === "compare" && first && (follows() || role === "control")) openCompare({ onLoad: true });
}

/** A late joiner's focus waits for its lane: tried again after each batch of events. */
function retryFocus() {
  const wanted = follows() ? current()?.teacher?.focus?.[0] : null;
  if (wanted && select.dataset.focus !== wanted && (model.lanes.has(wanted) || focus.isProgram(wanted))) showTeacher(current().teacher);
}

// -- the controller's side: tell the server where the user went ------------------------------

async function sendNow() {
  clearTimeout(sendTimer);
  const now = where();
  if (role !== "control" || now === sent) return;
  sent = now;
  const [view, lane] = now.split("|");
  try {
    await api("PUT", "/stage/teacher", { view, focus: lane ? [lane] : null });
    lastFailure = "";
  } catch (error) {
    // the user's own page is fine; only the viewers do not follow. Said once, not on every click.
    sent = "";
    if (error.message !== lastFailure) console.warn(error.message);
    lastFailure = error.message;
  }
}

function userMoved() {
  if (role !== "control") return;
  const now = where();
  if (now === placed || now === sent) return;
  placed = "";
  clearTimeout(sendTimer);
  sendTimer = setTimeout(sendNow, SEND_MS);
}

// -- the viewer's toggle -------------------------------------------------------------------

function drawToggle() {
  toggle.hidden = role !== "view";
  toggle.setAttribute("aria-pressed", String(following));
  // the long words, and short ones that a projector's crowded header shows instead (style.css)
  const key = following ? "stage.following" : "stage.follow";
  const long = document.createElement("span");
  long.className = "label-long";
  long.textContent = t(key);
  const short = document.createElement("span");
  short.className = "label-short";
  short.textContent = t(`${key}Short`);
  toggle.replaceChildren(long, short);
}

function setFollowing(on) {
  following = on;
  localStorage.setItem(FOLLOW_KEY, on ? "on" : "off");
  drawToggle();
  const stage = current();
  if (on && stage) {
    showTeacher(stage.teacher);
    if (stage.lesson?.view === "compare") openCompare();
  }
}

/** Show the teacher's view again on a page that follows (a view that could not be shown before: the board). */
export function followAgain() {
  const stage = current();
  if (stage && follows()) showTeacher(stage.teacher);
}

/** The session's role: controllers lead, viewers follow. */
export function setFollowRole(given) {
  role = given === "view" ? "view" : "control";
  drawToggle();
  const stage = current();
  if (stage && (follows() || (role === "control" && stage.lesson))) showTeacher(stage.teacher);
}

/** `onEvents` from events.js: a focus the teacher chose waits for its lane's events. */
export function initFollow(onEvents) {
  onStage(followStage);
  onEvents(retryFocus);
  // the user's picks, however made (tabs, keys, the focus menu, "f"): the view and focus the page shows
  const observer = new MutationObserver(userMoved);
  observer.observe(panel, { attributes: true, attributeFilter: ["data-view"] });
  observer.observe(select, { attributes: true, attributeFilter: ["data-focus"] });
  toggle.addEventListener("click", () => setFollowing(!following));
  onLanguageChange(drawToggle);
  drawToggle();
}
