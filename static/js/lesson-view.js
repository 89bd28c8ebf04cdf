// What a lesson asks of the views, read from the lessons registry (lab/lessons.py, carried by the
// stage's lesson): the rows that carry its point, the cards whose chips come first, and whether its
// packets are drawn. Pure: no DOM (tested with node --test); ladder.js, log.js, chips and
// wire-controls.js apply it.

/** {rows: Set of event kinds, cards: Set of card kinds} of a stage's lesson (empty sets without one). */
export function pointOf(lesson) {
  const point = lesson && typeof lesson.point === "object" && lesson.point ? lesson.point : {};
  const list = (value) => new Set(Array.isArray(value) ? value.filter((k) => typeof k === "string") : []);
  return { rows: list(point.rows), cards: list(point.cards) };
}

/** Does the lesson draw its packets? true or false from the registry; null without a lesson (the reader's choice). */
export function packetsIn(lesson) {
  return lesson && typeof lesson.packets === "boolean" ? lesson.packets : null;
}

/**
 * The row to bring to the top of a view after a lesson's button: of `rows` ([{seq, ts, kind, top}],
 * as drawn), the topmost whose kind carries the point and that happened after `after` (the server's
 * time when the page last saw the previous step: a time, not a seq, because captured packets are
 * recorded a little after they happened). null when none has: the newest rows stay in view.
 */
export function anchorRow(rows, kinds, after = 0) {
  let best = null;
  for (const row of rows) {
    if (!(row.ts > after) || !kinds.has(row.kind)) continue;
    if (!best || row.top < best.top || (row.top === best.top && row.seq < best.seq)) best = row;
  }
  return best;
}

/**
 * Which step of which lesson a page is in, and the server's time it last saw it: a new step's point
 * rows are those after the previous step was last seen (its "ready" notice comes after its build's
 * rows). `see(stage, now)` returns {after} when the step is new, else null. Pure.
 */
export class StepClock {
  constructor() {
    this.key = "";
    this.seen = 0;
  }

  see(stage, now) {
    const key = `${stage?.stage}:${stage?.lesson?.step ?? ""}`;
    if (key === this.key) {
      this.seen = now;
      return null;
    }
    const sameStage = this.key.split(":")[0] === String(stage?.stage);
    const after = sameStage ? this.seen : 0; // a page that comes in mid-lesson: the whole stage's rows
    this.key = key;
    this.seen = now;
    return { after };
  }
}

/** The point a view holds after a new step ({kinds, after}), or null (no lesson, step 0, no point rows). */
export function pointAfterStep(stage, after) {
  const lesson = stage?.lesson;
  const kinds = pointOf(lesson).rows;
  return lesson && lesson.step > 0 && kinds.size ? { kinds, after } : null;
}
