// The focus on one connection: pick it (menu, or "f" to go through them) and the diagram and the
// log show only its sockets, side by side and big. A connection is a TCP client with the server
// socket accept() gave it, or a UDP socket with the sockets it exchanged datagrams with.
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
  choices = connections();
  // the connection in focus left (closed a while ago, or a new stage began): every connection again
  if (select.value && !model.lanes.has(select.value)) {
    select.value = "";
    apply();
  }
  const next = choices.map((c) => c.join("=")).join("|") + t("focus.all");
  if (next === signature) return;
  signature = next;
  setOptions(select, [["", t("focus.all")], ...choices]);
  for (const option of select.options) {
    const lane = model.lanes.get(option.value);
    option.title = lane?.peer && names.of(lane.peer) !== null ? addr(lane.peer) : "";
  }
}

function apply() {
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

/** Leave the focus; true when there was one (so Esc knows it did something). */
export function clear() {
  if (!select.value) return false;
  select.value = "";
  apply();
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
