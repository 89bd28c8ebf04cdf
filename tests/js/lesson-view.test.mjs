// node --test: what a lesson asks of the views (static/js/lesson-view.js): its point's rows, the
// cards that come first, whether its packets are drawn, and which rows a new step brings into view.
import assert from "node:assert/strict";
import { test } from "node:test";
import { anchorRow, packetsIn, pointAfterStep, pointOf, stepOf } from "../../static/js/models/lesson-view.js";

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

test("a step's point is held from the time its action began, once per step", () => {
  const stage = (n, step, last) => ({ stage: n, lesson: { n: 13, step, last, point: lesson13.point } });
  assert.equal(stepOf(stage(4, 1)), "4:1");
  assert.notEqual(stepOf(stage(4, 1)), stepOf(stage(5, 1)));
  assert.equal(pointAfterStep(stage(4, 0)), null); // no button pressed yet: the newest rows
  const held = pointAfterStep(stage(4, 1, { action: "sendBig", at: 105 }));
  assert.deepEqual([...held.kinds], ["send", "packet"]);
  assert.equal(held.after, 105);
  assert.equal(pointAfterStep(stage(4, 1, { action: "sendBig" })).after, 0); // a server that does not say when
  assert.equal(pointAfterStep({ stage: 6, lesson: { step: 1, point: { rows: [] } } }), null);
});
