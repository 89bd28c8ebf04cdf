// The page's copy of the classroom stage (GET /api/stage): which stage this is, its lesson, the
// teacher's view and focus. Every page keeps it the same way, controller or viewer, first load or
// late join, so the banner and "follow the teacher" are drawn from one object.
//
// Where a newer stage comes from, and why the order works out: every change on the server emits a
// `stage` or `classroom` event carrying the whole stage object, and live events arrive in seq order,
// so the last live one is the newest. GET /api/stage (at start and after each reconnect, when events
// may have been missed) and the answers to this page's own POSTs fill the gaps; a GET answer is only
// taken when no live stage event arrived while it was on its way (that event is at least as new).
// Events replayed from history (catch-up after a reload) are older than the GET and are not taken.
// A name change is the exception: a `classroom` event with only {stage, part: "name", named:
// [address, name | null]}, applied to the stage held (it says "names", not "stage": the views keep
// their rows). It does not make a GET answer on its way stale; the answer is taken and the changes
// that arrived meanwhile are applied to it again (each sets one address's name, so again is harmless).
import { get } from "../net/api.js";
import { Emitter } from "../emitter.js";

/** Pure: decides which stage object is the newest. No DOM, no requests (tested with node --test). */
export class StageCopy extends Emitter {
  constructor() {
    super();
    this.stage = null;
    this.liveCount = 0; // live stage events taken so far: a GET answer older than one of them is dropped
    this.renames = []; // the latest name changes, [count, change], for a GET answer on its way
    this.renameCount = 0;
  }

  /** The ticket of a GET /api/stage about to be sent; give it back to fromLoad() with the answer. */
  ticket() {
    return { live: this.liveCount, renames: this.renameCount };
  }

  /** The answer of GET /api/stage sent with `ticket`; true when it was taken. */
  fromLoad(stage, ticket) {
    if (!isStage(stage)) return false;
    const newer = !this.stage || stage.stage > this.stage.stage;
    if (!newer && (ticket?.live !== this.liveCount || stage.stage < this.stage.stage)) return false;
    let names = cleanObject(stage.names);
    for (const [count, change] of this.renames) {
      if (count > (ticket?.renames ?? 0) && change.stage === stage.stage) names = withName(names, change.named);
    }
    this.take({ ...stage, names }, "load");
    return true;
  }

  /** The stage in the answer of this page's own POST (a new stage, an action). */
  fromAnswer(stage) {
    if (!isStage(stage) || (this.stage && stage.stage < this.stage.stage)) return false;
    this.take(stage, "answer");
    return true;
  }

  /** A batch of events; only live `stage` and `classroom` events count (see the top of the file). */
  fromEvents(events, live) {
    if (!live) return;
    for (const ev of events) {
      if ((ev.kind !== "stage" && ev.kind !== "classroom") || !isStage(ev.params)) continue;
      if (ev.params.part === "name") { // (never a whole stage, even when it does not hold together)
        if (isRename(ev.params)) this.rename(ev.params);
        continue;
      }
      if (this.stage && ev.params.stage < this.stage.stage) continue;
      // a stage's `stage` event is its first: whatever this page holds of that stage is as new (its POST answer)
      if (ev.kind === "stage" && this.stage?.stage === ev.params.stage) continue;
      this.liveCount += 1;
      this.take(ev.params, ev.kind);
    }
  }

  /** One name change ({stage, part: "name", named: [address, name | null]}), live. */
  rename(change) {
    this.renameCount += 1;
    this.renames.push([this.renameCount, change]);
    if (this.renames.length > MAX_RENAMES) this.renames.splice(0, this.renames.length - MAX_RENAMES);
    if (!this.stage) return; // the GET on its way applies it
    if (change.stage > this.stage.stage) {
      this.emit("behind"); // the event that began that stage was missed (dropped): ask for the stage
      return;
    }
    if (change.stage !== this.stage.stage) return;
    this.stage = { ...this.stage, names: withName(this.stage.names, change.named) };
    this.emit("names", this.stage);
  }

  /** how: "load" | "answer" | "stage" (a new stage began) | "classroom" (the stage changed). */
  take(stage, how) {
    const previous = this.stage;
    this.stage = stage;
    this.emit("stage", stage, previous, how);
  }
}

function isStage(value) {
  return Boolean(value) && typeof value === "object" && typeof value.stage === "number";
}

const MAX_RENAMES = 2000; // name changes kept for a GET answer on its way (the class's limit is 10 a second)

/** A name change: {stage, part: "name", named: [address, name or null]}. */
export function isRename(params) {
  const named = params?.named;
  return params?.part === "name" && Array.isArray(named) && named.length === 2 && typeof named[0] === "string"
    && (named[1] === null || typeof named[1] === "string");
}

const cleanObject = (names) => (names && typeof names === "object" && !Array.isArray(names) ? names : {});

/** `names` (address -> name) with one change applied: [address, name], or [address, null] to clear. */
export function withName(names, [address, name]) {
  const next = { ...cleanObject(names) };
  if (name === null) delete next[address];
  else next[address] = name;
  return next;
}

const copy = new StageCopy();
let skew = 0; // server clock minus ours, from live events: the compare run settles in server time

/** The newest stage object this page knows (null before the first answer). */
export const current = () => copy.stage;

/** fn(stage, previous, how) whenever the stage object changes; returns a function that unsubscribes. */
export const onStage = (fn) => copy.on("stage", fn);

/** fn(stage) when only a name changed (the stage object holds the new names); returns an unsubscribe. */
export const onStageNames = (fn) => copy.on("names", fn);

/** Take the stage from an answer of this page's own request (POST /api/stage, an action). */
export const adopt = (stage) => copy.fromAnswer(stage);

/** The server's clock now, in unix seconds, as estimated from live events. */
export const serverNow = () => Date.now() / 1000 + skew;

/** GET /api/stage; a failure is left to the next reconnect (the banner keeps what it has). */
export async function loadStage() {
  const ticket = copy.ticket();
  copy.fromLoad(await get("/stage"), ticket);
}

/** `onEvents` and `onConnected` come from events.js (passed in, so this module stays importable in node). */
export function initStage({ onEvents, onConnected }) {
  onEvents((events, { live = false } = {}) => {
    if (live && events.length) {
      const sample = events[events.length - 1].ts - Date.now() / 1000;
      if (Number.isFinite(sample) && (sample > skew || skew === 0)) skew = sample;
    }
    copy.fromEvents(events, live);
  });
  onConnected(() => loadStage().catch(() => null));
  copy.on("behind", () => loadStage().catch(() => null));
}
