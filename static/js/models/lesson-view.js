// What a lesson asks of the views, read from the lessons registry (lab/lessons/registry.py, carried by the
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
 * as drawn), the topmost whose kind carries the point and that happened after `after` (the time the
 * step's action began: a time, not a seq, because captured packets are recorded a little after they
 * happened). null when none has: the newest rows stay in view.
 */
export function anchorRow(rows, kinds, after = 0) {
  let best = null;
  for (const row of rows) {
    if (!(row.ts > after) || !kinds.has(row.kind)) continue;
    if (!best || row.top < best.top || (row.top === best.top && row.seq < best.seq)) best = row;
  }
  return best;
}

/** The step a stage is at ("<stage>:<step>"): a view holds a new step's point once, when this changes. */
export const stepOf = (stage) => `${stage?.stage}:${stage?.lesson?.step ?? ""}`;

/**
 * The point a view holds after a step ({kinds, after}), or null (no lesson, no button pressed yet,
 * no point rows). `after`: the server's time the step's action began (the stage's lesson.last.at),
 * so rows the lesson's build made before it are not taken for it; 0 when the server does not say.
 */
export function pointAfterStep(stage) {
  const lesson = stage?.lesson;
  const kinds = pointOf(lesson).rows;
  if (!lesson || !(lesson.step > 0) || !kinds.size) return null;
  const at = Number(lesson.last?.at);
  // (the server's clock stamps the action and its lab's events alike: the capture's packets too)
  return { kinds, after: Number.isFinite(at) ? at : 0 };
}
