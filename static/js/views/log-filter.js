// The log's filter bar: socket, connection, event kind, free text, and the encoding previews are
// read in. The text search looks at the preview as decoded in that encoding, so 你好 sent as GBK
// is found by typing 你好 once GBK is chosen. The focus on one connection narrows it further.
import { setOptions } from "../dom.js";
import { decodeText } from "../models/decode.js";
import { Emitter } from "../emitter.js";
import { eventText } from "../models/event-text.js";
import { onLanguageChange, t, tOr } from "../i18n.js";
import { addr, laneOf } from "../models/event-socket.js";

// (the controls are looked up in initFilter: importing this module touches no DOM)
let endpointSelect = null;
let connSelect = null;
let kindSelect = null;
let search = null;
let encodingSelect = null;
let clearButton = null;
const changes = new Emitter();
const endpoints = new Set();
const conns = new Map(); // endpoint -> Set of conn ids
const kinds = new Set();
let focusLanes = null;
let packets = true; // the wire layer's toggle (wire-controls.js): packet rows shown or not
let needle = "";
let optionsDirty = false;

const ENCODING_KEY = "socketlab.encoding";

/** fn() after any filter or the encoding changed; returns a function that unsubscribes. */
export const onFilterChange = (fn) => changes.on("change", fn);

function changed() {
  clearButton.hidden = !isFiltering();
  changes.emit("change");
}

export const encoding = () => encodingSelect?.value || "utf-8";

export function isFiltering() {
  return Boolean(endpointSelect?.value || connSelect?.value || kindSelect?.value || needle || focusLanes);
}

/**
 * Does `ev` pass the filter `f` ({focus: Set of lanes | null, endpoint, conn, kind, needle (lower
 * case), encoding, packets (false: no packet rows)})? The text search looks at the preview in that encoding and at the sentence the
 * page shows for the event, in the reader's language. Pure.
 */
export function eventMatches(ev, f) {
  if (f.packets === false && ev.kind === "packet") return false;
  if (f.focus && !f.focus.has(laneOf(ev))) return false;
  if (f.endpoint && ev.endpoint !== f.endpoint) return false;
  if (f.conn && ev.conn !== f.conn) return false;
  if (f.kind && ev.kind !== f.kind) return false;
  if (!f.needle) return true;
  const hay = [decodeText(ev, f.encoding || "utf-8"), ev.data, ev.hex, eventText(ev), ev.endpoint, ev.conn, ev.kind,
    tOr(`ev.${ev.kind}`, ""), addr(ev.peer), addr(ev.local)];
  return hay.some((part) => typeof part === "string" && part.toLowerCase().includes(f.needle));
}

/** Does `ev` pass every filter on the page? */
export function matches(ev) {
  return eventMatches(ev, { focus: focusLanes, endpoint: endpointSelect?.value, conn: connSelect?.value,
    kind: kindSelect?.value, needle, encoding: encoding(), packets });
}

/** Show packet rows or not (the wire toggle); the caller filters the log again. */
export function setPackets(on) {
  packets = Boolean(on);
}

/** Remember the sockets, connections and kinds seen, for the menus. */
export function note(events) {
  for (const ev of events) {
    const ep = String(ev.endpoint ?? "");
    // a stage's divider has no socket ("" would be a second "all sockets" in the menu)
    if (ep && !endpoints.has(ep)) {
      endpoints.add(ep);
      optionsDirty = true;
    }
    if (ev.conn && ev.kind !== "refuse") {
      if (!conns.has(ep)) conns.set(ep, new Set());
      if (!conns.get(ep).has(ev.conn)) {
        conns.get(ep).add(ev.conn);
        optionsDirty = true;
      }
    }
    if (!kinds.has(ev.kind)) {
      kinds.add(ev.kind);
      optionsDirty = true;
    }
  }
  if (optionsDirty && !fillTimer) {
    // at most once a FILL_EVERY: a class's programs open sockets all the time, and each fill rebuilds
    // menus of hundreds of options (the first new socket after a quiet while is listed at once)
    fillTimer = setTimeout(() => {
      fillTimer = 0;
      filledAt = performance.now();
      fillOptions();
    }, Math.max(0, filledAt + FILL_EVERY - performance.now()));
  }
}

const FILL_EVERY = 1000;
let fillTimer = 0;
let filledAt = -Infinity;

// (one collator: localeCompare with options builds one for every comparison, a class's 400 sockets sorted
// took a tenth of the page's time)
const byNumber = new Intl.Collator(undefined, { numeric: true }).compare;

function fillOptions() {
  optionsDirty = false;
  setOptions(endpointSelect, [["", t("filter.allSockets")], ...[...endpoints].sort(byNumber).map((id) => [id, id])]);
  const ids = new Set();
  for (const [ep, set] of conns) if (!endpointSelect.value || ep === endpointSelect.value) for (const c of set) ids.add(c);
  setOptions(connSelect, [["", t("filter.allConns")], ...[...ids].sort(byNumber).map((id) => [id, id])]);
  setOptions(kindSelect, [["", t("filter.allKinds")], ...[...kinds].sort().map((k) => [k, tOr(`ev.${k}`, k)])]);
}

export function reset() {
  endpoints.clear();
  conns.clear();
  kinds.clear();
  fillOptions();
}

/** Only the events of these lanes (a Set), or all again (null). */
export function setFocus(lanes) {
  focusLanes = lanes;
  changed();
}

export function focusSearch() {
  search.focus();
  search.select();
}

export function clearFilters() {
  for (const select of [endpointSelect, connSelect, kindSelect]) select.value = "";
  search.value = "";
  needle = "";
  fillOptions();
  changed();
}

export function initFilter() {
  endpointSelect = document.getElementById("log-filter-endpoint");
  connSelect = document.getElementById("log-filter-conn");
  kindSelect = document.getElementById("log-filter-kind");
  search = document.getElementById("log-search");
  encodingSelect = document.getElementById("log-encoding");
  clearButton = document.getElementById("log-filter-clear");
  let timer = 0;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      needle = search.value.trim().toLowerCase();
      changed();
    }, 120);
  });
  search.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && search.value) {
      event.stopPropagation();
      search.value = "";
      needle = "";
      changed();
    }
  });
  endpointSelect.addEventListener("change", () => {
    fillOptions();
    changed();
  });
  for (const select of [connSelect, kindSelect]) select.addEventListener("change", changed);
  const stored = localStorage.getItem(ENCODING_KEY);
  encodingSelect.value = stored && [...encodingSelect.options].some((o) => o.value === stored) ? stored : "utf-8";
  encodingSelect.addEventListener("change", () => {
    localStorage.setItem(ENCODING_KEY, encodingSelect.value);
    changed();
  });
  clearButton.addEventListener("click", clearFilters);
  onLanguageChange(fillOptions);
  fillOptions();
  clearButton.hidden = true;
}
