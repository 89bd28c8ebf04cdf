// The class at work on an exercise, as data: the exercise (GET /api/exercises, chosen by the stage's
// "exercise"), one row per student (GET /api/exercise/results, then each live `exercise` event
// replaces one student's whole row) and what the board derives from them: students x checks, each
// student's passed count, and the common mistakes (each failed check counted across the class).
// Pure (no DOM, no requests): node --test uses it as it is; views/board.js and views/exercise-card.js draw it.
//
// Why rows are replaced whole and never merged: the checker records a student's row only when it
// changes, and always all of it, so the newest row is the truth and an older one is simply dropped.
// A GET answer may be older than an event that arrived while it was on its way: rows taken from events
// since its ticket are kept (the same rule as the stage's copy, models/stage.js). Events count whether
// live or caught up after a (re)connect: they come in seq order, and an event no newer than the last
// one taken for its student (a catch-up repeating what was seen live) is left out.
import { Emitter } from "../emitter.js";

export const PASS = "pass";
export const FAIL = "fail";
export const PENDING = "pending";
const STATES = new Set([PASS, FAIL, PENDING]);
const MAX_ROWS = 2000; // students one board keeps (a lecture hall, with room to spare)
const MAX_NAME = 80;

/** A sentence with each {name} replaced from `params`; a value it lacks is left as written. */
export function fill(sentence, params) {
  const values = params && typeof params === "object" ? params : {};
  return String(sentence ?? "").replace(/\{(\w+)\}/g, (whole, name) =>
    (Object.hasOwn(values, name) && values[name] !== null && typeof values[name] !== "object" ? String(values[name]) : whole));
}

/** Words ({"en", "zh"}) in `lang`, English when that one is missing. */
export function words(texts, lang) {
  if (!texts || typeof texts !== "object") return typeof texts === "string" ? texts : "";
  return texts[lang] ?? texts.en ?? "";
}

/**
 * The diagnosis that opens a hint, before its first colon ("One recv() for a message sent in pieces"),
 * or the whole hint when it has none: what the common-mistakes panel says in large type.
 */
export function hintHead(hint) {
  const text = String(hint ?? "");
  const at = text.search(/: |：/);
  return at > 0 ? text.slice(0, at) : text;
}

