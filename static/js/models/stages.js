// The classroom's stages as the events tell them: a "stage" event (the registry's divider kind)
// begins a new stage, and every event delivered after it, by seq, belongs to that stage. The cut is
// by delivery order, not by time, so a view fed in order can reset exactly at the divider. Pure (no
// DOM): the log, the diagram's feed and the CSV export all read the same numbering.
import { beginsStage } from "./kinds.js";

/** The stage an event's params name (the stage object of a "stage" event), or null. */
const stageNumber = (ev) => {
  const n = ev.params && typeof ev.params === "object" ? ev.params.stage : null;
  return Number.isInteger(n) && n > 0 ? n : null;
};

export class Stages {
  constructor() {
    this.reset();
  }

  reset() {
    this.cuts = []; // [{seq, n, ev}] one per stage event seen, in delivery order
    this.cutByEvent = new WeakMap(); // event -> how many cuts were seen when it arrived
  }

  /** Take one event, in delivery (seq) order; true when it begins a new stage. */
  note(ev) {
    const begins = beginsStage(ev.kind);
    if (begins) {
      const before = this.cuts.at(-1);
      const n = stageNumber(ev) ?? (before?.n ? before.n + 1 : null);
      this.cuts.push({ seq: ev.seq, n, ev });
    }
    this.cutByEvent.set(ev, this.cuts.length);
    return begins;
  }

  /** How many stage events came before `ev` (its own counts): 0 for the stage the feed began in. */
  cutOf(ev) {
    return this.cutByEvent.get(ev) ?? this.cuts.length;
  }

  /** The stage number after `cut` stage events; the first stage is the one before the first event
   * seen, and with none seen at all it is stage 1 (the dashboard's first). null when unknown. */
  numberAt(cut) {
    if (cut > 0) return this.cuts[cut - 1].n;
    if (!this.cuts.length) return 1;
    return this.cuts[0].n && this.cuts[0].n > 1 ? this.cuts[0].n - 1 : null;
  }

  stageOf(ev) {
    return this.numberAt(this.cutOf(ev));
  }

  /** The event belongs to a stage before the current one. */
  isEarlier(ev) {
    return this.cutOf(ev) < this.cuts.length;
  }

  /** The stage event that began the current stage, or null (still the first one seen). */
  currentBegin() {
    return this.cuts.at(-1)?.ev ?? null;
  }
}

/** The stage number of each event (given oldest first, in seq order): the CSV's "stage" column. */
export function stageNumbers(events) {
  const stages = new Stages();
  for (const ev of events) stages.note(ev);
  return events.map((ev) => stages.stageOf(ev));
}

/** The index of the last stage event in `events` (a batch), or -1 when no stage begins in it. */
export function lastStageIndex(events) {
  for (let i = events.length - 1; i >= 0; i--) if (beginsStage(events[i].kind)) return i;
  return -1;
}

/**
 * Feed `events` (in delivery order) to the classroom's views. At a "stage" event the views of the
 * current stage only start afresh (`newStage()`, or `reset()` when they have none) and get only
 * what follows the last stage event of the batch; a view with `keepsStages` (the log) gets it all.
 * True when a stage began in the batch.
 */
export function feedByStage(views, events) {
  const cut = lastStageIndex(events);
  for (const view of views) {
    if (cut < 0 || view.keepsStages) {
      view.add(events);
    } else {
      if (view.newStage) view.newStage(events.slice(0, cut)); // (what of the ended stage came in this batch)
      else view.reset();
      view.add(events.slice(cut));
    }
  }
  return cut >= 0;
}
