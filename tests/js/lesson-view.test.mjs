// node --test: what a lesson asks of the views (static/js/lesson-view.js): its point's rows, the
// cards that come first, whether its packets are drawn, and which rows a new step brings into view.
import assert from "node:assert/strict";
import { test } from "node:test";
import { StepClock, anchorRow, packetsIn, pointAfterStep, pointOf } from "../../static/js/lesson-view.js";

const lesson13 = { n: 13, step: 1, packets: true, point: { rows: ["send", "packet"], cards: [] } };

test("a lesson's point and packets are read from the registry's fields, and nothing without a lesson", () => {
  assert.deepEqual([...pointOf(lesson13).rows], ["send", "packet"]);
  assert.deepEqual([...pointOf({ point: { rows: ["done", 3], cards: ["download"] } }).cards], ["download"]);
  assert.deepEqual([...pointOf(null).rows], []);
  assert.equal(packetsIn(lesson13), true);
  assert.equal(packetsIn({ n: 7, packets: false }), false);
  assert.equal(packetsIn(null), null); // no lesson: the reader's own choice
  assert.equal(packetsIn({ n: 1 }), null); // an older server without the field
});

test("the anchor is the topmost row of the point made after the previous step", () => {
  const kinds = new Set(["send", "packet"]);
  const rows = [
    { seq: 3, ts: 10, kind: "packet", top: 0 }, // the build's handshake: before the step
    { seq: 5, ts: 21, kind: "send", top: 90 }, // the one send()
    { seq: 9, ts: 20.5, kind: "packet", top: 60 }, // a segment drawn above it (recorded later, happened first)
    { seq: 12, ts: 22, kind: "recv", top: 200 },
  ];
  assert.equal(anchorRow(rows, kinds, 20).seq, 9);
  assert.equal(anchorRow(rows, new Set(["send"]), 20).seq, 5);
  assert.equal(anchorRow(rows, kinds, 30), null); // nothing yet: the newest rows stay in view
});

test("a step is new once; its rows are those after the previous step was last seen", () => {
  const clock = new StepClock();
  const stage = (n, step) => ({ stage: n, lesson: { n: 13, step, point: lesson13.point } });
  assert.deepEqual(clock.see(stage(4, 0), 100), { after: 0 });
  assert.equal(clock.see(stage(4, 0), 105), null); // "ready" after "building": the same step, seen later
  assert.deepEqual(clock.see(stage(4, 1), 110), { after: 105 });
  assert.deepEqual(clock.see(stage(5, 1), 120), { after: 0 }); // a page that comes in mid-lesson
  assert.equal(pointAfterStep(stage(4, 0), 0), null); // no button pressed yet: the newest rows
  assert.deepEqual([...pointAfterStep(stage(4, 1), 105).kinds], ["send", "packet"]);
  assert.equal(pointAfterStep({ stage: 6, lesson: { step: 1, point: { rows: [] } } }, 0), null);
});