/** A row as the board keeps it, or null when it is not one: {name, address, checks, hints, reasons, passed_at}. */
export function cleanRow(value) {
  if (!value || typeof value !== "object" || typeof value.name !== "string" || !value.name) return null;
  const checks = {};
  for (const [code, state] of Object.entries(value.checks && typeof value.checks === "object" ? value.checks : {})) {
    if (STATES.has(state)) checks[code] = state;
  }
  const reasons = {};
  for (const [code, why] of Object.entries(value.reasons && typeof value.reasons === "object" ? value.reasons : {})) {
    if (why && typeof why === "object") {
      reasons[code] = { reason: typeof why.reason === "string" ? why.reason : null,
        params: why.params && typeof why.params === "object" ? why.params : {} };
    }
  }
  return { name: value.name.slice(0, MAX_NAME), address: typeof value.address === "string" ? value.address : "",
    checks, hints: Array.isArray(value.hints) ? value.hints.filter((h) => typeof h === "string") : [],
    reasons, passed_at: value.passed_at && typeof value.passed_at === "object" ? value.passed_at : {} };
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

export class ExerciseBoard extends Emitter {
  constructor() {
    super();
    this.exercises = new Map(); // key -> summary (GET /api/exercises)
    this.stage = null; // the stage number the rows belong to
    this.key = null; // the exercise running, or null
    this.place = null; // the stage's "exercise": {key, servers, file}
    this.rows = new Map(); // name -> row
    this.order = []; // names, sorted as the board lists them
    this.liveCount = 0;
    this.liveAt = new Map(); // name -> liveCount when its row was last taken from an event
    this.seqOf = new Map(); // name -> seq of the event its row was last taken from
  }

  /** GET /api/exercises. */
  setExercises(list) {
    this.exercises = new Map((Array.isArray(list) ? list : []).filter((e) => e && typeof e.key === "string")
      .map((e) => [e.key, e]));
    this.emit("reset");
  }

  /** The exercise running (its summary), or null: none, or not in the list (yet). */
  get exercise() {
    return this.key === null ? null : this.exercises.get(this.key) ?? null;
  }

  /** The codes of the running exercise's checks, in the registry's order (the board's columns). */
  get checks() {
    return (this.exercise?.checks ?? []).map((c) => c.code);
  }

  /** The stage object (GET /api/stage, `stage` and `classroom` events): a new stage or exercise empties the board. */
  setStage(stage) {
    if (!stage || typeof stage.stage !== "number") return;
    const about = stage.exercise && typeof stage.exercise === "object" && typeof stage.exercise.key === "string"
      ? stage.exercise : null;
    const key = about ? about.key : null;
    const changed = stage.stage !== this.stage || key !== this.key;
    this.place = about;
    if (!changed) return;
    this.stage = stage.stage;
    this.key = key;
    this.rows.clear();
    this.order = [];
    this.liveAt.clear();
    this.seqOf.clear();
    this.emit("reset");
  }

  /** The ticket of a GET /api/exercise/results about to be sent; give it back to setResults(). */
  ticket() {
    return { stage: this.stage, key: this.key, live: this.liveCount };
  }

  /** The answer of GET /api/exercise/results sent with `ticket`; true when taken. */
  setResults(results, ticket) {
    if (!results || results.exercise !== this.key || this.key === null) return false;
    if (ticket && (ticket.stage !== this.stage || ticket.key !== this.key)) return false;
    const students = Array.isArray(results.students) ? results.students : [];
    for (const value of students) {
      const row = cleanRow(value);
      if (!row || (ticket && (this.liveAt.get(row.name) ?? -1) > ticket.live)) continue;
      this.put(row);
    }
    this.emit("reset");
    return true;
  }

  /** Events: each `exercise` event of this stage and exercise replaces its student's row. Returns the names changed. */
  applyEvents(events) {
    const changed = [];
    for (const ev of events) {
      if (ev?.kind !== "exercise") continue;
      const params = ev.params;
      if (!params || params.exercise !== this.key || this.key === null) continue;
      if (typeof params.stage === "number" && params.stage !== this.stage) continue;
      const row = cleanRow(params);
      if (!row) continue;
      if (typeof ev.seq === "number") {
        if (ev.seq <= (this.seqOf.get(row.name) ?? -Infinity)) continue;
        this.seqOf.set(row.name, ev.seq);
      }
      const added = this.put(row);
      if (added === null) continue;
      this.liveCount += 1;
      this.liveAt.set(row.name, this.liveCount);
      changed.push(row.name);
      this.emit("row", row.name, added);
    }
    return changed;
  }

  /** Keep `row`; true when its student is new to the board, null when the board is full. */
  put(row) {
    const added = !this.rows.has(row.name);
    if (added && this.rows.size >= MAX_ROWS) return null;
    this.rows.set(row.name, row);
    if (added) this.order.splice(this.indexFor(row.name), 0, row.name);
    return added;
  }

  /** Where `name` goes in the sorted list (binary search: one insertion per new student). */
  indexFor(name) {
    let low = 0;
    let high = this.order.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (collator.compare(this.order[mid], name) < 0) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  row(name) {
    return this.rows.get(name) ?? null;
  }

  /** A check's state for a student: pass | fail | pending (a check the row lacks is pending). */
  state(name, code) {
    return this.rows.get(name)?.checks[code] ?? PENDING;
  }

  /** How many of the exercise's checks the student passed. */
  passed(name) {
    const row = this.rows.get(name);
    return row ? this.checks.filter((code) => row.checks[code] === PASS).length : 0;
  }

  /**
   * The common mistakes: each check failed by at least one student, with how many failed it and, per
   * reason the lab gave, how many and one student's values (to word it). Most failed first; a tie
   * keeps the registry's order of the checks (and reasons keep the order they were first met in).
   */
  mistakes() {
    const checks = this.checks;
    const found = new Map(checks.map((code) => [code, { code, count: 0, reasons: new Map() }]));
    for (const name of this.order) {
      const row = this.rows.get(name);
      for (const code of checks) {
        if (row.checks[code] !== FAIL) continue;
        const entry = found.get(code);
        entry.count += 1;
        const why = row.reasons[code];
        if (!why?.reason) continue;
        const seen = entry.reasons.get(why.reason);
        if (seen) seen.count += 1;
        else entry.reasons.set(why.reason, { reason: why.reason, count: 1, params: why.params, name });
      }
    }
    const order = new Map(checks.map((code, i) => [code, i]));
    return [...found.values()].filter((e) => e.count > 0)
      .sort((a, b) => b.count - a.count || order.get(a.code) - order.get(b.code))
      .map((e) => ({ ...e, reasons: [...e.reasons.values()].sort((a, b) => b.count - a.count) }));
  }

  /** The words of a check of the running exercise in `lang`: {text, hint, head}. */
  checkWords(code, lang) {
    const check = (this.exercise?.checks ?? []).find((c) => c.code === code);
    const hint = words(check?.hint, lang);
    return { text: words(check?.text, lang) || code, hint, head: hintHead(hint) || code };
  }

  /** What the lab saw when a check failed, in `lang`, its values filled from the row's params; "" when unknown. */
  reasonText(reason, params, lang) {
    const sentence = words(this.exercise?.reasons?.[reason], lang);
    return sentence ? fill(sentence, params) : "";
  }
}
