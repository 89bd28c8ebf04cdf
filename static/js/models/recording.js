// Recordings as data: events to JSON Lines and CSV, and JSON Lines back to clean events. Pure (no
// DOM), so it is tested with node --test; replay.js does the files and the playing.
import { isolate, peerNames } from "./names.js";
import { stageNumbers } from "./stages.js";

// The event's fields as the lab publishes them, in its order (lab/events/bus.py JSON_FIELDS, handed over
// by GET /api/session as "event_fields"): the structured ones too (CONTRACT "Structured events"), so
// a replay words every event the way the live page did, in either language. The page lists none by hand.
let fields = [];

/** Take the field list from the session answer; anything but a field's name is left out, not guessed. */
export function setEventFields(list) {
  fields = Array.isArray(list) ? list.filter((f) => typeof f === "string" && /^[a-z_]+$/.test(f)) : [];
}

/** The fields of an event, in the lab's order: the columns of both exports. */
export const eventFields = () => [...fields];

export function toJsonl(events) {
  return events.map((ev) => JSON.stringify(Object.fromEntries(fields.map((f) => [f, ev[f] ?? null])))).join("\n") + "\n";
}

/** A CSV cell. Text a spreadsheet would run as a formula (=, +, -, @, tab, CR first) is prefixed
 * with ', whatever field it came from: an imported file may put a formula in an address too. */
export function cell(value) {
  const s = value === null || value === undefined ? "" : Array.isArray(value) ? value.join(":")
    : typeof value === "object" ? JSON.stringify(value) : String(value);
  return quoted(typeof value === "number" ? s : unformula(s));
}

const unformula = (s) => (/^[=+\-@\t\r]/.test(s) ? `'${s}` : s);
const quoted = (s) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** A name's cell: in bidi isolation (a right-to-left name would reorder the cells beside it in a
 * viewer), guarded against formulas inside it as every cell is. */
const nameCell = (name) => (name ? quoted(isolate(unformula(name))) : "");

/** CSV with every event (earlier stages too); `stage` says which classroom stage each belongs to,
 * `peer_name` the display name of its peer in that stage (names.js; empty when unnamed). */
export function toCsv(events) {
  // "stage" and "peer_name" come last: the columns a script already reads by position stay where they were
  const lines = [["iso_time", ...fields, "stage", "peer_name"].join(",")];
  const stages = stageNumbers(events);
  const names = peerNames(events);
  events.forEach((ev, i) => {
    const iso = typeof ev.ts === "number" ? new Date(ev.ts * 1000).toISOString() : "";
    lines.push([...[iso, ...fields.map((f) => ev[f]), stages[i]].map(cell), nameCell(names[i])].join(","));
  });
  return lines.join("\r\n") + "\r\n";
}

const address = (a) => (Array.isArray(a) && a.length === 2 && typeof a[1] === "number" ? [String(a[0]), a[1]] : null);
const text = (s) => (typeof s === "string" ? s : null);
const object = (o) => (o && typeof o === "object" && !Array.isArray(o) ? o : null);
const scalar = (v) => (typeof v === "number" || typeof v === "string" ? v : Array.isArray(v) ? address(v) : null);
const number = (fallback) => (v) => (Number.isFinite(v) ? v : fallback);

// What the page relies on of a field's type, for an imported line (a file from anywhere). Every other
// field, one the page does not know too, is text or null.
const CLEAN = {
  seq: number(null), ts: number(0), endpoint: (v) => String(v ?? ""), conn: (v) => (v === null || v === undefined ? null : String(v)),
  proto: (v) => (v === "udp" ? "udp" : "tcp"), local: address, peer: address, size: number(0),
  hex: (v) => (text(v) && /^[0-9a-f ]*$/i.test(v) ? v : null), detail: (v) => text(v) ?? "",
  args: object, result: scalar, params: object, message: number(null), state: object,
};

/** An event from an imported line, with every field of the right type; null when it is not one. */
function clean(raw) {
  if (!raw || typeof raw !== "object" || !Number.isFinite(raw.seq) || typeof raw.kind !== "string") return null;
  return Object.fromEntries(fields.map((f) => [f, (CLEAN[f] ?? text)(raw[f])]));
}

/** Events from JSON Lines (a JSON array is accepted too), sorted by seq, each seq once. */
export function parseRecording(content) {
  const events = [];
  let skipped = 0;
  const trimmed = content.trim();
  const rows = trimmed.startsWith("[") ? (() => {
    try { return JSON.parse(trimmed); } catch { return []; }
  })() : null;
  for (const line of rows ?? trimmed.split(/\r?\n/)) {
    if (rows === null && !line.trim()) continue;
    let ev = null;
    try {
      ev = clean(rows === null ? JSON.parse(line) : line);
    } catch {
      ev = null;
    }
    if (ev) events.push(ev);
    else skipped++;
  }
  events.sort((a, b) => a.seq - b.seq);
  const unique = events.filter((ev, i) => i === 0 || ev.seq !== events[i - 1].seq);
  return { events: unique, skipped: skipped + events.length - unique.length };
}
