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
import { get } from "./api.js";
import { Emitter } from "./emitter.js";

/** Pure: decides which stage object is the newest. No DOM, no requests (tested with node --test). */
export class StageCopy extends Emitter {
  constructor() {
    super();
    this.stage = null;
    this.liveCount = 0; // live stage events taken so far: a GET answer older than one of them is dropped
  }

  /** The ticket of a GET /api/stage about to be sent; give it back to fromLoad() with the answer. */
  ticket() {
    return this.liveCount;
  }

  /** The answer of GET /api/stage sent with `ticket`; true when it was taken. */
  fromLoad(stage, ticket) {
    if (!isStage(stage)) return false;
    const newer = !this.stage || stage.stage > this.stage.stage;
    if (!newer && (ticket !== this.liveCount || stage.stage < this.stage.stage)) return false;
    this.take(stage, "load");
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
      if (this.stage && ev.params.stage < this.stage.stage) continue;
      // a stage's `stage` event is its first: whatever this page holds of that stage is as new (its POST answer)
      if (ev.kind === "stage" && this.stage?.stage === ev.params.stage) continue;
      this.liveCount += 1;
      this.take(ev.params, ev.kind);
    }
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

const copy = new StageCopy();
let skew = 0; // server clock minus ours, from live events: the compare run settles in server time

/** The newest stage object this page knows (null before the first answer). */
export const current = () => copy.stage;

/** fn(stage, previous, how) whenever the stage object changes; returns a function that unsubscribes. */
export const onStage = (fn) => copy.on("stage", fn);

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
}
