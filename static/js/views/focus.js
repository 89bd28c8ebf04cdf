// The focus on one connection: pick it (menu, or "f" to go through them) and the diagram and the
// log show only its sockets, side by side and big. A connection is a TCP client with the server
// socket accept() gave it, or a UDP socket with the sockets it exchanged datagrams with. A student's
// traced program may be in focus too, all its lanes at once (the class board's rows open them): its
// focus is "@" and the program's name, and its lanes are gathered again as new ones appear.
import { setOptions } from "../dom.js";
import { onLanguageChange, t } from "../i18n.js";
import { addr } from "../models/event-socket.js";
import { model, onDrawn } from "./ladder.js";
import { book as names, onNames } from "../models/names.js";

const select = document.getElementById("focus-select");
const clearButton = document.getElementById("focus-clear");
let hooks = { changed() {} };
let choices = [];
let signature = "";
let programFocus = null; // the traced program in focus (its name), or null
let programLanes = "";

const PROGRAM = "@";

/** Whether a focus names a traced program ("@Ann") rather than a lane. */
export const isProgram = (id) => typeof id === "string" && id.startsWith(PROGRAM) && id.length > 1;
export const programName = (id) => id.slice(PROGRAM.length);

/** The lanes of the traced program `name` and every lane they exchanged anything with. */
export function lanesOf(name) {
  const found = new Set();
  for (const lane of model.lanes.values()) {
    if (lane.program !== name) continue;
    for (const id of model.partnersOf(lane.id)) found.add(id);
  }
  return found;
}

function applyProgram() {
  const lanes = lanesOf(programFocus);
  const key = [...lanes].sort().join("|");
  if (key === programLanes && select.dataset.focus === PROGRAM + programFocus) return;
  programLanes = key;
  document.body.classList.add("focused");
  clearButton.hidden = false;
  select.dataset.focus = PROGRAM + programFocus;
  hooks.changed(lanes);
}

/** [[lane id, label]] for every connection the diagram knows, each TCP pair once. */
function connections() {
  const out = [];
  const listed = new Set();
  for (const lane of model.lanes.values()) {
    if (listed.has(lane.id) || lane.first === null) continue;
    if (lane.proto === "tcp" && !lane.peer) continue; // a listening socket carries no data
    listed.add(lane.id);
    const partner = model.partnerOf(lane);
    if (partner) listed.add(partner.id);
    if (partner && partner.conn && !lane.conn) {
      out.push([partner.id, `${lane.id} ⇄ ${partner.id}`]); // named by the server's side, c1, c2...
      continue;
    }
    // a student's connection is listed by the student's name (the address in the option's title)
    const other = partner ? partner.id : lane.proto === "tcp" ? names.label(lane.peer) : t("focus.datagrams");
    out.push([lane.id, lane.conn ? `${other} ⇄ ${lane.id}` : `${lane.id} ⇄ ${other}`]);
  }
  return out;
}

function fill() {
  if (programFocus !== null) applyProgram(); // (its lanes as they are now: a program opens sockets as it runs)
  choices = connections();
  // the connection in focus left (closed a while ago, or a new stage began): every connection again
  if (select.value && !isProgram(select.value) && !model.lanes.has(select.value)) {
    select.value = "";
    apply();
  }
  // a program in focus is listed first, under its name
  const shown = programFocus !== null ? [[PROGRAM + programFocus, t("focus.program", { name: programFocus })]] : [];
  const next = [...shown, ...choices].map((c) => c.join("=")).join("|") + t("focus.all");
  if (next === signature) return;
  signature = next;
  setOptions(select, [["", t("focus.all")], ...shown, ...choices]);
  for (const option of select.options) {
    const lane = model.lanes.get(option.value);
    option.title = lane?.peer && names.of(lane.peer) !== null ? addr(lane.peer) : "";
  }
}

function apply() {
  if (isProgram(select.value) && programName(select.value) === programFocus) return; // (still that program)
  programFocus = null;
  programLanes = "";
  const id = select.value;
  const lanes = id && model.lanes.has(id) ? model.partnersOf(id) : null;
  document.body.classList.toggle("focused", Boolean(lanes));
  clearButton.hidden = !lanes;
  select.dataset.focus = id;
  hooks.changed(lanes);
}

/** Focus the next connection ("f"); after the last one, every connection again. */
export function next() {
  fill();
  const ids = ["", ...choices.map(([id]) => id)];
  select.value = ids[(ids.indexOf(select.value) + 1) % ids.length];
  apply();
}

export function choose(id) {
  fill();
  select.value = id;
  apply();
}

/** Focus every lane of the traced program `name` (a student's, by the name it traces under). */
export function program(name) {
  programFocus = name;
  programLanes = null;
  applyProgram();
  fill();
  select.value = PROGRAM + name;
}

/** Leave the focus; true when there was one (so Esc knows it did something). */
export function clear() {
  if (!select.value && programFocus === null) return false;
  select.value = "";
  apply();
  fill(); // (a program's entry leaves the menu)
  return true;
}

export function initFocus(given) {
  hooks = given;
  select.addEventListener("focus", fill);
  select.addEventListener("change", apply);
  clearButton.addEventListener("click", clear);
  onDrawn(fill);
  onLanguageChange(() => {
    signature = "";
    fill();
  });
  onNames(fill); // the labels carry names: the signature changes with them, the choice stays
  clearButton.hidden = true;
  fill();
}
